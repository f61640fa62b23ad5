import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireSandbox, sh } from './netns';
import { appliedPlan } from './plans';

requireSandbox();
const bin = join(__dirname, '..', '..', 'dist', 'ocfkit');
const work = mkdtempSync(join(tmpdir(), 'ocfkit-site-'));
const ocfkit = (...args: string[]) => sh([bin, ...args]);

const deployment = {
  sites: {
    a: { nodes: ['node1'], fencing: 'none' },
    b: { nodes: ['node2', 'node3'], fencing: { agent: 'fence_dummy', options: { type: 'file' } } },
  },
  services: [
    { name: 'etcd', drbd_resource: 'r1', device: '/dev/drbd1', directory: '/var/lib/etcd', fstype: 'ext4' },
    { name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/srv/nfs', fstype: 'xfs', ip: '192.0.2.10/24', clients: ['192.0.2.0/24'] },
  ],
};
const cfg = join(work, 'sites.json');
/** The <rsc_ticket …/> element with this id (pcs writes its attributes in no fixed order). */
function ticketElement(xml: string, id: string): string {
  const el = xml.match(/<rsc_ticket\b[^>]*\/>/g)?.find((e) => e.includes(` id="${id}"`));
  if (!el) throw new Error(`no rsc_ticket ${id}`);
  return el;
}
writeFileSync(cfg, JSON.stringify(deployment));

describe('ocfkit stack --site', () => {
  it('a sites configuration without --site on a host in no site: says to name one; --site on a one-cluster one is refused', () => {
    const r = ocfkit('stack', 'plan', '--config', cfg);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/this host \(.*\) is in no site's nodes: say which site with --site a\|b/);
    const single = join(work, 'single.json');
    writeFileSync(single, JSON.stringify({ nodes: ['n1', 'n2'], fencing: 'none', services: [deployment.services[1]] }));
    expect(ocfkit('stack', 'plan', '--config', single, '--site', 'a').stderr).toContain('--site a: this configuration has no sites');
    expect(ocfkit('stack', 'plan', '--config', cfg, '--site', 'c').stderr).toContain('--site c: not one of a, b');
  });

  for (const site of ['a', 'b'] as const) {
    it(`site ${site}: pcs -f builds a CIB crm_verify accepts; without the tickets nothing is promoted, granting starts each stack in order, revoking demotes`, () => {
      const cib = join(work, `site-${site}.xml`);
      const a = appliedPlan(bin, ['--config', cfg, '--site', site], cib);
      expect(a.status, a.stderr).toBe(0);
      expect(sh(['crm_verify', '-x', cib]).status).toBe(0);
      const xml = readFileSync(cib, 'utf8');
      for (const svc of ['etcd', 'nfs']) {
        const el = ticketElement(xml, `${svc}-ticket`);
        for (const a of [`rsc="${svc}-drbd-clone"`, 'rsc-role="Promoted"', `ticket="ticket-${svc}"`, 'loss-policy="demote"']) expect(el).toContain(a);
      }
      expect(xml).not.toContain('etcd-export');
      const c = ocfkit('stack', 'check', '--config', cfg, '--site', site, '--cib', cib);
      expect(c.status, c.stdout + c.stderr).toBe(0);
      const s = ocfkit('stack', 'simulate', '--config', cfg, '--site', site, '--cib', cib);
      expect(s.status, s.stdout + s.stderr).toBe(0);
      const node = site === 'a' ? 'node1' : 'node2';
      const [idle, granted, revoked] = s.stdout.split(/^OK {3}/m).slice(1);
      expect(idle).toMatch(/^start without ticket-etcd, ticket-nfs$/m);
      expect(idle).not.toMatch(/^\s+(promote \S+|start \S+-fs) on/m);
      expect(idle).toMatch(/^\s+nfs-drbd Unpromoted on /m);
      expect(granted).toMatch(/^ticket-etcd, ticket-nfs granted to site /m);
      const order = [`promote nfs-drbd on ${node}`, `start nfs-fs on ${node}`, `start nfs-export on ${node}`, `start nfs-ip on ${node}`].map((l) => granted!.indexOf(l));
      expect(order.every((i) => i >= 0)).toBe(true);
      expect([...order].sort((x, y) => x - y)).toEqual(order);
      expect(granted!.indexOf(`promote etcd-drbd on ${node}`)).toBeLessThan(granted!.indexOf(`start etcd-fs on ${node}`));
      const stops = ['stop nfs-ip', 'stop nfs-export', 'stop nfs-fs', 'demote nfs-drbd'].map((l) => revoked!.indexOf(l));
      expect(stops.every((i) => i >= 0)).toBe(true);
      expect([...stops].sort((x, y) => x - y)).toEqual(stops);
      // The plan through pcs and every simulated scenario: past 120 s beside two labs.
    }, 600_000);
  }

  it('check: a ticket constraint without loss-policy, on every role, or missing, is reported', () => {
    const cib = join(work, 'site-edit.xml');
    expect(appliedPlan(bin, ['--config', cfg, '--site', 'a'], cib).status).toBe(0);
    let xml = readFileSync(cib, 'utf8');
    const nfs = ticketElement(xml, 'nfs-ticket');
    xml = xml.replace(nfs, nfs.replace(' loss-policy="demote"', '').replace(' rsc-role="Promoted"', ''));
    xml = xml.replace(ticketElement(xml, 'etcd-ticket'), '');
    writeFileSync(cib, xml);
    const c = ocfkit('stack', 'check', '--config', cfg, '--site', 'a', '--cib', cib);
    expect(c.status).toBe(1);
    expect(c.stdout).toContain('ERROR: etcd-drbd-clone is not bound to ticket ticket-etcd');
    expect(c.stdout).toContain('WARNING: ticket constraint nfs-ticket has no loss-policy');
    expect(c.stdout).toContain('WARNING: ticket constraint nfs-ticket binds every role of nfs-drbd-clone');
  });

  it('manual mode to booth is one apply: --dry-run shows the booth group and changes nothing; the apply creates it and nothing else; again, nothing', () => {
    const cib = join(work, 'site-to-booth.xml');
    expect(appliedPlan(bin, ['--config', cfg, '--site', 'a'], cib).status).toBe(0);
    const manual = readFileSync(cib, 'utf8');
    const boothCfg = join(work, 'sites-booth.json');
    writeFileSync(boothCfg, JSON.stringify({ ...deployment, booth: { sites: { a: '192.0.2.11', b: '198.51.100.11' }, arbitrator: '203.0.113.5', expire: 600 } }));
    const changes = (out: string) => out.split('\n').filter((l) => /^(create|change) /.test(l));
    // The dry run's plan CIB (its pcs steps, a Python start each) serves the apply after it; again
    // builds its own, so a plan pcs builds differently each time still shows.
    const planCache = ['env', `OCFKIT_TEST_PLAN_CACHE=${mkdtempSync(join(tmpdir(), 'ocfkit-plan-cache-'))}`, bin];
    const dry = sh([...planCache, 'stack', 'apply', '--config', boothCfg, '--site', 'a', '--cib', cib, '--dry-run']);
    expect(dry.status, dry.stdout + dry.stderr).toBe(0);
    expect(changes(dry.stdout)).toEqual(['create resource booth']);
    expect(readFileSync(cib, 'utf8')).toBe(manual);
    const a = sh([...planCache, 'stack', 'apply', '--config', boothCfg, '--site', 'a', '--cib', cib]);
    expect(a.status, a.stdout + a.stderr).toBe(0);
    expect(changes(a.stdout)).toEqual(['create resource booth']);
    const xml = readFileSync(cib, 'utf8');
    // The group's own meta attributes (apply's record) come before its members, as the schema has them.
    expect(xml).toMatch(/<group id="booth">\s*(?:<meta_attributes [\s\S]*?<\/meta_attributes>\s*)?<primitive id="booth-ip"[\s\S]*<primitive id="booth-site"[\s\S]*<\/group>/);
    expect(xml).toMatch(/<primitive id="booth-site" class="ocf" [^>]*type="booth-site"/);
    expect(sh(['crm_verify', '-x', cib]).status).toBe(0);
    const again = ocfkit('stack', 'apply', '--config', boothCfg, '--site', 'a', '--cib', cib);
    expect(changes(again.stdout)).toEqual([]);
    expect(again.stdout).toContain('unchanged:');
    expect(readFileSync(cib, 'utf8')).toBe(xml);
    // Two plans through pcs (a Python start per step) on a loaded machine.
  }, 900_000);
});

describe('a service that names its application (a real OCF agent: ocf:heartbeat:Dummy)', () => {
  const kv = { name: 'kv', drbd_resource: 'r2', device: '/dev/drbd2', directory: '/var/lib/kv', fstype: 'ext4', application: { agent: 'ocf:heartbeat:Dummy', options: { fake: 'kv' } } };
  const appCfg = join(work, 'app.json');
  writeFileSync(appCfg, JSON.stringify({ sites: deployment.sites, services: [kv] }));

  it('site b: granting starts it after the mount, revoking stops it before the unmount; check and simulate pass, check misses it when gone', () => {
    const cib = join(work, 'app-b.xml');
    const a = appliedPlan(bin, ['--config', appCfg, '--site', 'b'], cib);
    expect(a.status, a.stderr).toBe(0);
    expect(sh(['crm_verify', '-x', cib]).status).toBe(0);
    const xml = readFileSync(cib, 'utf8');
    expect(xml).toMatch(/<primitive [^>]*id="kv-app"/);
    expect(xml).toMatch(/<nvpair [^>]*name="fake" value="kv"/);
    const c = ocfkit('stack', 'check', '--config', appCfg, '--site', 'b', '--cib', cib);
    expect(c.status, c.stdout + c.stderr).toBe(0);
    const s = ocfkit('stack', 'simulate', '--config', appCfg, '--site', 'b', '--cib', cib);
    expect(s.status, s.stdout + s.stderr).toBe(0);
    const [idle, granted, revoked] = s.stdout.split(/^OK {3}/m).slice(1);
    expect(idle).not.toMatch(/start kv-app/);
    const starts = ['promote kv-drbd on node2', 'start kv-fs on node2', 'start kv-app on node2'].map((l) => granted!.indexOf(l));
    expect(starts.every((i) => i >= 0), granted).toBe(true);
    expect([...starts].sort((x, y) => x - y)).toEqual(starts);
    const stops = ['stop kv-app', 'stop kv-fs', 'demote kv-drbd'].map((l) => revoked!.indexOf(l));
    expect(stops.every((i) => i >= 0), revoked).toBe(true);
    expect([...stops].sort((x, y) => x - y)).toEqual(stops);
    // The application's constraints gone: check says what that costs.
    const edited = join(work, 'app-b-edited.xml');
    writeFileSync(edited, xml.replace(/<rsc_order [^>]*then="kv-app"[^>]*\/>/, ''));
    const e = ocfkit('stack', 'check', '--config', appCfg, '--site', 'b', '--cib', edited);
    expect(e.status).toBe(1);
    expect(e.stdout).toContain("ERROR: kv-app is not ordered after kv-fs: Pacemaker may unmount under it, and fs-mount's stop then kills it as a holder of /var/lib/kv");
  }, 600_000);

  it('one cluster: a node failure moves the application with the mount', () => {
    const one = join(work, 'app-one.json');
    writeFileSync(one, JSON.stringify({ nodes: ['n1', 'n2'], fencing: 'none', services: [kv] }));
    const cib = join(work, 'app-one.xml');
    const a = appliedPlan(bin, ['--config', one], cib);
    expect(a.status, a.stderr).toBe(0);
    const s = ocfkit('stack', 'simulate', '--config', one, '--cib', cib);
    const failover = s.stdout.split(/^(?:OK {2}|FAIL) /m).find((x) => x.startsWith('node failure'))!;
    expect(failover).toMatch(/start kv-fs on n2[\s\S]*start kv-app on n2/);
    expect(s.stdout).not.toMatch(/kv-app runs on/);
  }, 600_000);
});
