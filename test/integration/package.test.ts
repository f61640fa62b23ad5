/**
 * The .deb and the .rpm as operators get them: built twice (same bytes), linted, installed into
 * empty roots and driven there by ocf-tester, crm_resource and pcs, upgraded under a running
 * monitor, removed; and the .deb installed and run in a Debian 11 root (the oldest glibc claimed).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scratch } from './loopfs';
import { Segment, ok, requireSandbox, sh } from './netns';

requireSandbox();
const top = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'ocfkit-pkgtest-'));
const version = ok([join(top, 'dist', 'ocfkit'), '--version']).split(' ')[1]!;
const newer = `${version}.1`;
const deb = (dir: string, v = version) => join(dir, `ocfkit_${v}_amd64.deb`);
const rpmFile = (dir: string, v = version) => join(dir, `ocfkit-${v}-1.x86_64.rpm`);
const AGENTS = ok([join(top, 'dist', 'ocfkit'), 'agents']).trim().split('\n');
const RPMDB = ['--dbpath', '/var/lib/rpm'];

/** Every path under root (relative, sorted), with what it is: the tree a package left there. */
function tree(root: string, skip: (p: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const rel = relative(root, full);
      if (skip(rel)) continue;
      const st = lstatSync(full);
      out.push(st.isSymbolicLink() ? `${rel} -> ${readlinkSync(full)}` : st.isDirectory() ? `${rel}/` : `${rel} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) walk(full);
    }
  };
  walk(root);
  return out;
}

const FILES = [
  'usr/lib/ocfkit/ocfkit 755',
  ...AGENTS.map((a) => `usr/lib/ocf/resource.d/ocfkit/${a} -> ../../../ocfkit/ocfkit`),
  'usr/sbin/ocfkit -> ../lib/ocfkit/ocfkit',
  'usr/lib/ocfkit/nfs-unit-exec 755',
  ...['nfs-server', 'nfsdcld', 'rpc-statd'].map((u) => `usr/lib/systemd/system/${u}.service.d/60-ocfkit-nfs.conf 644`),
  ...AGENTS.map((a) => `usr/share/man/man7/ocf_ocfkit_${a}.7.gz 644`),
  'usr/share/man/man8/ocfkit.8.gz 644',
];

function emptyDebRoot(): string {
  const root = mkdtempSync(join(work, 'debroot-'));
  mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
  mkdirSync(join(root, 'var/lib/dpkg/updates'));
  writeFileSync(join(root, 'var/lib/dpkg/status'), '');
  return root;
}

function emptyRpmRoot(): string {
  const root = mkdtempSync(join(work, 'rpmroot-'));
  ok(['rpm', '--root', root, ...RPMDB, '--initdb']);
  return root;
}

// The root holds none of the Pacemaker or iproute2 packages: their dependencies cannot be met there.
// Maintainer scripts run outside the root (it has no shell), with DPKG_ROOT telling them where it is.
const dpkg = (root: string, ...args: string[]) => sh(['dpkg', `--root=${root}`, '--force-depends', '--force-script-chrootless', ...args]);
const rpm = (root: string, ...args: string[]) => sh(['rpm', '--root', root, ...RPMDB, '--nodeps', ...args]);

/**
 * Runs argv where the installed root's /usr lies over the host's (a private overlay in a mount
 * namespace): crm_resource, pcs and ocf-tester find ocf:ocfkit:* exactly where the package put it.
 */
function inRoot(root: string, argv: string[]) {
  const layer = mkdtempSync(join(work, 'overlay-'));
  mkdirSync(join(layer, 'up'));
  mkdirSync(join(layer, 'work'));
  const script = 'mount -t overlay overlay -o "lowerdir=$1/usr:/usr,upperdir=$2/up,workdir=$2/work" /usr && shift 2 && exec "$@"';
  const r = sh(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', root, layer, ...argv]);
  rmSync(layer, { recursive: true, force: true });
  return r;
}

/** lintian or rpmlint tags, one `tag` or `tag [where]` per finding. */
function tags(output: string, re: RegExp): string[] {
  return [...output.matchAll(re)].map((m) => m[1]!).sort();
}

let buildSeconds = 0;
beforeAll(() => {
  const t0 = performance.now();
  for (const out of ['a', 'b']) {
    const r = sh(['env', `OCFKIT_PKG_OUT=${join(work, out)}`, 'bash', join(top, 'scripts/package/package.sh')]);
    expect(r.status, r.stderr).toBe(0);
    if (out === 'a') buildSeconds = (performance.now() - t0) / 1000;
  }
  // The newer version of an upgrade: its own build (it reports another version), packed uncompressed.
  ok(['env', `OCFKIT_VERSION=${newer}`, `OCFKIT_DIST=${join(work, 'dist2')}`, process.execPath, join(top, 'scripts/build.mjs')]);
  const r = sh(['env', `OCFKIT_PKG_BINARY=${join(work, 'dist2/ocfkit')}`, `OCFKIT_PKG_OUT=${join(work, 'v2')}`, 'OCFKIT_PKG_COMPRESS=none', 'bash', join(top, 'scripts/package/package.sh')]);
  expect(r.status, r.stderr).toBe(0);
  console.log(`package.test: one npm run package took ${buildSeconds.toFixed(1)} s; all builds ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}, 900_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packages', () => {
  it('two builds of one commit give the same bytes', () => {
    expect(readFileSync(deb(join(work, 'b'))).equals(readFileSync(deb(join(work, 'a'))))).toBe(true);
    expect(readFileSync(rpmFile(join(work, 'b'))).equals(readFileSync(rpmFile(join(work, 'a'))))).toBe(true);
  });

  it('.deb: the files, the metadata, and lintian finds only what docs/install.md explains', () => {
    const f = deb(join(work, 'a'));
    const fields = (k: string) => ok(['dpkg-deb', '-f', f, k]).trim();
    expect(fields('Depends')).toBe('libc6 (>= 2.17), pacemaker-cli-utils, iproute2');
    expect(fields('Recommends')).toBe('iputils-arping');
    expect(fields('Suggests')).toBe('pcs, drbd-utils, nfs-kernel-server');
    const listing = ok(['dpkg-deb', '-c', f]);
    expect(listing).not.toMatch(/^\S+ (?!root\/root)/m);
    for (const p of ['usr/share/doc/ocfkit/copyright', 'usr/share/doc/ocfkit/changelog.gz', 'usr/share/doc/ocfkit/README.md.gz']) expect(listing).toContain(`./${p}`);
    // The one daemon-reload that loads the NFS units' drop-ins, at install and removal, never into another root.
    for (const script of ['postinst', 'postrm']) expect(ok(['dpkg-deb', '-I', f, script])).toContain('if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then\n  systemctl daemon-reload');
    const lint = sh(['lintian', '--pedantic', f]);
    // The Bun runtime is linked by Bun's own build: not a PIE, no RELRO (docs/install.md#what-the-linters-say).
    expect(tags(lint.stdout, /^[EWIP]: ocfkit: (\S+)/gm)).toEqual(['hardening-no-pie', 'hardening-no-relro']);
  }, 300_000);

  it('.rpm: the files, the metadata, and rpmlint finds only what docs/install.md explains', () => {
    const f = rpmFile(join(work, 'a'));
    const q = (what: string) => ok(['rpm', '-qp', what, f]).trim().split('\n');
    expect(q('--requires')).toEqual(expect.arrayContaining(['pacemaker-cli', '(iproute or iproute2)', 'libc.so.6(GLIBC_2.17)(64bit)']));
    expect(q('--requires').join(' ')).not.toMatch(/GLIBC_2\.(1[89]|[2-9]\d)/);
    expect(q('--recommends')).toEqual(['iputils']);
    expect(q('--suggests').sort()).toEqual(['(nfs-utils or nfs-kernel-server)', 'drbd-utils', 'pcs']);
    expect(ok(['rpm', '-qp', '--queryformat', '%{LICENSE} %{URL}', f])).toBe('GPL-2.0-or-later https://example.org/ocfkit');
    expect(ok(['rpm', '-qp', '--scripts', f]).match(/systemctl daemon-reload/g)).toHaveLength(2);
    const lint = sh(['rpmlint', '-c', join(top, 'scripts/package/rpmlint.toml'), f]);
    expect(tags(lint.stdout, /^ocfkit\.x86_64: [EW]: (\S+)/gm)).toEqual([
      'no-manual-page-for-binary',
      'no-signature',
      'position-independent-executable-suggested',
      'unstripped-binary-or-object',
    ]);
  });
});

describe.each([
  { family: 'deb', fresh: emptyDebRoot, file: deb, install: (r: string, f: string) => dpkg(r, '-i', f), upgrade: (r: string, f: string) => dpkg(r, '-i', f), remove: (r: string) => dpkg(r, '--purge', 'ocfkit') },
  { family: 'rpm', fresh: emptyRpmRoot, file: rpmFile, install: (r: string, f: string) => rpm(r, '-i', f), upgrade: (r: string, f: string) => rpm(r, '-U', f), remove: (r: string) => rpm(r, '-e', 'ocfkit') },
])('the .$family installed into an empty root', ({ family, fresh, file, install, upgrade, remove }) => {
  const docs = family === 'deb' ? ['usr/share/doc/ocfkit/README.md.gz'] : ['usr/share/doc/ocfkit/README.md', 'usr/share/licenses/ocfkit/LICENSE'];
  const admin = (p: string) => p.startsWith('var') || p.startsWith('root');

  it('puts every file where docs/install.md says, and ocf-tester, crm_resource and pcs drive the installed agents', () => {
    const root = fresh();
    const r = install(root, file(join(work, 'a')));
    expect(r.status, r.stderr).toBe(0);
    const got = tree(root, admin).filter((l) => !l.endsWith('/'));
    for (const want of [...FILES, ...docs.map((d) => `${d} 644`)]) expect(got).toContain(want);
    expect(ok([join(root, 'usr/sbin/ocfkit'), '--version'])).toContain(`ocfkit ${version}`);

    const seg = new Segment('pkg');
    try {
      const tester = inRoot(root, ['ip', 'netns', 'exec', seg.node, 'ocf-tester', '-n', 'pkgvip', '-o', 'ip=192.0.2.60', '-o', 'cidr_netmask=24', '-o', 'nic=v0', '/usr/lib/ocf/resource.d/ocfkit/vip']);
      expect(tester.stdout + tester.stderr).toMatch(/passed all tests/);
      expect(tester.status).toBe(0);
    } finally {
      seg.destroy();
    }
    const validate = inRoot(root, ['crm_resource', '--validate', '--output-as=xml', '--class', 'ocf', '--provider', 'ocfkit', '--agent', 'vip', '--option', 'ip=192.0.2.60', '--option', 'cidr_netmask=24', '--option', 'nic=v0']);
    expect(validate.status, validate.stdout + validate.stderr).toBe(0);
    const bad = inRoot(root, ['crm_resource', '--validate', '--output-as=xml', '--class', 'ocf', '--provider', 'ocfkit', '--agent', 'vip', '--option', 'ip=192.0.2.300']);
    expect(bad.status).toBe(6);
    expect(bad.stdout).toContain('is not an IPv4 or IPv6 address');
    for (const a of AGENTS) {
      const d = inRoot(root, ['pcs', 'resource', 'describe', `ocf:ocfkit:${a}`]);
      expect(d.status, d.stderr).toBe(0);
      expect(d.stdout).toContain(`ocf:ocfkit:${a}`);
    }
    const man = inRoot(root, ['env', 'MANWIDTH=80', 'man', '--warnings=w', 'ocf_ocfkit_vip']);
    expect(man.stderr).toBe('');
    expect(man.stdout).toContain('cidr_netmask');
  }, 300_000);

  it('upgrades under a running monitor (it finishes on the old executable, the next runs the new) and removal leaves nothing', async () => {
    const root = fresh();
    expect(install(root, file(join(work, 'a'))).status).toBe(0);
    const before = tree(root, admin);
    const agent = join(root, 'usr/lib/ocf/resource.d/ocfkit/fs-mount');
    const s = new Scratch();
    const dev = s.loop('ext4');
    const dir = s.path('mnt');
    const env = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'OCF_ROOT=/usr/lib/ocf', 'OCF_RESOURCE_INSTANCE=pkgfs', `OCF_RESKEY_device=${dev}`, `OCF_RESKEY_directory=${dir}`, 'OCF_RESKEY_fstype=ext4'];
    const action = (a: string, extra: string[] = []) => sh(['env', '-i', ...env, ...extra, agent, a]);
    let monitor: ChildProcess | undefined;
    let starts: ChildProcess | undefined;
    try {
      expect(action('start').status).toBe(0);
      // A frozen filesystem holds the depth-20 monitor in its status-file write for as long as we like.
      ok(['fsfreeze', '-f', dir]);
      monitor = spawn('env', ['-i', ...env, 'OCF_CHECK_LEVEL=20', 'OCF_RESKEY_CRM_meta_interval=121000', 'OCF_RESKEY_CRM_meta_timeout=60000', agent, 'monitor'], { stdio: 'ignore' });
      const exited = new Promise<number | null>((res) => monitor!.on('exit', (code) => res(code)));
      const deadline = Date.now() + 20_000;
      while (sh(['pgrep', '-f', `of=${dir}/`]).status !== 0) {
        if (Date.now() > deadline) throw new Error('the monitor never reached its status-file write');
        spawnSync('sleep', ['0.1']);
      }
      const exeBefore = statSync(join(root, 'usr/lib/ocfkit/ocfkit')).ino;
      // Starts of the executable all through the upgrade: each must run the old or the new one, whole.
      const log = join(work, `${family}-starts.log`);
      const stop = join(work, `${family}-starts.stop`);
      starts = spawn('bash', ['-c', `while [ ! -e ${stop} ]; do ${join(root, 'usr/sbin/ocfkit')} --version >>${log} 2>&1 || echo "FAILED $?" >>${log}; done`], { stdio: 'ignore' });
      spawnSync('sleep', ['0.5']);
      const up = upgrade(root, file(join(work, 'v2'), newer));
      spawnSync('sleep', ['0.5']);
      writeFileSync(stop, '');
      await new Promise((res) => starts!.on('exit', res));
      expect(up.status, up.stderr).toBe(0);
      expect(statSync(join(root, 'usr/lib/ocfkit/ocfkit')).ino).not.toBe(exeBefore);
      // Still in its write, on the executable the upgrade renamed away.
      expect(monitor.exitCode).toBe(null);
      expect(readlinkSync(`/proc/${monitor.pid}/exe`)).toMatch(/ \(deleted\)$/);
      ok(['fsfreeze', '-u', dir]);
      expect(await exited).toBe(0);
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      expect(lines.length).toBeGreaterThan(2);
      console.log(`package.test: ${family}: ${lines.length} starts of the executable during the upgrade, ${lines.filter((l) => l.startsWith(`ocfkit ${newer} `)).length} of them the new one`);
      expect(lines.filter((l) => !l.startsWith(`ocfkit ${newer} (`) && !l.startsWith(`ocfkit ${version} (`))).toEqual([]);
      expect(lines.at(-1)).toMatch(new RegExp(`^ocfkit ${newer.replace(/\./g, '\\.')} `));
      expect(ok([join(root, 'usr/sbin/ocfkit'), '--version'])).toContain(`ocfkit ${newer}`);
      expect(action('monitor', ['OCF_CHECK_LEVEL=20', 'OCF_RESKEY_CRM_meta_interval=121000']).status).toBe(0);
      expect(action('stop').status).toBe(0);
    } finally {
      if (monitor && monitor.exitCode === null) spawnSync('fsfreeze', ['-u', dir]);
      starts?.kill();
      spawnSync('umount', [dir]);
      s.dispose();
    }
    expect(tree(root, admin)).toEqual(before);
    const rm = remove(root);
    expect(rm.status, rm.stderr).toBe(0);
    const left = tree(root, admin);
    // dpkg removes the directories it made; rpm keeps those it does not own (on a real system
    // the filesystem, resource-agents and man packages own them): never a file or a link.
    expect(left.filter((l) => !l.endsWith('/'))).toEqual([]);
    if (family === 'deb') expect(left).toEqual([]);
    else for (const d of left) expect(FILES.concat(docs).some((f) => f.startsWith(d))).toBe(true);
    expect(existsSync(join(root, 'usr/lib/ocfkit'))).toBe(false);
  }, 300_000);
});

describe('the oldest glibc claimed: Debian 11 (bullseye, glibc 2.31)', () => {
  it('its dpkg installs the .deb; meta-data, validate-all, vip start/monitor/stop run there; its pcs 0.10 takes the plan for 0.10, not the one for 0.11', () => {
    const t0 = performance.now();
    // The first run on a machine downloads the root (debootstrap and pcs: 2-4 min, more on a loaded
    // machine): the test's own time, not sh()'s two minutes for a command.
    const made = spawnSync('bash', [join(top, 'scripts/package/floor-root.sh')], { encoding: 'utf8', timeout: 570_000 });
    expect(made.status, made.stderr).toBe(0);
    const cached = made.stdout.trim();
    console.log(`package.test: Debian 11 root ready in ${((performance.now() - t0) / 1000).toFixed(1)} s${made.stderr ? ` (${made.stderr.trim()})` : ' (cached)'}`);
    expect(readFileSync(join(cached, 'etc/debian_version'), 'utf8')).toMatch(/^11\./);
    const layer = mkdtempSync(join(work, 'bullseye-'));
    for (const d of ['up', 'work', 'merged']) mkdirSync(join(layer, d));
    copyFileSync(deb(join(work, 'a')), join(layer, 'up', 'ocfkit.deb'));
    // In a private mount and network namespace: a throwaway layer over the cached root, a
    // veth pair for the address, then everything else from the root's own programs.
    const inside = [
      'set -e',
      `mount -t overlay overlay -o "lowerdir=${cached},upperdir=${layer}/up,workdir=${layer}/work" ${layer}/merged`,
      `m=${layer}/merged`,
      'mount -t proc proc $m/proc && mount --rbind /dev $m/dev && mount -t sysfs sysfs $m/sys',
      'ip link set lo up && ip link add d0 type veth peer name d1 && ip link set d1 up && ip link set d0 up && ip addr add 192.0.2.1/24 dev d0',
      'chroot $m dpkg --force-depends -i /ocfkit.deb >/dev/null 2>&1',
      'chroot $m ldd --version | head -1',
      'run() { chroot $m env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=floor OCF_RESKEY_ip=192.0.2.70 OCF_RESKEY_cidr_netmask=24 OCF_RESKEY_nic=d0 "$@"; }',
      'a=/usr/lib/ocf/resource.d/ocfkit',
      'run $a/vip meta-data | grep -c "<parameter name=" | sed "s/^/meta-data parameters: /"',
      'for x in vip fs-mount drbd-promote nfs-export; do run $a/$x meta-data >/dev/null; echo "meta-data $x: $?"; done',
      'set +e',
      'run $a/vip validate-all; echo "validate-all: $?"',
      'run env OCF_CHECK_LEVEL=10 $a/vip validate-all; echo "validate-all level 10: $?"',
      'run env OCF_RESKEY_CRM_meta_interval=10000 $a/vip monitor; echo "monitor before start: $?"',
      'run $a/vip start; echo "start: $?"',
      'run env OCF_RESKEY_CRM_meta_interval=10000 $a/vip monitor; echo "monitor: $?"',
      'run $a/vip stop; echo "stop: $?"',
      'run env OCF_RESKEY_CRM_meta_interval=10000 $a/vip monitor; echo "monitor after stop: $?"',
      'run /usr/sbin/ocfkit stack plan --nodes a,b --drbd-resource r0 --device /dev/drbd0 --directory /srv/nfs --fstype xfs --ip 192.0.2.10/24 --clients 192.0.2.0/24 --fencing none >/dev/null; echo "stack plan: $?"',
      // The real pcs 0.10 (and Pacemaker 2.0.5) of Debian 11: the plan written for it, and the one that is not.
      'S="--nodes node1,node2 --drbd-resource r0 --device /dev/drbd0 --directory /srv/nfs --fstype xfs --ip 192.0.2.10/24 --nic eth0 --clients 192.0.2.0/24 --fencing none"',
      'echo "pcs $(chroot $m pcs --version)"',
      'for v in 0.10 0.11; do out=$(run /usr/sbin/ocfkit stack apply $S --pcs-version $v --cib /tmp/cib-$v.xml 2>&1); echo "apply $v: $?"; echo "$out" | grep -o "is not a valid role value" | head -1 | sed "s/^/apply $v refused: /"; done',
      'run crm_verify -x /tmp/cib-0.10.xml; echo "crm_verify 0.10: $?"',
      // Why drbd-promote reads placement from crm_mon, not crm_resource --locate (docs/install.md#supported-systems).
      'echo "crm_resource without --output-as: $(run crm_resource --locate -r x --output-as=xml 2>&1 | grep -c "Unknown option --output-as")"',
    ].join('\n');
    const r = sh(['unshare', '--mount', '--net', '--propagation', 'private', 'bash', '-c', inside]);
    console.log(`package.test: in the Debian 11 root:\n${r.stdout}`);
    rmSync(layer, { recursive: true, force: true });
    expect(r.stderr.split('\n').filter((l) => /error|not found|GLIBC/i.test(l))).toEqual([]);
    expect(r.stdout).toMatch(/^ldd \(Debian GLIBC 2\.31-/m);
    expect(r.stdout).toMatch(/^meta-data parameters: [1-9]/m);
    for (const x of AGENTS) expect(r.stdout).toContain(`meta-data ${x}: 0`);
    for (const [step, code] of [['validate-all', 0], ['validate-all level 10', 0], ['monitor before start', 7], ['start', 0], ['monitor', 0], ['stop', 0], ['monitor after stop', 7], ['stack plan', 0]] as const) {
      expect(r.stdout, r.stdout + r.stderr).toContain(`${step}: ${code}\n`);
    }
    expect(r.stdout).toMatch(/^pcs 0\.10\./m);
    expect(r.stdout).toContain('apply 0.10: 0\n');
    expect(r.stdout).toContain('crm_verify 0.10: 0\n');
    expect(r.stdout).toContain('apply 0.11: 1\n');
    expect(r.stdout).toContain('apply 0.11 refused: is not a valid role value\n');
    expect(r.stdout).toContain('crm_resource without --output-as: 1\n');
  }, 900_000);
});
