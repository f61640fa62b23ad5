/**
 * The Pacemaker and pcs of other Debian releases, their real programs: Debian 11 (Pacemaker 2.0.5,
 * pcs 0.10.8) and Debian 13 (Pacemaker 3.0, pcs 0.12), in roots debootstrap builds once per
 * machine (scripts/package/floor-root.sh, cached in /var/cache/ocfkit-test). The built executable
 * runs in them: every `stack plan/apply` step through that root's pcs (no error, no deprecation
 * warning), of one cluster with fencing (the root's fence_dummy) and of site b in manual and site a in
 * booth ticket mode (the root's booth-site); crm_verify, `stack check` and `stack simulate` on the
 * applied CIB, `site status` and `doctor` on CIB files; and drbd-promote's cluster calls (promotion
 * score write, read, removal; where the clone is promoted) through that root's crm_attribute and crm_mon,
 * against CIB files and against a live one-node cluster (that root's corosync and pacemakerd).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PromotionScores, promotedOn, promotionScoreCalls } from '../../lib/cluster';
import type { RunResult, Runner } from '../../lib/run';
import { requireSandbox } from './netns';

requireSandbox();
const top = join(__dirname, '..', '..');
const bin = join(top, 'dist', 'ocfkit');
const work = mkdtempSync(join(tmpdir(), 'ocfkit-pcmk-versions-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const single = ['--nodes', 'node1,node2', '--drbd-resource', 'r0', '--device', '/dev/drbd0', '--directory', '/srv/nfs', '--fstype', 'xfs', '--ip', '192.0.2.10/24', '--nic', 'eth0', '--clients', '192.0.2.0/24', '--fencing', 'fence_dummy'];
// Site b has two nodes and fences them; site a has one.
const sites = {
  sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2', 'node3'], fencing: { agent: 'fence_dummy' } } },
  services: [
    { name: 'etcd', drbd_resource: 'r1', device: '/dev/drbd1', directory: '/var/lib/etcd', fstype: 'ext4' },
    { name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/srv/nfs', fstype: 'xfs', ip: '192.0.2.10/24', clients: ['192.0.2.0/24'] },
  ],
};
const boothSites = { ...sites, booth: { sites: { a: '192.0.2.11', b: '198.51.100.11' }, arbitrator: '203.0.113.5' } };

interface Root {
  readonly suite: 'bullseye' | 'trixie';
  readonly debian: RegExp;
  readonly pacemaker: RegExp;
  readonly pcs: RegExp;
  readonly pcsSyntax: string;
  /** The promoted role as this Pacemaker names it in crm_mon and the CIB. */
  readonly promoted: string;
}

const ROOTS: readonly Root[] = [
  { suite: 'bullseye', debian: /^11\./, pacemaker: /^Pacemaker 2\.0\./, pcs: /^0\.10\./, pcsSyntax: '0.10', promoted: 'Master' },
  { suite: 'trixie', debian: /^13\./, pacemaker: /^Pacemaker 3\.0\./, pcs: /^0\.12\./, pcsSyntax: '0.12', promoted: 'Promoted' },
];

/**
 * Runs argv in a throwaway overlay over the cached root (a private mount namespace each call; the
 * overlay's upper layer, and so every file written under /tmp, stays between calls), with the
 * built executable as /usr/lib/ocfkit/ocfkit, the agents linked to it, and a clean environment.
 */
function rootRunner(cached: string, layer: string) {
  for (const d of ['up', 'work', 'merged']) mkdirSync(join(layer, d), { recursive: true });
  const script = [
    'set -e',
    'c=$1 l=$2; shift 2',
    'mount -t overlay overlay -o "lowerdir=$c,upperdir=$l/up,workdir=$l/work" "$l/merged"',
    'm=$l/merged',
    'mount -t proc proc "$m/proc" && mount --rbind /dev "$m/dev"',
    // The links stay in the upper layer: made by the first call only (a process each, and the
    // roots take a hundred calls).
    '[ -L "$m/usr/sbin/ocfkit" ] || {',
    '  mkdir -p "$m/usr/lib/ocfkit" "$m/usr/lib/ocf/resource.d/ocfkit" && touch "$m/usr/lib/ocfkit/ocfkit"',
    '  for a in vip fs-mount drbd-promote nfs-export; do ln -sfn ../../../ocfkit/ocfkit "$m/usr/lib/ocf/resource.d/ocfkit/$a"; done',
    '  ln -sfn ../lib/ocfkit/ocfkit "$m/usr/sbin/ocfkit"',
    '}',
    `mount --bind ${bin} "$m/usr/lib/ocfkit/ocfkit"`,
    'exec chroot "$m" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"',
  ].join('\n');
  return (argv: readonly string[], env: Record<string, string> = {}, timeoutMs = 180_000) => {
    const r = spawnSync('unshare', ['--mount', '--net', '--propagation', 'private', 'bash', '-c', script, 'root', cached, layer, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv], {
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
  };
}

type InRoot = ReturnType<typeof rootRunner>;

/**
 * A one-node cluster (node1 on 127.0.0.1, knet) of the root's own corosync and pacemakerd, in an
 * overlay of its own and private PID, mount, network and UTS namespaces: killing the namespace's
 * first process ends every daemon in it, and its mounts go with it.
 */
function liveCluster(cached: string, layer: string) {
  for (const d of ['up', 'work', 'merged']) mkdirSync(join(layer, d), { recursive: true });
  const m = join(layer, 'merged');
  const conf = 'totem {\n version: 2\n cluster_name: solo\n transport: knet\n crypto_cipher: none\n crypto_hash: none\n}\nlogging {\n to_logfile: yes\n logfile: /var/log/corosync/corosync.log\n to_syslog: no\n}\nquorum {\n provider: corosync_votequorum\n}\nnodelist {\n node {\n  ring0_addr: 127.0.0.1\n  name: node1\n  nodeid: 1\n }\n}\n';
  const script = [
    'set -e',
    'c=$1 l=$2 m=$2/merged',
    'mount -t overlay overlay -o "lowerdir=$c,upperdir=$l/up,workdir=$l/work" "$m"',
    'mount -t proc proc "$m/proc" && mount --rbind /dev "$m/dev"',
    'mount -t tmpfs -o mode=1777 shm "$m/dev/shm" && mount -t tmpfs tmpfs "$m/run"',
    'ip link set lo up && hostname node1',
    'touch "$l/ready"',
    'exec sleep 900',
  ].join('\n');
  // Into the upper layer before the overlay is mounted (the merged tree is the namespaces' own).
  mkdirSync(join(layer, 'up/etc/corosync'), { recursive: true });
  writeFileSync(join(layer, 'up/etc/corosync/corosync.conf'), conf);
  const holder = spawn('unshare', ['--pid', '--fork', '--mount', '--net', '--uts', '--propagation', 'private', 'bash', '-c', script, 'live', cached, layer], { stdio: 'ignore' });
  /** The namespaces' first process, as the host numbers it. */
  const first = () => readFileSync(`/proc/${holder.pid}/task/${holder.pid}/children`, 'utf8').trim().split(/\s+/)[0] ?? '';
  const inNode = (argv: readonly string[], env: Record<string, string> = {}, timeoutMs = 60_000) => {
    const r = spawnSync('nsenter', ['-t', first(), '-p', '-m', '-n', '-u', 'chroot', m, 'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv], { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
  };
  const start = async () => {
    for (let i = 0; i < 300 && !existsSync(join(layer, 'ready')); i++) await new Promise((res) => setTimeout(res, 100));
    expect(existsSync(join(layer, 'ready')), 'the namespaces are set up').toBe(true);
    // A CIB of this Pacemaker's own schema (cibadmin --empty) seeded with dc-deadtime=2s, as
    // scripts/cluster/solo.sh does: a node alone otherwise waits the default 20 s for peers before
    // it elects itself DC, idle on the tests' critical path.
    const seed = 'cibadmin --empty | sed \'s#<crm_config/>#<crm_config><cluster_property_set id="cib-bootstrap-options"><nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="2s"/></cluster_property_set></crm_config>#\' >/tmp/seed-cib.xml && grep -q dc-deadtime /tmp/seed-cib.xml && install -d -o hacluster -g haclient -m 750 /var/lib/pacemaker/cib && install -o hacluster -g haclient -m 600 /tmp/seed-cib.xml /var/lib/pacemaker/cib/cib.xml';
    const up = inNode(['bash', '-c', `${seed} && mkdir -p /var/log/corosync /var/log/pacemaker /run/crm && chown hacluster:haclient /var/log/pacemaker && corosync </dev/null >/var/log/corosync/corosync.stdout 2>&1 && for i in $(seq 1 100); do corosync-cfgtool -s >/dev/null 2>&1 && break; sleep 0.2; done; (setsid pacemakerd </dev/null >/var/log/pacemaker/pacemakerd.out 2>&1 &)`]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  };
  const stop = () => {
    try {
      const p = first();
      if (p) process.kill(Number(p), 'SIGKILL');
    } catch {
      // The namespaces ended already.
    }
    holder.kill('SIGKILL');
  };
  return { inNode, start, stop };
}

/** lib/run's Runner over inRoot, for the agents' own cluster calls (their argv, their parsing). */
function libRunner(inRoot: InRoot, env: Record<string, string>): Runner {
  return async (argv, o) => {
    const t0 = performance.now();
    const r = inRoot(argv, { ...env, ...(o?.env as Record<string, string> | undefined) }, o?.timeoutMs ?? 60_000);
    return { argv: [...argv], code: r.code, signal: null, stdout: r.stdout, stderr: r.stderr, durationMs: performance.now() - t0, timedOut: false, abandoned: false } as RunResult;
  };
}

describe.each(ROOTS)('$suite: its own Pacemaker and pcs', (root) => {
  let inRoot: InRoot;
  let upper: string;
  /** A file in the root's /tmp, as the host sees it. */
  const host = (f: string) => join(upper, f);

  it('the root is there (debootstrap once per machine), with the versions it is for', () => {
    const t0 = performance.now();
    const made = spawnSync('bash', [join(top, 'scripts/package/floor-root.sh'), root.suite], { encoding: 'utf8', timeout: 1_500_000 });
    expect(made.status, made.stderr).toBe(0);
    const cached = made.stdout.trim();
    console.log(`pacemaker-versions: ${root.suite} root ready in ${((performance.now() - t0) / 1000).toFixed(1)} s${made.stderr ? ` (${made.stderr.trim()})` : ' (cached)'}`);
    expect(readFileSync(join(cached, 'etc/debian_version'), 'utf8')).toMatch(root.debian);
    const layer = mkdtempSync(join(work, `${root.suite}-`));
    upper = join(layer, 'up');
    inRoot = rootRunner(cached, layer);
    expect(inRoot(['crm_attribute', '--version']).stdout).toMatch(root.pacemaker);
    expect(inRoot(['pcs', '--version']).stdout.trim()).toMatch(root.pcs);
    const ld = inRoot(['ocfkit', '--version']);
    expect(ld.code, ld.stderr).toBe(0);
    // What the fencing and booth plans name, which pcs reads the meta-data of: a root cached before
    // they were added gets them too.
    for (const agent of [['fence_dummy', '-o', 'metadata'], ['env', 'OCF_ROOT=/usr/lib/ocf', '/usr/lib/ocf/resource.d/pacemaker/booth-site', 'meta-data']]) {
      const md = inRoot(agent);
      expect(md.code, md.stderr).toBe(0);
      expect(md.stdout).toContain('<resource-agent');
    }
  }, 1_560_000);

  /** `stack apply` into /tmp/NAME.xml, and what pcs said; every step must pass without a deprecation. */
  function applied(name: string, args: string[]) {
    const plan = inRoot(['ocfkit', 'stack', 'plan', ...args]);
    expect(plan.code, plan.stderr).toBe(0);
    // The plan for the pcs found on the node, without being told.
    expect(plan.stdout.split('\n')[1]).toBe(`# For pcs ${root.pcsSyntax} (pcs --version on this node).`);
    const r = inRoot(['ocfkit', 'stack', 'apply', ...args, '--cib', `/tmp/${name}.xml`], {}, 600_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // pcs 0.12 words a warning about behaviour to come without "deprecated", and runs the agent's
    // validate-all (booth-site's wants the booth.conf).
    expect(r.stdout + r.stderr).not.toMatch(/deprecat|future version|validation result|error/i);
    expect(r.stdout.match(/^ok {3}/gm)?.length).toBe(plan.stdout.match(/^pcs /gm)?.length);
    const verify = inRoot(['crm_verify', '-x', `/tmp/${name}.xml`, '-V']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    return readFileSync(host(`tmp/${name}.xml`), 'utf8');
  }

  it("one cluster: every plan step applies with its pcs, crm_verify and stack check are clean, check names a refused parameter with the agent's reason, the simulation ends well", () => {
    const xml = applied('single', single);
    // pcs copied the agent's meta-data roles into the CIB: names this Pacemaker's schema knows.
    expect(xml).toMatch(new RegExp(`<op [^>]*role="${root.promoted}"`));
    expect(xml).toMatch(/name="resource-stickiness" value="100"/);
    const check = inRoot(['ocfkit', 'stack', 'check', ...single, '--cib', '/tmp/single.xml']);
    expect(check.stdout + check.stderr).not.toContain('validate-all failed');
    expect(check.code, check.stdout + check.stderr).toBe(0);
    // A parameter the agent refuses: check names it with the agent's own reason, from crm_resource's
    // XML (2.1 on) or its text (2.0).
    copyFileSync(host('tmp/single.xml'), host('tmp/bad.xml'));
    expect(inRoot(['crm_resource', '-r', 'nfs-ip', '-p', 'ip', '-v', '192.0.2.300'], { CIB_file: '/tmp/bad.xml' }).code).toBe(0);
    const bad = inRoot(['ocfkit', 'stack', 'check', ...single, '--cib', '/tmp/bad.xml']);
    expect(bad.code).toBe(1);
    const line = bad.stdout.split('\n').find((l) => l.includes('nfs-ip: validate-all failed')) ?? '';
    expect(line, bad.stdout).toContain('192.0.2.300');
    expect(line).not.toMatch(/crm_resource|Unknown option/);
    // The root's fence agent fences: the lost node and the cut replication link end with node1
    // fenced before node2 promotes.
    expect(xml).toMatch(/<primitive [^>]*class="stonith"[^>]*type="fence_dummy"/);
    expect(xml).toMatch(/name="stonith-enabled" value="true"/);
    const sim = inRoot(['ocfkit', 'stack', 'simulate', ...single, '--cib', '/tmp/single.xml']);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(sim.stdout.match(/^(OK|FAIL) .*/gm)).toEqual(['OK   start', 'OK   node failure', 'OK   filesystem failure', 'OK   replication link loss']);
    for (const sc of ['node failure', 'replication link loss']) {
      expect(sim.stdout.split(/^OK {3}/m).find((b) => b.startsWith(sc))).toMatch(/fence node1\n\s+promote nfs-drbd on node2/);
    }
  }, 900_000);

  // Site a: one node, no fencing; site b: two nodes fenced. Booth mode adds the booth group. Two of
  // the four pairs hold every kind of step (the fence devices and the booth group, each with the
  // ticket constraint); the other two repeat the same pcs commands with other names, for about 100 s
  // of CI per root (each step is a Python start of that root's pcs).
  it.each([
    ['b', 'manual'],
    ['a', 'booth'],
  ])('site %s, %s ticket mode: the plan with its ticket constraint applies with its pcs; check and simulate read it', (site, mode) => {
    writeFileSync(host(`tmp/${mode}.json`), JSON.stringify(mode === 'booth' ? boothSites : sites));
    const args = ['--config', `/tmp/${mode}.json`, '--site', site];
    if (mode === 'booth') {
      // As an operator does before the plan: the agent's validate-all (pcs 0.12 runs it) reads it.
      const conf = inRoot(['ocfkit', 'stack', 'booth-conf', ...args]);
      expect(conf.code, conf.stderr).toBe(0);
      mkdirSync(host('etc/booth'), { recursive: true });
      writeFileSync(host('etc/booth/booth.conf'), conf.stdout);
    }
    const name = `${mode}-${site}`;
    const xml = applied(name, args);
    const ticket = xml.match(/<rsc_ticket\b[^>]*\/>/g)?.find((e) => e.includes('id="nfs-ticket"')) ?? '';
    expect(ticket).toContain(`rsc-role="${root.promoted}"`);
    expect(ticket).toContain('loss-policy="demote"');
    expect(xml.includes('type="booth-site"')).toBe(mode === 'booth');
    expect(xml.includes('type="fence_dummy"')).toBe(site === 'b');
    const check = inRoot(['ocfkit', 'stack', 'check', ...args, '--cib', `/tmp/${name}.xml`]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).not.toMatch(/^(ERROR|FAIL)/m);
    const sim = inRoot(['ocfkit', 'stack', 'simulate', ...args, '--cib', `/tmp/${name}.xml`]);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(sim.stdout.match(/^(OK|FAIL) .*/gm)).toEqual(['OK   start without ticket-etcd, ticket-nfs', `OK   ticket-etcd, ticket-nfs granted to site ${site}`, 'OK   ticket-etcd, ticket-nfs revoked']);
  }, 1_200_000);

  it('site status and doctor read the booth-mode CIB with ticket-nfs granted and settled: the tickets, the stack, the booth group', () => {
    const env = { CIB_file: '/tmp/booth-a-0.xml' };
    copyFileSync(host('tmp/booth-a.xml'), host('tmp/booth-a-0.xml'));
    expect(inRoot(['cibadmin', '-C', '-o', 'nodes', '-X', '<node id="1" uname="node1"/>'], env).code).toBe(0);
    const grant = inRoot(['crm_ticket', '-t', 'ticket-nfs', '--grant', '--force'], env);
    expect(grant.code, grant.stderr).toBe(0);
    expect(inRoot(['crm_simulate', '-x', '/tmp/booth-a-0.xml', '-S', '--quorum=true', '--node-up', 'node1', '-O', '/tmp/booth-a-1.xml']).code).toBe(0);
    expect(inRoot(['crm_attribute', '-N', 'node1', '-l', 'reboot', '-n', 'master-nfs-drbd', '-v', '10000'], { CIB_file: '/tmp/booth-a-1.xml' }).code).toBe(0);
    expect(inRoot(['crm_simulate', '-x', '/tmp/booth-a-1.xml', '-S', '-O', '/tmp/booth-a-2.xml']).code).toBe(0);
    const settled = { CIB_file: '/tmp/booth-a-2.xml' };
    const status = inRoot(['ocfkit', 'site', 'status', '--config', '/tmp/booth.json', '--site', 'a', '--json'], settled);
    expect(status.code, status.stderr).toBe(0);
    const got = (JSON.parse(status.stdout) as { service: string; ticketGrantedHere: boolean; stackRunning: boolean }[]).map((v) => [v.service, v.ticketGrantedHere, v.stackRunning]);
    expect(got).toEqual([
      ['etcd', false, false],
      ['nfs', true, true],
    ]);
    const text = inRoot(['ocfkit', 'site', 'status', '--config', '/tmp/booth.json', '--site', 'a'], settled);
    expect(text.stdout).toMatch(/^nfs at site a: ticket ticket-nfs GRANTED here, last granted \S+$/m);
    expect(text.stdout).toMatch(/^ {2}here: .*stack running on node1$/m);
    const d = inRoot(['ocfkit', 'doctor'], settled);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    for (const line of ['cluster: node1 online', '  booth-ip (ocf:ocfkit:vip): Started on node1', '  booth-site (ocf:pacemaker:booth-site): Started on node1', `  nfs-drbd (ocf:ocfkit:drbd-promote): ${root.promoted} on node1`, '  etcd-fs (ocf:ocfkit:fs-mount): Stopped']) {
      expect(d.stdout.split('\n'), d.stdout).toContain(line);
    }
  }, 300_000);

  /** The one-cluster CIB settled by crm_simulate: both nodes up, DRBD promoted on node1 (this host's name). */
  function steadyCib(): string {
    const me = hostname();
    copyFileSync(host('tmp/single.xml'), host('tmp/steady-0.xml'));
    const env = { CIB_file: '/tmp/steady-0.xml' };
    for (const [i, n] of [me, 'node2'].entries()) expect(inRoot(['cibadmin', '-C', '-o', 'nodes', '-X', `<node id="${i + 1}" uname="${n}"/>`], env).code).toBe(0);
    expect(inRoot(['crm_simulate', '-x', '/tmp/steady-0.xml', '-S', '--quorum=true', '--node-up', me, '--node-up', 'node2', '-O', '/tmp/steady-1.xml']).code).toBe(0);
    expect(inRoot(['crm_attribute', '-N', me, '-l', 'reboot', '-n', 'master-nfs-drbd', '-v', '10000'], { CIB_file: '/tmp/steady-1.xml' }).code).toBe(0);
    const s = inRoot(['crm_simulate', '-x', '/tmp/steady-1.xml', '-S', '-O', '/tmp/steady.xml']);
    expect(s.code, s.stderr).toBe(0);
    return '/tmp/steady.xml';
  }

  it("drbd-promote's calls: its promotion score written, read and removed; where the clone is promoted, and doubt when crm_mon cannot say", async () => {
    const cib = steadyCib();
    const run = libRunner(inRoot, { CIB_file: cib });
    const scores = new PromotionScores(run, promotionScoreCalls('nfs-drbd'));
    await scores.set(1000);
    expect(readFileSync(host(`tmp/steady.xml`), 'utf8')).toMatch(/<nvpair [^>]*name="master-nfs-drbd" value="1000"/);
    expect(await scores.get()).toBe(1000);
    await scores.remove();
    expect(await scores.get()).toBeUndefined();
    expect(readFileSync(host(`tmp/steady.xml`), 'utf8')).not.toMatch(new RegExp(`name="master-nfs-drbd"[^>]*value="1000"`));
    // The peer-placement rule: Pacemaker promoted the clone on this node; a failed lookup is not "nowhere".
    expect(await promotedOn(run, 'nfs-drbd')).toEqual([hostname()]);
    expect(await promotedOn(run, 'nfs-fs')).toEqual([]);
    // A CIB crm_mon cannot read: 2.0 exits 105 for a missing file and reads a broken one as empty;
    // 3.0 exits 0 for both, with an error in the XML and no resources.
    writeFileSync(host('tmp/broken.xml'), '<cib');
    for (const f of ['/tmp/nonexistent.xml', '/tmp/broken.xml']) expect(await promotedOn(libRunner(inRoot, { CIB_file: f }), 'nfs-drbd'), f).toBeUndefined();
  }, 300_000);

  it("a live one-node cluster of the root's corosync and pacemakerd: drbd-promote's promotion score written, read and removed in it", async () => {
    const live = liveCluster(spawnSync('bash', [join(top, 'scripts/package/floor-root.sh'), root.suite], { encoding: 'utf8' }).stdout.trim(), mkdtempSync(join(work, `${root.suite}-live-`)));
    try {
      await live.start();
      // The node online with a DC: pacemakerd has its daemons up and the CIB takes writes.
      let mon = '';
      const dcHere = (x: string) => /<current_dc [^>]*present="true"/.test(x) && /<current_dc [^>]*name="node1"/.test(x);
      for (let i = 0; i < 120 && !dcHere(mon); i++) {
        await new Promise((res) => setTimeout(res, 1000));
        mon = live.inNode(['crm_mon', '-1', '--output-as=xml'], {}, 15_000).stdout;
      }
      expect(mon).toMatch(new RegExp(`<current_dc [^>]*version="${root.pacemaker.source.replace(/^\^Pacemaker /, '')}`));
      expect(mon).toMatch(/<node name="node1" [^>]*online="true"/);
      const run: Runner = async (argv, o) => {
        const r = live.inNode(argv, (o?.env as Record<string, string> | undefined) ?? {}, o?.timeoutMs ?? 60_000);
        return { argv: [...argv], code: r.code, signal: null, stdout: r.stdout, stderr: r.stderr, durationMs: 0, timedOut: false, abandoned: false } as RunResult;
      };
      // The agent's calls name the node as crm_attribute finds it: this cluster's node1.
      const scores = new PromotionScores(run, promotionScoreCalls('nfs-drbd'));
      await scores.set(1000);
      expect(live.inNode(['cibadmin', '-Q', '--scope', 'status']).stdout).toMatch(/<nvpair [^>]*name="master-nfs-drbd" value="1000"/);
      expect(await scores.get()).toBe(1000);
      await scores.remove();
      expect(await scores.get()).toBeUndefined();
      expect(live.inNode(['cibadmin', '-Q', '--scope', 'status']).stdout).not.toContain('master-nfs-drbd');
    } finally {
      live.stop();
    }
  }, 300_000);

  it('doctor reads the settled CIB: the nodes, where the clone is promoted; and says when it cannot reach one', () => {
    const d = inRoot(['ocfkit', 'doctor'], { CIB_file: '/tmp/steady.xml' });
    expect(d.code, d.stdout + d.stderr).toBe(0);
    const cluster = d.stdout.split('\n').find((l) => l.startsWith('cluster: ')) ?? '';
    expect(cluster.split(/, |: /).slice(1).sort()).toEqual([`${hostname()} online`, 'node2 online'].sort());
    expect(d.stdout).toMatch(new RegExp(`nfs-drbd \\(ocf:ocfkit:drbd-promote\\): ${root.promoted} on ${hostname()}`));
    // A CIB it cannot reach is said so (crm_mon 3.0 exits 0 then, with the error in its XML).
    const gone = inRoot(['ocfkit', 'doctor'], { CIB_file: '/tmp/nonexistent.xml' });
    expect(gone.stdout).toContain('cluster: not reachable from here');
  }, 120_000);
});
