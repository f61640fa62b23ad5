import { describe, expect, it } from 'vitest';
import { siteDrbdFindings } from '../../commands/stack/check';
import { StackError, parseDeployment, parseStack, stackOf } from '../../commands/stack/model';
import { plan } from '../../commands/stack/plan';

const etcd = { name: 'etcd', drbd_resource: 'r1', device: '/dev/drbd1', directory: '/var/lib/etcd', fstype: 'ext4' };
const nfs = { name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/srv/nfs', fstype: 'xfs', ip: '192.0.2.10/24', clients: ['192.0.2.0/24'] };
const sites = { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } };

describe('stack model with sites', () => {
  it('a one-cluster configuration parses as before and has no site', () => {
    const s = parseStack({ nodes: ['n1', 'n2'], fencing: 'none', services: [nfs] });
    expect(s.site).toBeUndefined();
    expect(s.services[0]!.nfs?.ip).toBe('192.0.2.10');
    expect(plan(s).some((st) => st.argv.includes('ticket'))).toBe(false);
    expect(plan(s).find((st) => st.argv.includes('ocf:ocfkit:drbd-promote'))!.argv).toContain('clone-max=2');
  });

  it('a service without ip and clients is DRBD and the mount only', () => {
    const s = stackOf(parseDeployment({ sites, services: [etcd] }), 'a');
    const argv = plan(s).map((st) => st.argv.join(' '));
    expect(argv.some((a) => a.includes('nfs-export') || a.includes('ocf:ocfkit:vip'))).toBe(false);
    expect(argv).toContain('pcs constraint colocation add etcd-fs with Promoted etcd-drbd-clone INFINITY');
    expect(argv).toContain('pcs constraint ticket add ticket-etcd Promoted etcd-drbd-clone loss-policy=demote id=etcd-ticket');
    expect(argv.find((a) => a.includes('drbd-promote'))).toContain('clone-max=1');
  });

  it('each site gets its own nodes and fencing, the same services and tickets', () => {
    const d = parseDeployment({ sites: { ...sites, b: { nodes: ['node2', 'node3'], fencing: { agent: 'fence_dummy', options: { type: 'file' } } } }, services: [etcd, { ...nfs, ticket: 'nfs-t' }] });
    const b = stackOf(d, 'b');
    expect(b.nodes).toEqual(['node2', 'node3']);
    expect(b.fencing?.agent).toBe('fence_dummy');
    expect(b.site?.name).toBe('b');
    expect(b.services.map((s) => s.ticket)).toEqual(['ticket-etcd', 'nfs-t']);
    expect(plan(b).map((s) => s.argv.join(' '))).toContain('pcs stonith create fence-node3 fence_dummy type=file pcmk_host_list=node3');
  });

  const bad: Array<[string, object, RegExp]> = [
    ['three sites', { sites: { ...sites, c: { nodes: ['n9'], fencing: 'none' } }, services: [etcd] }, /exactly two sites/],
    ['a node in both', { sites: { a: { nodes: ['n1'], fencing: 'none' }, b: { nodes: ['n1'], fencing: 'none' } }, services: [etcd] }, /node n1 is in both sites/],
    ['top-level nodes with sites', { nodes: ['n1', 'n2'], sites, services: [etcd] }, /nodes and fencing belong to each site/],
    ['a site without nodes', { sites: { a: { nodes: [] }, b: { nodes: ['n2'] } }, services: [etcd] }, /sites\.a: nodes must name/],
    ['a hostile ticket', { sites, services: [{ ...etcd, ticket: 't;reboot' }] }, /ticket .* is not valid/],
    ['a shared ticket', { sites, services: [{ ...etcd, ticket: 't' }, { ...nfs, ticket: 't' }] }, /two services share ticket t/],
    ['ip without clients', { sites, services: [{ ...etcd, ip: '192.0.2.9/24' }] }, /clients must list at least one/],
    ['clients without ip', { sites, services: [{ ...etcd, clients: ['192.0.2.0/24'] }] }, /ip is required/],
    ['two NFS services (one node runs one NFS server)', { sites, services: [nfs, { ...nfs, name: 'nfs2', drbd_resource: 'r2', device: '/dev/drbd2', directory: '/srv/nfs2', ip: '192.0.2.11/24' }] }, /services nfs, nfs2 each export over NFS: a node runs one kernel NFS server/],
    ['booth without sites', { nodes: ['n1', 'n2'], fencing: 'none', services: [etcd], booth: {} }, /booth needs sites/],
    ['booth missing a site address', { sites, services: [etcd], booth: { sites: { a: '192.0.2.1' }, arbitrator: '192.0.2.3' } }, /booth\.sites\.b undefined is not an address/],
    ['booth sharing an address', { sites, services: [etcd], booth: { sites: { a: '192.0.2.1', b: '192.0.2.1' }, arbitrator: '192.0.2.3' } }, /one address each/],
  ];
  it.each(bad.map(([what, raw, why]) => ({ what, raw, why })))('refuses $what', ({ raw, why }) => {
    expect(() => stackOf(parseDeployment(raw), 'a')).toThrow(StackError);
    expect(() => stackOf(parseDeployment(raw), 'a')).toThrow(why);
  });

  it('two NFS services are refused in a one-cluster stack too, one NFS service beside others is not', () => {
    const nfs2 = { ...nfs, name: 'nfs2', drbd_resource: 'r2', device: '/dev/drbd2', directory: '/srv/nfs2', ip: '192.0.2.11/24' };
    expect(() => parseStack({ nodes: ['n1', 'n2'], fencing: 'none', services: [nfs, nfs2] })).toThrow(/each export over NFS.*Export their directories from one service/);
    expect(parseStack({ nodes: ['n1', 'n2'], fencing: 'none', services: [etcd, nfs] }).services).toHaveLength(2);
  });

  it('--site is required with sites and refused without', () => {
    expect(() => stackOf(parseDeployment({ sites, services: [etcd] }))).toThrow('name one with --site a|b');
    expect(() => stackOf(parseDeployment({ nodes: ['n1', 'n2'], fencing: 'none', services: [etcd] }), 'a')).toThrow('has no sites');
  });
});

describe('check: DRBD settings that make a takeover across sites unsafe', () => {
  const dump = (net: string, options = '') => `resource r0 {\n    on node1 {\n        node-id 1;\n    }\n${options}    net {\n${net}    }\n}\n`;
  it('crm-fence-peer as the fence-peer handler', () => {
    const f = siteDrbdFindings('r0', `${dump('        fencing resource-and-stonith;\n', '    options {\n        auto-promote no;\n    }\n')}    handlers {\n        fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh";\n    }\n`);
    expect(f.map((x) => x.text)).toEqual([expect.stringContaining('the fence-peer handler is crm-fence-peer')]);
  });
  it('auto-promote yes, or unset on DRBD 9 (its default is yes)', () => {
    expect(siteDrbdFindings('r0', dump('', '    options {\n        auto-promote yes;\n    }\n'))[0]!.text).toContain('auto-promote yes');
    expect(siteDrbdFindings('r0', dump(''))[0]!.text).toContain('DRBD 9 defaults it to yes');
    expect(siteDrbdFindings('r0', dump('', '    options {\n        auto-promote no;\n    }\n'))).toEqual([]);
  });
  it('the captured DRBD 9 dump (no auto-promote set) is warned about', () => {
    const text = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', 'samples', 'drbd9', 's01-secondary-connected-node1-drbdadm-dump.txt'), 'utf8') as string;
    expect(siteDrbdFindings('r0', text).map((x) => x.text)).toEqual([expect.stringContaining('auto-promote is not set')]);
  });
});
