import { describe, expect, it } from 'vitest';
import { forPcs, pcsVersionOf } from '../../commands/stack/pcs-version';
import { parseStack } from '../../commands/stack/model';
import { plan } from '../../commands/stack/plan';

const stack = parseStack({
  nodes: ['node1', 'node2'],
  fencing: { agent: 'fence_ipmilan', options: { lanplus: '1' } },
  services: [{ name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/srv/nfs', fstype: 'xfs', ip: '192.0.2.10/24', nic: 'eth0', clients: ['192.0.2.0/24'] }],
});
const lines = (v: '0.10' | '0.11') => forPcs(plan(stack), v).map((s) => s.argv.join(' '));

describe('pcs versions', () => {
  it('reads what pcs --version prints, and refuses pcs 0.9', () => {
    expect(pcsVersionOf('0.10.18\n')).toBe('0.10');
    expect(pcsVersionOf('0.11.5')).toBe('0.11');
    expect(pcsVersionOf('0.12.0')).toBe('0.11');
    expect(() => pcsVersionOf('0.9.169')).toThrow(/older than 0\.10.*pcs resource master/);
    expect(() => pcsVersionOf('banana')).toThrow(/not a pcs version/);
  });

  it('0.11 is the plan as written', () => {
    expect(lines('0.11')).toEqual(plan(stack).map((s) => s.argv.join(' ')));
  });

  // The pcs 0.10 forms of RHEL 8's "Configuring and managing high availability clusters"
  // (Pacemaker 2.0 roles Master/Slave; colocation `with master`; `resource defaults name=value`).
  it('0.10 uses the role names, clone options and defaults syntax that pcs 0.10 documents', () => {
    const l = lines('0.10');
    expect(l).toContain(
      'pcs resource create nfs-drbd ocf:ocfkit:drbd-promote drbd_resource=r0 op monitor interval=10s role=Master op monitor interval=20s role=Slave promotable master-max=1 master-node-max=1 clone-max=2 clone-node-max=1 notify=true',
    );
    expect(l).toContain('pcs constraint colocation add nfs-fs with master nfs-drbd-clone INFINITY');
    expect(l).toContain('pcs constraint order promote nfs-drbd-clone then start nfs-fs');
    expect(l).toContain('pcs resource defaults resource-stickiness=100');
    expect(l.join('\n')).not.toMatch(/Promoted|Unpromoted|promoted-|defaults update/);
    // Everything else is the same command.
    expect(l.length).toBe(lines('0.11').length);
    expect(l.filter((x) => !lines('0.11').includes(x))).toHaveLength(3);
  });
});
