import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireSandbox, sh } from './netns';
import { appliedPlan } from './plans';
import { canonical } from '../../commands/stack/converge';
import { type XmlElement, findAll, parseXml } from '../../lib/xml';

requireSandbox();
const bin = join(__dirname, '..', '..', 'dist', 'ocfkit');
const work = mkdtempSync(join(tmpdir(), 'ocfkit-stack-'));
const ocfkit = (...args: string[]) => sh([bin, ...args]);

const service = (name: string, n: number) => ({
  name,
  drbd_resource: `r${n}`,
  device: `/dev/drbd${n}`,
  directory: `/srv/${name}`,
  fstype: 'xfs',
  ip: `192.0.2.${100 + n}/24`,
  nic: 'eth0',
  clients: ['192.0.2.0/24', 'fd00::/64'],
  nfs_shared_infodir: `/srv/${name}/.nfs-state`,
  nfsv4_lease_time: 10 + n,
});
function config(name: string, stack: object): string {
  const f = join(work, `${name}.json`);
  writeFileSync(f, JSON.stringify(stack));
  return f;
}
const fenced = { agent: 'fence_dummy', options: { type: 'file' } };

const apply = (args: string[], cib: string) => appliedPlan(bin, args, cib);

describe('ocfkit stack plan', () => {
  it('from flags: every resource, both orders and colocations, with reasons', () => {
    const r = ocfkit('stack', 'plan', '--nodes', 'node1,node2', '--drbd-resource', 'r0', '--device', '/dev/drbd0', '--directory', '/srv/nfs', '--fstype', 'xfs', '--ip', '192.0.2.10/24', '--nic', 'eth0', '--clients', '192.0.2.0/24 [fd00::]/64', '--fencing', 'fence_dummy', '--fence-option', 'type=file');
    expect(r.status, r.stderr).toBe(0);
    const cmds = r.stdout.split('\n').filter((l) => l.startsWith('pcs '));
    expect(cmds).toContain('pcs stonith create fence-node1 fence_dummy type=file pcmk_host_list=node1');
    expect(cmds).toContain('pcs property set stonith-enabled=true');
    expect(cmds.find((c) => c.includes('ocf:ocfkit:drbd-promote'))).toContain('promotable promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true');
    expect(cmds).toContain("pcs resource create nfs-export ocf:ocfkit:nfs-export directory=/srv/nfs 'clientspec=192.0.2.0/24 [fd00::]/64' options=rw,sync,no_subtree_check nfs_shared_infodir=/srv/nfs/.nfs-state nfs_server_scope=192.0.2.10 nfs_ip=192.0.2.10 op monitor interval=10s");
    expect(cmds.slice(-6)).toEqual([
      'pcs constraint colocation add nfs-fs with Promoted nfs-drbd-clone INFINITY',
      'pcs constraint order promote nfs-drbd-clone then start nfs-fs',
      'pcs constraint colocation add nfs-export with nfs-fs INFINITY',
      'pcs constraint order start nfs-fs then start nfs-export',
      'pcs constraint colocation add nfs-ip with nfs-export INFINITY',
      'pcs constraint order start nfs-export then start nfs-ip',
    ]);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('# ')).length).toBeGreaterThanOrEqual(cmds.length);
  });

  const base = ['--nodes', 'node1,node2', '--drbd-resource', 'r0', '--device', '/dev/drbd0', '--directory', '/srv/nfs', '--fstype', 'xfs', '--ip', '192.0.2.10/24', '--clients', '192.0.2.0/24', '--fencing', 'none'];
  const hostile: Array<[string, string, RegExp]> = [
    ['--nodes', 'node1', /nodes must name the two cluster nodes/],
    ['--nodes', 'node1,node1', /nodes must name the two cluster nodes/],
    ['--nodes', 'a;reboot,b', /nodes must name/],
    ['--name', 'NFS service', /name .* is not valid/],
    ['--drbd-resource', 'r0 $(id)', /drbd_resource .* is not valid/],
    ['--device', '/dev/drbd0;reboot', /device .* is not valid/],
    ['--device', 'drbd0', /device .* is not valid/],
    ['--directory', 'srv/nfs', /directory .* is not valid/],
    ['--directory', '/srv/nfs`id`', /directory .* is not valid/],
    ['--fstype', 'ntfs', /fstype ntfs is not one of/],
    ['--ip', '192.0.2.10', /give the prefix length/],
    ['--ip', '192.0.2.300/24', /is not an address/],
    ['--ip', '192.0.2.10/40', /give the prefix length/],
    ['--nic', 'eth0;reboot', /nic .* is not valid/],
    ['--clients', '192.0.2.0/24;reboot', /is not a client spec/],
    ['--clients', '', /clients must list at least one/],
    ['--export-options', 'rw, sync', /export_options .* is not valid/],
    ['--fsid', 'mine', /fsid .* is not valid/],
    ['--infodir', '../state', /nfs_shared_infodir .* is not valid/],
    ['--nfsv4-lease-time', '5', /nfsv4_lease_time "5" is not 10 to 3600 seconds/],
    ['--nfsv4-lease-time', '10;reboot', /nfsv4_lease_time .* is not 10 to 3600 seconds/],
    ['--fencing', 'reboot-it', /fencing: agent .* is not valid/],
  ];
  it.each(hostile.map(([flag, value, why]) => ({ flag, value, why })))('$flag $value → refused', ({ flag, value, why }) => {
    const args = [...base];
    const i = args.indexOf(flag);
    if (i >= 0) args[i + 1] = value;
    else args.push(flag, value);
    const r = ocfkit('stack', 'plan', ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(r.stdout).toBe('');
  });

  it('a config file: malformed JSON, duplicates and unknown nodes are refused', () => {
    writeFileSync(join(work, 'broken.json'), '{ nodes: ');
    expect(ocfkit('stack', 'plan', '--config', join(work, 'broken.json')).stderr).toMatch(/broken\.json: .*JSON/);
    const dup = config('dup', { nodes: ['a', 'b'], fencing: 'none', services: [service('one', 0), { ...service('two', 1), device: '/dev/drbd0' }] });
    expect(ocfkit('stack', 'plan', '--config', dup).stderr).toContain('two services share device /dev/drbd0');
    const badNode = config('badnode', { nodes: ['a', 'b'], fencing: { ...fenced, per_node: { c: { port: '1' } } }, services: [service('one', 0)] });
    expect(ocfkit('stack', 'plan', '--config', badNode).stderr).toContain('fencing.per_node: c is not one of the nodes');
  });
});

describe('ocfkit stack apply, check, simulate', () => {
  it('two services with fencing: pcs -f builds a CIB that crm_verify and every validate-all accept; every scenario ends on the survivor, in order', () => {
    // One NFS service: two would share a node's one kernel NFS server (refused, below).
    const { ip: _ip, clients: _clients, nfs_shared_infodir: _info, nfsv4_lease_time: _lease, nic: _nic, ...plain } = service('etcd2', 2);
    const cfg = config('fenced', { nodes: ['node1', 'node2'], fencing: fenced, services: [service('etcd1', 1), plain] });
    const cib = join(work, 'fenced.xml');
    const a = apply(['--config', cfg], cib);
    expect(a.status, a.stderr).toBe(0);
    expect(sh(['crm_verify', '-x', cib]).status).toBe(0);
    expect(readFileSync(cib, 'utf8')).toMatch(/name="nfsv4_grace_time" value="90"/);
    const c = ocfkit('stack', 'check', '--config', cfg, '--cib', cib);
    expect(c.status, c.stdout + c.stderr).toBe(0);
    expect(c.stdout).toContain('checked: clean');
    const s = ocfkit('stack', 'simulate', '--config', cfg, '--cib', cib);
    expect(s.status, s.stdout + s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^OK {3}node failure$/m);
    expect(s.stdout).toMatch(/^OK {3}replication link loss$/m);
    const failover = s.stdout.split(/^OK {3}node failure$/m)[1]!.split(/^OK/m)[0]!;
    expect(failover).toContain('fence node1');
    for (const [svc, nfs] of [['etcd1', true], ['etcd2', false]] as const) {
      const order = [`promote ${svc}-drbd on node2`, `start ${svc}-fs on node2`, ...(nfs ? [`start ${svc}-export on node2`, `start ${svc}-ip on node2`] : [])].map((l) => failover.indexOf(l));
      expect(order.every((i) => i > failover.indexOf('fence node1'))).toBe(true);
      expect([...order].sort((x, y) => x - y)).toEqual(order);
    }
    // Two services' plans through pcs (a Python start per step) and every simulated scenario: 109 s
    // beside two labs, over 120 s on a slower run, the apply alone over 120 s in a fresh clone's CI.
  }, 600_000);

  it('without fencing: check warns, simulate fails the link-loss case as a split brain', () => {
    const cfg = config('unfenced', { nodes: ['node1', 'node2'], fencing: 'none', services: [service('nfs', 0)] });
    const cib = join(work, 'unfenced.xml');
    expect(apply(['--config', cfg], cib).status).toBe(0);
    const c = ocfkit('stack', 'check', '--config', cfg, '--cib', cib);
    expect(c.status).toBe(0);
    expect(c.stdout).toContain('WARNING: no fencing');
    const s = ocfkit('stack', 'simulate', '--config', cfg, '--cib', cib);
    expect(s.status).toBe(1);
    expect(s.stdout).toMatch(/^FAIL replication link loss$/m);
    expect(s.stdout).toContain('split brain');
  });

  it('two NFS services: plan refuses them; check reports two nfs-exports that can meet on one node, and not once a -INFINITY colocation keeps them apart', () => {
    const two = config('two-nfs', { nodes: ['node1', 'node2'], fencing: 'none', services: [service('nfs', 0), service('nfs2', 3)] });
    const p = ocfkit('stack', 'plan', '--config', two);
    expect(p.status).not.toBe(0);
    expect(p.stderr).toContain('services nfs, nfs2 each export over NFS: a node runs one kernel NFS server');
    const cfg = config('one-nfs', { nodes: ['node1', 'node2'], fencing: 'none', services: [service('nfs', 0)] });
    const cib = join(work, 'two-nfs.xml');
    expect(apply(['--config', cfg], cib).status).toBe(0);
    const pcs = (...a: string[]) => sh(['pcs', '-f', cib, ...a]);
    const made = pcs('resource', 'create', 'other-export', 'ocf:ocfkit:nfs-export', `directory=${work}`, 'clientspec=192.0.2.0/24', `nfs_shared_infodir=${work}/.nfs-state`);
    expect(made.status, made.stderr).toBe(0);
    const c = ocfkit('stack', 'check', '--config', cfg, '--cib', cib);
    expect(c.status).toBe(1);
    expect(c.stdout).toContain('services nfs-export, other-export each export over NFS');
    expect(pcs('constraint', 'colocation', 'add', 'other-export', 'with', 'nfs-export', '-INFINITY').status).toBe(0);
    expect(ocfkit('stack', 'check', '--config', cfg, '--cib', cib).stdout).not.toContain('each export over NFS');
  }, 600_000);

  it('check reports a resource whose parameters its agent refuses', () => {
    const cfg = config('edit', { nodes: ['node1', 'node2'], fencing: 'none', services: [service('nfs', 0)] });
    const cib = join(work, 'edit.xml');
    expect(apply(['--config', cfg], cib).status).toBe(0);
    writeFileSync(cib, readFileSync(cib, 'utf8').replace('name="ip" value="192.0.2.100"', 'name="ip" value="192.0.2.999"'));
    const c = ocfkit('stack', 'check', '--config', cfg, '--cib', cib);
    expect(c.status).toBe(1);
    expect(c.stdout).toContain('nfs-ip: validate-all failed: parameter ip &quot;192.0.2.999&quot;'.replace(/&quot;/g, '"'));
  });
});

describe('ocfkit stack apply --live', () => {
  it("on a real one-node cluster: only the difference, in one change; again changes nothing; one flag changes one object; a racing change is read again; --dry-run and the operator's objects untouched", () => {
    const solo = join(__dirname, '..', '..', 'scripts', 'cluster', 'solo.sh');
    const state = mkdtempSync(join(tmpdir(), 'ocfkit-apply-live-'));
    const env = { ...process.env, SOLO_NS: 'ocfkit-apply', SOLO_NODE: 'solo' };
    const inNode = (argv: string[], extra: Record<string, string> = {}) => spawnSync('bash', [solo, 'exec', state, ...argv], { encoding: 'utf8', env: { ...env, ...extra }, timeout: 300_000 });
    /** The live CIB's configuration, parsed, and its version. */
    const live = () => {
      const q = inNode(['cibadmin', '--query']);
      expect(q.status, q.stderr).toBe(0);
      const cib = parseXml(q.stdout);
      return { conf: cib.children.find((c) => c.name === 'configuration')!, epoch: `${cib.attrs.admin_epoch}:${cib.attrs.epoch}` };
    };
    /** Each top-level object of the configuration by section and id, as canonical text. */
    const objects = (conf: XmlElement) => new Map(conf.children.flatMap((sec) => sec.children.map((o) => [`${sec.name}/${o.attrs.id}`, canonical(o)] as const)));
    const changed = (a: XmlElement, b: XmlElement) => {
      const [x, y] = [objects(a), objects(b)];
      return [...new Set([...x.keys(), ...y.keys()])].filter((k) => x.get(k) !== y.get(k)).sort();
    };
    const changeLines = (out: string) => out.split('\n').filter((l) => /^(create|change) /.test(l));
    const up = spawnSync('bash', [solo, 'up', state], { encoding: 'utf8', env, timeout: 120_000 });
    try {
      expect(up.status, `${up.stdout}${up.stderr}`).toBe(0);
      // The operator's own resource and a property Pacemaker's tools set: never the plan's.
      expect(inNode(['cibadmin', '--create', '--scope', 'resources', '--xml-text', '<primitive id="operators-own" class="ocf" provider="pacemaker" type="Dummy"/>']).status).toBe(0);
      expect(inNode(['crm_attribute', '--type', 'crm_config', '--name', 'last-lrm-refresh', '--update', '1765100000']).status).toBe(0);
      // The cluster's second node need not exist for its configuration: 'ghost' is only named.
      const flags = ['--nodes', 'solo,ghost', '--drbd-resource', 'r0', '--device', '/dev/drbd0', '--directory', '/srv/nfs', '--fstype', 'ext4', '--ip', '192.0.2.60/24', '--nic', 'svc0', '--clients', '192.0.2.0/24', '--fencing', 'none'];
      const steps = ocfkit('stack', 'plan', ...flags).stdout.split('\n').filter((l) => l.startsWith('pcs ')).length;

      // The dry run's plan CIB (its pcs steps, a Python start each) serves the apply and the apply
      // again, which are about the live cluster; the one-flag apply builds its own. A plan pcs builds
      // differently each time shows in site-stack.test.ts, whose apply again builds afresh.
      const planCache = { OCFKIT_TEST_PLAN_CACHE: mkdtempSync(join(tmpdir(), 'ocfkit-plan-cache-')) };
      const before = live();
      const dry = inNode([bin, 'stack', 'apply', '--live', '--dry-run', ...flags], planCache);
      expect(dry.status, `${dry.stdout}${dry.stderr}`).toBe(0);
      expect(dry.stdout.match(/^ok {3}/gm)?.length).toBe(steps);
      expect(changeLines(dry.stdout)).toContain('create resource nfs-ip');
      expect(dry.stdout).toMatch(/^dry run: nothing applied/m);
      const afterDry = live();
      expect(afterDry.epoch).toBe(before.epoch);
      expect(changed(before.conf, afterDry.conf)).toEqual([]);

      // Between apply's reading and its push, another change to the configuration (epoch moves):
      // the versioned patch is refused, apply reads again and pushes the difference to the new CIB.
      const race = ['crm_attribute', '--type', 'crm_config', '--name', 'ocfkit-test-race', '--update', '1'];
      const a = inNode([bin, 'stack', 'apply', '--live', ...flags], { OCFKIT_TEST_BEFORE_PUSH: JSON.stringify(race), ...planCache });
      expect(a.status, `${a.stdout}${a.stderr}`).toBe(0);
      expect(a.stdout.match(/^ok {3}/gm)?.length).toBe(steps);
      expect(a.stdout).toMatch(/^the cluster's CIB changed since it was read .*computing the difference again \(2 of 5\)$/m);
      expect(a.stdout).toMatch(/^applied: \d+ change\(s\) pushed to the cluster in one change/m);
      const first = live();
      const made = changed(afterDry.conf, first.conf);
      for (const id of ['resources/nfs-drbd-clone', 'resources/nfs-fs', 'resources/nfs-export', 'resources/nfs-ip']) expect(made).toContain(id);
      expect(first.conf.children.find((c) => c.name === 'constraints')!.children.filter((c) => /^rsc_(order|colocation)$/.test(c.name))).toHaveLength(6);
      const props = findAll(first.conf, 'nvpair').map((n) => `${n.attrs.name}=${n.attrs.value}`);
      for (const p of ['ocfkit-test-race=1', 'last-lrm-refresh=1765100000', 'stonith-enabled=false', 'no-quorum-policy=stop', 'resource-stickiness=100']) expect(props).toContain(p);
      expect(objects(first.conf).get('resources/operators-own')).toBe(objects(before.conf).get('resources/operators-own'));

      // Again: nothing to change, nothing pushed (the configuration's epoch stays).
      const again = inNode([bin, 'stack', 'apply', '--live', ...flags], planCache);
      expect(again.status, `${again.stdout}${again.stderr}`).toBe(0);
      expect(changeLines(again.stdout)).toEqual([]);
      expect(again.stdout).toMatch(/^unchanged: the cluster's CIB already holds the plan \(\d+ objects as planned\)$/m);
      const second = live();
      expect(second.epoch).toBe(first.epoch);
      expect(changed(first.conf, second.conf)).toEqual([]);

      // One flag: only the object it sets.
      const xfs = flags.map((f) => (f === 'ext4' ? 'xfs' : f));
      const one = inNode([bin, 'stack', 'apply', '--live', ...xfs]);
      expect(one.status, `${one.stdout}${one.stderr}`).toBe(0);
      // The cluster may still be acting on the first apply (its status moves): a push refused for
      // that is computed again, and each difference computed is this one object.
      expect([...new Set(changeLines(one.stdout))]).toEqual(['change resource nfs-fs']);
      expect(one.stdout).toContain('~ fstype=xfs (was ext4)');
      const third = live();
      expect(changed(second.conf, third.conf)).toEqual(['resources/nfs-fs']);
      expect(objects(third.conf).get('resources/nfs-fs')).toContain('value="xfs"');
    } finally {
      const down = spawnSync('bash', [solo, 'down', state], { encoding: 'utf8', env, timeout: 120_000 });
      expect(down.status, `${down.stdout}${down.stderr}`).toBe(0);
    }
    // Two plans through pcs (a Python start per step) on a loaded machine.
  }, 900_000);
});

describe('ocfkit stack from the fewest flags', () => {
  const minimal = ['--nodes', 'node1,node2', '--drbd-resource', 'r0', '--device', '/dev/drbd0', '--directory', '/srv/nfs', '--fstype', 'xfs', '--ip', '192.0.2.10/24', '--clients', '192.0.2.0/24', '--fencing', 'fence_dummy', '--fence-option', 'type=file'];

  it('plan keeps the NFS client state on the replicated filesystem and says so; apply, then check: clean', () => {
    const p = ocfkit('stack', 'plan', ...minimal);
    expect(p.status, p.stderr).toBe(0);
    const exp = p.stdout.split('\n').find((l) => l.startsWith('pcs resource create nfs-export'))!;
    expect(exp).toContain(' nfs_shared_infodir=/srv/nfs/.nfs-state ');
    const why = p.stdout.split('\n')[p.stdout.split('\n').indexOf(exp) - 1]!;
    expect(why).toMatch(/^# .*the clients' state in \/srv\/nfs\/\.nfs-state \(by default: on the replicated filesystem/);
    const cib = join(work, 'minimal.xml');
    const a = apply([...minimal], cib);
    expect(a.status, a.stderr).toBe(0);
    expect(readFileSync(cib, 'utf8')).toMatch(/name="nfs_shared_infodir" value="\/srv\/nfs\/\.nfs-state"/);
    const c = ocfkit('stack', 'check', ...minimal, '--cib', cib);
    expect(c.status, c.stdout + c.stderr).toBe(0);
    expect(c.stdout).toBe('checked: clean\n');
  });

  it('check fails an nfs-export whose server keeps its state on the node, unless manage_server=false', () => {
    const cib = join(work, 'local-state.xml');
    expect(apply([...minimal], cib).status).toBe(0);
    const withState = readFileSync(cib, 'utf8');
    const nvpair = /<nvpair [^>]*name="nfs_shared_infodir"[^>]*\/>/.exec(withState)![0];
    writeFileSync(cib, withState.replace(nvpair, ''));
    const c = ocfkit('stack', 'check', ...minimal, '--cib', cib);
    expect(c.status).toBe(1);
    expect(c.stdout).toMatch(/^ERROR: nfs-export: no nfs_shared_infodir: .* every failover loses their locks and opens/m);
    writeFileSync(cib, withState.replace(nvpair, nvpair.replace(/nfs_shared_infodir/g, 'manage_server').replace(/value="[^"]*"/, 'value="false"')));
    const m = ocfkit('stack', 'check', ...minimal, '--cib', cib);
    expect(m.status, m.stdout).toBe(0);
  });

  it('check --drbdconf on DRBD 9 and 8.4: auto-promote, handlers of the wrong generation, two-node quorum', () => {
    const cib = join(work, 'drbdconf.xml');
    expect(apply([...minimal], cib).status).toBe(0);
    const standin = join(__dirname, '..', 'standins', 'proc-drbd-standin');
    const samples = join(__dirname, '..', 'samples');
    const check = (version: '9' | '8.4', res: string) => {
      const f = join(work, `drbd-${version}-${Math.random().toString(36).slice(2)}.conf`);
      const ids = version === '9' ? ['node-id 1; ', 'node-id 0; '] : ['', ''];
      writeFileSync(f, `resource r0 {\n  device /dev/drbd0 minor 0;\n  disk /dev/vda;\n  meta-disk internal;\n${res}  on ${hostname()} { ${ids[0]}address 192.0.2.1:7789; }\n  on peer { ${ids[1]}address 192.0.2.2:7789; }\n}\n`);
      const proc = join(samples, version === '9' ? 'drbd9/s01-secondary-connected-node1-proc-drbd.txt' : 'drbd/lab-84-connected-secondary.txt');
      return sh([standin, proc, bin, 'stack', 'check', ...minimal, '--cib', cib, '--drbdconf', f]);
    };
    const fenced9 = '  net { fencing resource-and-stonith; }\n  handlers { fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh"; unfence-peer "/usr/lib/drbd/crm-unfence-peer.9.sh"; }\n';
    const plain = check('9', fenced9);
    expect(plain.status, plain.stdout + plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^WARNING: DRBD r0 has auto-promote yes \(the DRBD 9 default\): .*set options \{ auto-promote no; \}/m);
    const clean = check('9', `  options { auto-promote no; }\n${fenced9}`);
    expect(clean.stdout).toBe('checked: clean\n');
    const quorum = check('9', '  options { auto-promote no; quorum majority; }\n');
    expect(quorum.status).toBe(0);
    expect(quorum.stdout).toMatch(/^WARNING: DRBD r0 has quorum majority with two nodes: .*neither serves; add a third node, a diskless tie-breaker/m);
    const old = check('9', `  options { auto-promote no; }\n${fenced9.replace('crm-fence-peer.9.sh', 'crm-fence-peer.sh')}`);
    expect(old.status).toBe(1);
    expect(old.stdout).toContain('ERROR: DRBD r0: handler fence-peer runs crm-fence-peer.sh, which is for DRBD 8.4; the loaded module is DRBD 9: use crm-fence-peer.9.sh');
    const fenced84 = '  disk { fencing resource-and-stonith; }\n  handlers { fence-peer "/usr/lib/drbd/crm-fence-peer.sh"; after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh"; }\n';
    expect(check('8.4', fenced84).stdout).toBe('checked: clean\n');
    const nine = check('8.4', fenced84.replace('crm-fence-peer.sh', 'crm-fence-peer.9.sh'));
    expect(nine.status).toBe(1);
    expect(nine.stdout).toContain('which is for DRBD 9; the loaded module is DRBD 8.4: use crm-fence-peer.sh');
  });
});

describe('ocfkit doctor', () => {
  it("reads a cluster's state from XML: placement, promotion scores, failed actions with their codes", () => {
    const cfg = config('doctor', { nodes: ['node1', 'node2'], fencing: 'none', services: [service('nfs', 0)] });
    const cib = join(work, 'doctor.xml');
    expect(apply(['--config', cfg], cib).status).toBe(0);
    const env = (f: string) => ['env', `CIB_file=${f}`];
    for (const [i, n] of ['node1', 'node2'].entries()) sh([...env(cib), 'cibadmin', '-C', '-o', 'nodes', '-X', `<node id="${i + 1}" uname="${n}"/>`]);
    const up = join(work, 'doctor-up.xml');
    expect(sh(['crm_simulate', '-x', cib, '-S', '--quorum=true', '--node-up', 'node1', '--node-up', 'node2', '-O', up]).status).toBe(0);
    sh([...env(up), 'crm_attribute', '-N', 'node1', '-l', 'reboot', '-n', 'master-nfs-drbd', '-v', '10000']);
    const steady = join(work, 'doctor-steady.xml');
    expect(sh(['crm_simulate', '-x', up, '-S', '-O', steady]).status).toBe(0);
    const failed = join(work, 'doctor-failed.xml');
    expect(sh(['crm_simulate', '-x', steady, '-i', 'nfs-ip_monitor_10000@node1=1', '-O', failed]).status).toBe(0);
    const r = sh([...env(failed), 'crm_mon', '-1']);
    expect(r.status).toBe(0);
    const d = sh([...env(failed), bin, 'doctor']);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toContain('cluster: node1 online, node2 online');
    expect(d.stdout).toMatch(/nfs-drbd \(ocf:ocfkit:drbd-promote\): Promoted on node1/);
    expect(d.stdout).toContain('promotion score nfs-drbd on node1: 10000');
    expect(d.stdout).toMatch(/FAILED nfs-ip_monitor_10000 on node1: .* \(rc 1\)/);
    // The tests run in a mount namespace of their own, all of it private.
    expect(d.stdout).toMatch(/mount point \/srv\/nfs \(nfs-fs\): WARNING: the mount below it, \/\S*, is not shared/);
  });

  it('on DRBD 9 (stand-ins: /proc/drbd and drbdsetup from the captured samples, the real drbdadm): the state and the auto-promote warning', () => {
    const standins = join(__dirname, '..', 'standins');
    const dir = mkdtempSync(join(tmpdir(), 'ocfkit-doctor-drbd-'));
    mkdirSync(join(dir, 'bin'));
    symlinkSync(join(standins, 'drbdsetup-standin'), join(dir, 'bin', 'drbdsetup'));
    copyFileSync(join(__dirname, '..', 'samples', 'drbd9', 's05-link-down-primary-node1-events2-now.txt'), join(dir, 'events2-now.txt'));
    const conf = join(dir, 'drbd.conf');
    writeFileSync(conf, `resource r0 {\n  device /dev/drbd0 minor 0;\n  disk /dev/vda;\n  meta-disk internal;\n  on ${hostname()} { node-id 1; address ipv4 192.0.2.1:7789; }\n  on peer { node-id 0; address ipv4 192.0.2.2:7789; }\n}\n`);
    const proc = join(__dirname, '..', 'samples', 'drbd9', 's01-secondary-connected-node1-proc-drbd.txt');
    // doctor reads /etc/drbd.conf: the test's configuration is bound over it, inside the stand-in's namespace.
    const d = sh([join(standins, 'proc-drbd-standin'), proc, 'env', `PATH=${dir}/bin:/usr/sbin:/usr/bin:/sbin:/bin`, `DRBD_STANDIN_DIR=${dir}`, 'CIB_file=/nonexistent',
      'bash', '-c', 'mount --bind "$1" /etc/drbd.conf && shift && exec "$@"', 'bind', conf, bin, 'doctor']);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toContain('drbd r0: Primary, disk UpToDate; node2 Connecting Unknown, peer disk DUnknown');
    expect(d.stdout).toMatch(/^ {2}WARNING: DRBD r0 has auto-promote yes \(the DRBD 9 default\): .*options \{ auto-promote no; \}/m);
  });
});
