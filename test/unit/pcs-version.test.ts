import { describe, expect, it } from 'vitest';
import { forPcs, pcsReleaseOf, pcsVersionOf } from '../../commands/stack/pcs-version';
import { parseDeployment, parseStack, stackOf } from '../../commands/stack/model';
import { plan } from '../../commands/stack/plan';

const stack = parseStack({
  nodes: ['node1', 'node2'],
  fencing: { agent: 'fence_ipmilan', options: { lanplus: '1' } },
  services: [{ name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/srv/nfs', fstype: 'xfs', ip: '192.0.2.10/24', nic: 'eth0', clients: ['192.0.2.0/24'] }],
});
const lines = (v: '0.10' | '0.11' | '0.12', patch?: number) => forPcs(plan(stack), v, patch).map((s) => s.argv.join(' '));

describe('pcs versions', () => {
  it('reads what pcs --version prints, and refuses pcs 0.9', () => {
    expect(pcsVersionOf('0.10.18\n')).toBe('0.10');
    expect(pcsVersionOf('0.11.5')).toBe('0.11');
    expect(pcsVersionOf('0.12.0.2')).toBe('0.12');
    expect(pcsReleaseOf('0.10.8')).toEqual({ version: '0.10', patch: 8 });
    expect(pcsReleaseOf('0.10')).toEqual({ version: '0.10' });
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
    expect(l).toContain('pcs resource defaults update resource-stickiness=100');
    expect(l.join('\n')).not.toMatch(/Promoted|Unpromoted|promoted-/);
    // Before 0.10.7 there is no `defaults update`.
    expect(lines('0.10', 6)).toContain('pcs resource defaults resource-stickiness=100');
    expect(lines('0.10', 8)).toContain('pcs resource defaults update resource-stickiness=100');
    // Everything else is the same command.
    expect(l.length).toBe(lines('0.11').length);
    expect(l.filter((x) => !lines('0.11').includes(x))).toHaveLength(2);
  });

  it('0.12: promotable meta attributes after meta, scores as score=, group for --group (the forms without deprecation warnings)', () => {
    const l = lines('0.12');
    expect(l).toContain(
      'pcs resource create nfs-drbd ocf:ocfkit:drbd-promote drbd_resource=r0 op monitor interval=10s role=Promoted op monitor interval=20s role=Unpromoted promotable meta promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true --future',
    );
    expect(l).toContain('pcs constraint colocation add nfs-fs with Promoted nfs-drbd-clone score=INFINITY');
    expect(l.join('\n')).not.toMatch(/ INFINITY$/m);
    const booth = forPcs([{ why: '', argv: ['pcs', 'resource', 'create', 'booth-ip', 'ocf:ocfkit:vip', 'ip=192.0.2.5', 'op', 'monitor', 'interval=10s', '--group', 'booth'] }], '0.12');
    expect(booth[0]!.argv.join(' ')).toBe('pcs resource create booth-ip ocf:ocfkit:vip ip=192.0.2.5 op monitor interval=10s group booth --future');
  });

  it('the ticket constraint names the role Master for pcs 0.10, which checks it against Pacemaker 2.0', () => {
    const site = stackOf(parseDeployment({
      sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } },
      services: [{ name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/srv/nfs', fstype: 'xfs' }],
    }), 'a');
    const t = (v: '0.10' | '0.11' | '0.12') => forPcs(plan(site), v).map((s) => s.argv.join(' ')).find((x) => x.includes('ticket add'));
    expect(t('0.10')).toBe('pcs constraint ticket add ticket-nfs Master nfs-drbd-clone loss-policy=demote id=nfs-ticket');
    expect(t('0.11')).toBe('pcs constraint ticket add ticket-nfs Promoted nfs-drbd-clone loss-policy=demote id=nfs-ticket');
  });
});
