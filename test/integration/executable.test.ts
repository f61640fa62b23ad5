/**
 * What the unit tests prove of the runtime under Node, proven again through the built Bun
 * executable as Pacemaker runs it: nothing loaded from the caller's directory, what the environment
 * can still do, output never cut, a hung command ended with its children, a signal answered with a
 * reason, nothing left behind when execd kills the agent's process group, syslog through logger.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_DIR, Segment, ok, requireSandbox, sh } from './netns';

requireSandbox();
const top = join(__dirname, '..', '..');
const ocfkit = join(top, 'dist', 'ocfkit');
const AGENTS = ['vip', 'fs-mount', 'nfs-export', 'drbd-promote'];
const BASE_ENV = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'OCF_ROOT=/usr/lib/ocf', 'OCF_RESKEY_CRM_meta_timeout=20000'];

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ocfkit-exe-'));
  chmodSync(work, 0o755);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('nothing from the directory it is started in', () => {
  it('a bunfig.toml preload, .env, tsconfig.json and package.json there change nothing, for every agent and the command', () => {
    const cwd = join(work, 'hostile-cwd');
    mkdirSync(cwd);
    const marker = join(cwd, 'preload-ran');
    writeFileSync(join(cwd, 'pre.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');`);
    writeFileSync(join(cwd, 'bunfig.toml'), `preload = [${JSON.stringify(join(cwd, 'pre.js'))}]\n[run]\nbun = true\n`);
    writeFileSync(join(cwd, '.env'), 'OCF_RESKEY_ip=198.51.100.66\nOCF_RESKEY_device=/dev/evil\nOCF_RESKEY_directory=/evil\nOCF_RESKEY_drbd_resource=evil\nOCF_ROOT=/evil\n');
    writeFileSync(join(cwd, '.env.local'), 'OCF_RESKEY_ip=198.51.100.67\n');
    writeFileSync(join(cwd, 'tsconfig.json'), '{"compilerOptions":{"paths":{"node:fs":["./pre.js"]}}}');
    writeFileSync(join(cwd, 'package.json'), '{"name":"evil","type":"module","imports":{"#x":"./pre.js"}}');
    const inCwd = (argv: string[]) => spawnSync('env', ['-i', ...BASE_ENV, 'OCF_RESOURCE_INSTANCE=t', ...argv], { cwd, encoding: 'utf8' });
    for (const a of AGENTS) {
      for (const action of ['meta-data', 'validate-all', 'monitor']) {
        const r = inCwd([`${AGENT_DIR}/${a}`, action]);
        expect(r.stdout + r.stderr).not.toMatch(/198\.51\.100\.6[67]|\/dev\/evil|\/evil|\bevil\b/);
        if (action === 'meta-data') expect(r.status).toBe(0);
      }
      // Had .env been read, the required parameter would be set and the reason would differ.
      const v = inCwd([`${AGENT_DIR}/${a}`, 'validate-all']);
      expect(v.status).toBe(6);
      expect(v.stderr).toMatch(/ocf-exit-reason:parameter \w+ is required but not set/);
    }
    for (const argv of [[ocfkit, '--version'], [ocfkit, 'agents'], [ocfkit, 'stack', 'plan', '--help'], [ocfkit, 'vip', 'meta-data']]) {
      const r = inCwd(argv);
      expect(r.status).toBe(0);
    }
    expect(existsSync(marker)).toBe(false);
  });
});

describe('what the environment can still do', () => {
  const evil = () => {
    const dir = mkdtempSync(join(work, 'env-'));
    const marker = join(dir, 'ran');
    writeFileSync(join(dir, 'evil.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x');`);
    return { js: join(dir, 'evil.js'), marker };
  };
  const withEnv = (vars: string[], args: string[] = ['meta-data']) => spawnSync('env', ['-i', ...BASE_ENV, ...vars, `${AGENT_DIR}/vip`, ...args], { cwd: work, encoding: 'utf8' });

  it('NODE_OPTIONS, BUN_INSPECT_PRELOAD and BUN_INSPECT load nothing', () => {
    for (const v of ['NODE_OPTIONS=--require ', 'BUN_INSPECT_PRELOAD=']) {
      const e = evil();
      const r = withEnv([`${v}${e.js}`]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('<resource-agent name="vip"');
      expect(existsSync(e.marker)).toBe(false);
    }
    const r = withEnv(['BUN_INSPECT=127.0.0.1:1']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('<resource-agent name="vip"');
  });

  // Documented in docs/troubleshooting.md as what root can still do through the executor's environment, like
  // LD_PRELOAD for every agent: if these ever stop acting, that table must change with them.
  it('BUN_OPTIONS=--preload runs the file first; BUN_BE_BUN=1 makes the executable the bun CLI', () => {
    const e = evil();
    expect(withEnv([`BUN_OPTIONS=--preload ${e.js}`]).status).toBe(0);
    expect(existsSync(e.marker)).toBe(true);
    const b = withEnv(['BUN_BE_BUN=1'], ['--version']);
    expect(b.stdout.trim()).toMatch(/^1\.\d+\.\d+$/);
  });

  it('BUN_JSC_* sets JavaScriptCore options: a tiny stack limit fails the action, dumpOptions prints them', () => {
    const d = withEnv(['BUN_JSC_dumpOptions=1']);
    expect(d.status).toBe(0);
    expect(d.stderr).toContain('Modified JSC options');
    const small = withEnv(['BUN_JSC_maxPerThreadStackUsage=1000']);
    expect(small.status).not.toBe(0);
    expect(small.stderr).toContain('Maximum call stack size exceeded');
  });
});

describe('output and exit reasons are never cut', () => {
  it('a 300 KB plan read by a slow reader arrives whole, as it does into a file', () => {
    // One NFS service (a stack runs one kernel NFS server) and many mount-only ones.
    const services = Array.from({ length: 300 }, (_, i) => ({
      name: `s${i}`,
      drbd_resource: `r${i}`,
      device: `/dev/drbd${i}`,
      directory: `/srv/d${i}`,
      fstype: 'xfs',
      ...(i === 0 ? { ip: '192.0.2.10/24', nic: 'eth0', clients: ['192.0.2.0/24'] } : {}),
    }));
    const cfg = join(work, 'big.json');
    writeFileSync(cfg, JSON.stringify({ nodes: ['node1', 'node2'], fencing: 'none', services }));
    const file = join(work, 'plan.out');
    ok(['sh', '-c', `"$0" stack plan --config "$1" > "$2"`, ocfkit, cfg, file]);
    const whole = readFileSync(file, 'utf8');
    expect(whole.length).toBeGreaterThan(200_000);
    const slow = spawnSync('sh', ['-c', `"$0" stack plan --config "$1" | (sleep 1; cat)`, ocfkit, cfg], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(slow.stdout).toBe(whole);
  });

  it('meta-data through a slow pipe, and the exit reason of a failed action, are complete', () => {
    for (const a of AGENTS) {
      const direct = ok([`${AGENT_DIR}/${a}`, 'meta-data']);
      const slow = spawnSync('sh', ['-c', `"$0" meta-data | (sleep 0.3; cat)`, `${AGENT_DIR}/${a}`], { encoding: 'utf8' });
      expect(slow.stdout).toBe(direct);
      expect(direct.trimEnd().endsWith('</resource-agent>')).toBe(true);
    }
    const r = spawnSync('sh', ['-c', `"$0" validate-all 2>&1 >/dev/null | (sleep 0.3; cat)`, `${AGENT_DIR}/vip`], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', OCF_RESKEY_ip: '192.0.2.1;reboot' } });
    expect(r.stdout).toMatch(/^ocf-exit-reason:.*ip.*\n$/m);
  });
});

describe('the CPU floor', () => {
  // qemu's user-mode emulator raises SIGILL for an AVX2 instruction on a CPU model without it.
  it('runs on a CPU without AVX2 (qemu-x86_64 -cpu Nehalem): meta-data, validate-all, the stack plan', () => {
    const q = (args: string[]) => spawnSync('qemu-x86_64', ['-cpu', 'Nehalem', ocfkit, ...args], { encoding: 'utf8', timeout: 60_000 });
    for (const a of AGENTS) {
      const md = q([a, 'meta-data']);
      expect(md.status).toBe(0);
      expect(md.stdout.trimEnd().endsWith('</resource-agent>')).toBe(true);
    }
    expect(q(['vip', 'validate-all']).stderr).toContain('ocf-exit-reason:parameter ip is required but not set');
    expect(q(['stack', 'plan', '--nodes', 'a,b', '--drbd-resource', 'r0', '--device', '/dev/drbd0', '--directory', '/srv', '--fstype', 'xfs', '--ip', '192.0.2.10/24', '--clients', '192.0.2.0/24', '--fencing', 'none']).stdout).toContain('pcs resource create');
  });
});

describe('large command output', () => {
  it('vip on a node with 10,000 addresses (kube-proxy IPVS style): `ip -j addr show` past a megabyte is read whole', () => {
    const seg = new Segment('big');
    try {
      const batch = join(work, 'addrs');
      const lines: string[] = [];
      // 198.18.0.0/15 (benchmarking, RFC 2544), on a veth inside a namespace of our own: no traffic leaves it.
      for (let i = 0; i < 40; i++) for (let j = 1; j <= 250; j++) lines.push(`addr add 198.18.${i}.${j}/32 dev v0`);
      writeFileSync(batch, `${lines.join('\n')}\n`);
      ok(['ip', '-n', seg.node, '-batch', batch]);
      expect(spawnSync('ip', ['-n', seg.node, '-j', 'addr', 'show'], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.length).toBeGreaterThan(1 << 20);
      const p = { ip: '192.0.2.50', cidr_netmask: '24', nic: 'v0', run_arping: 'false' };
      const mon = { OCF_RESKEY_CRM_meta_interval: '10000' };
      expect(seg.agent('vip', 'start', p).code).toBe(0);
      expect(seg.agent('vip', 'monitor', p, mon).code).toBe(0);
      expect(seg.agent('vip', 'stop', p).code).toBe(0);
      expect(seg.agent('vip', 'monitor', p, mon).code).toBe(7);
    } finally {
      seg.destroy();
    }
  });
});

describe('a hung command and a signal', () => {
  /** fs-mount's start resolves UUID= with blkid; a stand-in blkid that ignores TERM hangs it. */
  function stuckBlkid(): { path: string; pidfile: string } {
    const bin = mkdtempSync(join(work, 'bin-'));
    chmodSync(bin, 0o755);
    copyFileSync(join(top, 'test', 'standins', 'stuck-command-standin'), join(bin, 'blkid'));
    chmodSync(join(bin, 'blkid'), 0o755);
    return { path: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, pidfile: join(bin, 'pids') };
  }
  const fsStart = (path: string, pidfile: string, timeoutMs: number) => [
    '-i',
    `PATH=${path}`,
    'OCF_ROOT=/usr/lib/ocf',
    'OCF_RESOURCE_INSTANCE=stuck',
    `OCF_RESKEY_CRM_meta_timeout=${timeoutMs}`,
    'OCF_RESKEY_device=UUID=0b5e5e5e-0000-4000-8000-000000000001',
    `OCF_RESKEY_directory=${join(work, 'never-mounted')}`,
    'OCF_RESKEY_fstype=ext4',
    `STANDIN_PIDFILE=${pidfile}`,
    `${AGENT_DIR}/fs-mount`,
    'start',
  ];
  const pidsOf = (pidfile: string) => readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);

  it('a command that ignores TERM gets KILL, with its children, inside the operation timeout', () => {
    const { path, pidfile } = stuckBlkid();
    const t0 = performance.now();
    const r = spawnSync('env', fsStart(path, pidfile, 4000), { encoding: 'utf8', timeout: 30_000 });
    const ms = performance.now() - t0;
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ocf-exit-reason:cannot tell whether UUID=\S+ is on this node: `blkid …` did not finish within [\d.]+s and was killed/);
    expect(ms).toBeLessThan(4000);
    const [tool, grandchild] = pidsOf(pidfile);
    expect(alive(tool!)).toBe(false);
    expect(alive(grandchild!)).toBe(false);
  });

  it('SIGTERM to the agent: the commands under way are ended and the action answers 1 with a reason', async () => {
    const { path, pidfile } = stuckBlkid();
    const child = spawn('env', fsStart(path, pidfile, 60_000), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 100 && !existsSync(pidfile); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(pidfile)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    child.kill('SIGTERM');
    const code = await exited;
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(code).toBe(1);
    expect(stderr).toMatch(/ocf-exit-reason:start was stopped by SIGTERM after [\d.]+s/);
    const [tool, grandchild] = pidsOf(pidfile);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(tool!)).toBe(false);
    expect(alive(grandchild!)).toBe(false);
  });

  it("SIGKILL to the agent's process group, as pacemaker-execd sends it at the operation timeout, ends the hung command and its child too", async () => {
    const { path, pidfile } = stuckBlkid();
    // execd starts each operation as the leader of a process group of its own, and kills that group.
    const agent = spawn('env', fsStart(path, pidfile, 60_000), { stdio: 'ignore', detached: true });
    const exited = new Promise((resolve) => agent.on('exit', resolve));
    for (let i = 0; i < 100 && !existsSync(pidfile); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(pidfile)).toBe(true);
    const [tool, grandchild] = pidsOf(pidfile);
    try {
      process.kill(-agent.pid!, 'SIGKILL');
      await exited;
      for (let i = 0; i < 40 && (alive(tool!) || alive(grandchild!)); i++) await new Promise((r) => setTimeout(r, 50));
      expect(alive(tool!)).toBe(false);
      expect(alive(grandchild!)).toBe(false);
    } finally {
      for (const pid of [tool!, grandchild!]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone, as it should be
        }
      }
    }
  });
});

describe('syslog', () => {
  it('with HA_LOGFACILITY set, log lines reach /dev/log through logger, tagged with agent, instance and pid', () => {
    const dir = mkdtempSync(join(work, 'syslog-'));
    const dev = join(dir, 'dev');
    const received = join(dir, 'received');
    // A /dev of our own in a nested mount namespace, with a datagram socket as /dev/log: the host
    // may have no syslog daemon, and its /dev is not ours to change.
    const script = [
      'set -e',
      `mkdir -p "${dev}"`,
      'for n in null zero random urandom; do touch "$0/$n"; mount --bind "/dev/$n" "$0/$n"; done',
      `socat -u UNIX-RECV:"$0/log" CREATE:"${received}" & sock=$!`,
      'for i in $(seq 50); do [ -S "$0/log" ] && break; sleep 0.05; done',
      'mount --bind "$0" /dev',
      `env -i ${BASE_ENV.join(' ')} HA_LOGFACILITY=daemon OCF_RESOURCE_INSTANCE=logged "${AGENT_DIR}/vip" validate-all || true`,
      'sleep 0.5; kill $sock',
    ].join('\n');
    const r = sh(['unshare', '--mount', '--propagation', 'private', 'bash', '-c', script, dev]);
    expect(r.stderr).toContain('ocf-exit-reason:parameter ip is required but not set');
    const got = readFileSync(received, 'utf8');
    expect(got).toMatch(/^<27>.* vip\(logged\)\[\d+\]: validate-all: failed \(ERR_CONFIGURED\): parameter ip is required but not set/m);
    // With syslog configured the line is not also written to stderr (the executor logs stderr itself).
    expect(r.stderr).not.toMatch(/ERROR: validate-all: failed/);
  });
});
