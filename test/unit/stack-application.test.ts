import { describe, expect, it } from 'vitest';
import { stackFromFlags } from '../../commands/cli';
import { applicationFindings } from '../../commands/stack/check';
import { StackError, parseDeployment, stackOf } from '../../commands/stack/model';
import { plan } from '../../commands/stack/plan';
import { parseXml } from '../../lib/xml';

const etcd = { name: 'etcd', drbd_resource: 'r1', device: '/dev/drbd1', directory: '/var/lib/etcd', fstype: 'ext4' };
const nfs = { name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/srv/nfs', fstype: 'xfs', ip: '192.0.2.10/24', clients: ['192.0.2.0/24'] };
const sites = { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } };
const siteA = (services: object[]) => stackOf(parseDeployment({ sites, services }), 'a');
const lines = (services: object[]) => plan(siteA(services)).map((s) => s.argv.join(' '));

describe('a service that names its application', () => {
  it('a systemd unit: created after the mount, colocated with it and started after it; the ticket binds it through the clone', () => {
    const l = lines([{ ...etcd, application: 'systemd:etcd' }]);
    const create = l.indexOf('pcs resource create etcd-app systemd:etcd op monitor interval=20s timeout=60s start timeout=120s stop timeout=120s');
    expect(create).toBeGreaterThan(l.findIndex((x) => x.startsWith('pcs resource create etcd-fs ')));
    expect(l.indexOf('pcs constraint colocation add etcd-app with etcd-fs INFINITY')).toBeGreaterThan(create);
    expect(l).toContain('pcs constraint order start etcd-fs then start etcd-app');
    expect(l.indexOf('pcs constraint ticket add ticket-etcd Promoted etcd-drbd-clone loss-policy=demote id=etcd-ticket')).toBeGreaterThan(create);
  });

  it('an OCF agent with its parameters, beside an NFS export: placed with the mount, not chained behind the address', () => {
    const l = lines([{ ...nfs, application: { agent: 'ocf:heartbeat:Dummy', options: { state: '/srv/nfs/dummy.state' } } }]);
    expect(l.find((x) => x.startsWith('pcs resource create nfs-app '))).toBe('pcs resource create nfs-app ocf:heartbeat:Dummy state=/srv/nfs/dummy.state op monitor interval=20s timeout=60s start timeout=120s stop timeout=120s');
    expect(l).toContain('pcs constraint order start nfs-fs then start nfs-app');
    expect(l.some((x) => / nfs-app with nfs-(ip|export)| then start nfs-app/.test(x) && !x.includes('nfs-fs'))).toBe(false);
  });

  it('a service without one plans exactly as before', () => {
    const app = lines([{ ...etcd, application: 'systemd:etcd' }]);
    const without = lines([etcd]);
    expect(without.some((x) => x.includes('etcd-app'))).toBe(false);
    expect(app.filter((x) => !x.includes('etcd-app'))).toEqual(without);
    expect(plan(siteA([etcd])).find((s) => s.argv.includes('ticket'))!.why).not.toContain('application');
  });

  it('refuses what Pacemaker would not run as asked', () => {
    const bad: Array<[unknown, RegExp]> = [
      ['etcd', /neither systemd:UNIT nor ocf:PROVIDER:TYPE/],
      ['lsb:etcd', /neither/],
      ['systemd:etcd; rm -rf /', /neither/],
      ['ocf:heartbeat', /neither/],
      [{ agent: 'systemd:etcd', options: { a: 'b' } }, /a systemd application takes no options/],
      [{ agent: 'ocf:heartbeat:pgsql', options: { pgdata: 'a b' } }, /not a plain option/],
      [['systemd:etcd'], /application must be/],
    ];
    for (const [application, msg] of bad) expect(() => siteA([{ ...etcd, application }]), JSON.stringify(application)).toThrow(msg);
    expect(() => siteA([{ ...etcd, application: 'systemd:etcd@member1.service' }])).not.toThrow();
  });

  it('flags: --application and --application-option; an option without an application is refused', () => {
    const f = { name: 'kv', nodes: 'n1,n2', drbdResource: 'r0', device: '/dev/drbd0', directory: '/srv/kv', fstype: 'ext4', ip: '192.0.2.20/24', clients: '192.0.2.0/24', fencing: 'none', fenceOption: [], exportOptions: 'rw' };
    const s = stackFromFlags({ ...f, application: 'ocf:heartbeat:Dummy', applicationOption: ['state=/srv/kv/s'] }, '/nonexistent');
    expect(s.services[0]!.application).toEqual({ agent: 'ocf:heartbeat:Dummy', options: { state: '/srv/kv/s' } });
    expect(stackFromFlags({ ...f, applicationOption: [] }, '/nonexistent').services[0]!.application).toBeUndefined();
    expect(() => stackFromFlags({ ...f, applicationOption: ['a=b'] }, '/nonexistent')).toThrow(StackError);
  });

  it('check: the application missing, another agent, not placed with the mount or not after it', () => {
    const stack = siteA([{ ...etcd, application: 'systemd:etcd' }]);
    const good = `<cib><resources><primitive id="etcd-app" class="systemd" type="etcd"/></resources><constraints>
      <rsc_colocation id="c" rsc="etcd-app" with-rsc="etcd-fs" score="INFINITY"/><rsc_order id="o" first="etcd-fs" first-action="start" then="etcd-app" then-action="start"/></constraints></cib>`;
    expect(applicationFindings(parseXml(good), stack)).toEqual([]);
    const texts = (xml: string) => applicationFindings(parseXml(xml), stack).map((f) => `${f.level}: ${f.text}`);
    expect(texts('<cib/>')).toEqual([
      'error: etcd-app (systemd:etcd) is not in the CIB: the application does not run with etcd\'s data (apply the plan)',
      'error: etcd-app is not colocated with etcd-fs (INFINITY): it may run where /var/lib/etcd is not mounted',
      "error: etcd-app is not ordered after etcd-fs: Pacemaker may unmount under it, and fs-mount's stop then kills it as a holder of /var/lib/etcd",
    ]);
    expect(texts(good.replace('class="systemd" type="etcd"', 'class="ocf" provider="heartbeat" type="Dummy"'))).toEqual(['error: etcd-app runs ocf:heartbeat:Dummy, the configuration says systemd:etcd']);
    expect(texts(good.replace('then-action="start"', 'then-action="start" symmetrical="false"'))[0]).toContain('not ordered after etcd-fs');
    expect(applicationFindings(parseXml('<cib/>'), siteA([etcd]))).toEqual([]);
  });
});
