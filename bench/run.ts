// vip vs ocf:heartbeat:IPaddr2: latency of every OCF action and peak memory, measured interleaved.
// Run as root with `npm run bench` (Node 24, type stripping). Only node: built-ins are imported.
// See bench/README.md for what is measured and how to read the output.
//
// Two processes:
//   outer  creates the network namespace, re-executes this file inside it (`ip netns exec NS node run.ts --inner`),
//          and always deletes the namespace again (normal exit, failure, SIGINT/SIGTERM/SIGHUP).
//          It prints the report and writes bench/results/*.json.
//   inner  runs every agent invocation with spawnSync and writes the raw samples to a file the outer names.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync,
  readlinkSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { cpus, hostname, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------- constants

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
const RESULTS = join(HERE, 'results');
const VIP_PATH = process.env.BENCH_VIP || join(REPO, 'dist', 'vip');
/** What the agents actually run: by default the outer's private snapshot of VIP_PATH (see snapshotVip). */
const VIP_RUN = process.env.BENCH_VIP_RUN || VIP_PATH;
const IPADDR2_PATH = '/usr/lib/ocf/resource.d/heartbeat/IPaddr2';
const GNU_TIME = '/usr/bin/time';
const TRUE_BIN = '/bin/true';

const NIC = 'bench0'; // carries the static address and the floating one
const PEER = 'bench1'; // other end of the veth pair, up, no address
const STATIC_CIDR = '192.0.2.1/24';
const FLOAT_IP = '192.0.2.50';
const NETMASK = '24';
const INSTANCE = 'bench_ip';
// What pacemaker-execd has under systemd; the agent gets nothing else from the harness's environment.
const EXEC_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MONITOR_INTERVAL = 10000;
const LEFTOVER_GRACE_MS = 3000; // at the end, time allowed for the agents' background processes to finish
const CALL_TIMEOUT_MS = 60_000; // hard stop for one agent invocation (the agents' own timeout is 20 s)

const TARGET_MONITOR_RATIO = 1.0;
const TARGET_PEAK_MIB = 64;

// Case names, as printed.
const C_MD = 'meta-data';
const C_PROBE = 'monitor, stopped (probe)';
const C_MON = 'monitor, running';
const C_START = 'start';
const C_STOP = 'stop';
const C_FLOOR = 'harness floor';

// ---------------------------------------------------------------------------------------------- shared types

interface Variant {
  readonly label: string; // 'vip', 'vip run_arping=false', 'IPaddr2'
  readonly agent: 'vip' | 'IPaddr2';
  readonly path: string;
  readonly type: string;
  readonly provider: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Raw output of the inner process. Every sample array is indexed by measured round. */
interface Raw {
  rounds: number;
  warmup: number;
  seed: number;
  privateRsctmp: boolean;
  /** case -> variant label -> ms per round */
  timing: Record<string, Record<string, number[]>>;
  /** case -> variant label -> peak RSS in KiB per round */
  memoryKiB: Record<string, Record<string, number[]>>;
  /** unit ids in the order they ran, per measured round */
  order: string[][];
  /** 1-minute load average at the start of each measured round */
  load1: number[];
  durationSec: number;
}

class BenchFailure extends Error {}

// ---------------------------------------------------------------------------------------------- helpers

function die(msg: string, code = 2): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(code);
}

function run(cmd: string, args: string[]): { rc: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { rc: null, out: '', err: String(r.error.message) };
  return { rc: r.status, out: r.stdout, err: r.stderr };
}

function must(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.rc !== 0) throw new BenchFailure(`${[cmd, ...args].join(' ')} failed (rc ${r.rc}): ${r.err.trim()}`);
  return r.out;
}

function envInt(name: string, dflt: number, min: number): number {
  const s = process.env[name];
  if (s === undefined || s === '') return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) die(`${name} must be an integer ≥ ${min}, got "${s}"`);
  return n;
}

/** mulberry32: a small seeded PRNG, so an order can be replayed with BENCH_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = a[i] as T;
    a[i] = a[j] as T;
    a[j] = t;
  }
  return a;
}

function sorted(xs: readonly number[]): number[] {
  return xs.slice().sort((a, b) => a - b);
}

/** Percentile with linear interpolation between closest ranks (R type 7). */
function pct(xs: readonly number[], p: number): number {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (h - lo);
}

function stats(xs: readonly number[]) {
  return {
    n: xs.length,
    median: pct(xs, 0.5),
    p10: pct(xs, 0.1),
    p90: pct(xs, 0.9),
    min: Math.min(...xs),
    max: Math.max(...xs),
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

// ---------------------------------------------------------------------------------------------- inner

const VIP_DEFAULT: Variant = { label: 'vip', agent: 'vip', path: VIP_RUN, type: 'vip', provider: 'ocfkit', params: {} };
const VIP_NOARP: Variant = { ...VIP_DEFAULT, label: 'vip run_arping=false', params: { run_arping: 'false' } };
const IPADDR2: Variant = {
  label: 'IPaddr2', agent: 'IPaddr2', path: IPADDR2_PATH, type: 'IPaddr2', provider: 'heartbeat', params: {},
};

/** The environment pacemaker-execd gives an OCF agent: nothing inherited except PATH. */
function agentEnv(v: Variant, interval: number): Record<string, string> {
  const env: Record<string, string> = {
    PATH: EXEC_PATH,
    OCF_ROOT: '/usr/lib/ocf',
    OCF_RA_VERSION_MAJOR: '1',
    OCF_RA_VERSION_MINOR: '1',
    OCF_RESOURCE_INSTANCE: INSTANCE,
    OCF_RESOURCE_TYPE: v.type,
    OCF_RESOURCE_PROVIDER: v.provider,
    OCF_RESKEY_CRM_meta_timeout: '20000',
    OCF_RESKEY_CRM_meta_interval: String(interval),
    OCF_RESKEY_ip: FLOAT_IP,
    OCF_RESKEY_cidr_netmask: NETMASK,
    OCF_RESKEY_nic: NIC,
  };
  for (const [k, val] of Object.entries(v.params)) env[`OCF_RESKEY_${k}`] = val;
  return env;
}

interface Exec {
  ms: number;
  rc: number | null;
  signal: string | null;
  rssKiB?: number;
}

function innerMain(): void {
  const rawPath = process.env.BENCH_RAW ?? die('inner: BENCH_RAW not set');
  const rounds = envInt('BENCH_ROUNDS', 30, 1);
  const warmup = envInt('BENCH_WARMUP', 3, 0);
  const seed = envInt('BENCH_SEED', 0, 0);
  const rnd = prng(seed);
  // Inside the outer's scratch directory, which the outer removes even when this process is killed.
  const scratch = mkdtempSync(join(process.env.BENCH_SCRATCH || tmpdir(), 'inner-'));
  const outFile = join(scratch, 'stdout');
  const errFile = join(scratch, 'stderr');
  const memFile = join(scratch, 'time');

  // Both agents keep volatile state in /run/resource-agents (IPaddr2: send_arp pid file; vip: announcer pids).
  // `ip netns exec` gave this process a private mount namespace (slave of the host's), so a tmpfs here hides
  // the host's directory from the agents without touching it.
  let privateRsctmp = false;
  const outerMnt = process.env.BENCH_OUTER_MNTNS;
  if (outerMnt && readlinkSync('/proc/self/ns/mnt') !== outerMnt && existsSync('/run/resource-agents')) {
    must('mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=16m', 'ocfkit-bench', '/run/resource-agents']);
    privateRsctmp = true;
  }

  const timing: Raw['timing'] = {};
  const memoryKiB: Raw['memoryKiB'] = {};
  let measuring = false;
  const record = (table: Record<string, Record<string, number[]>>, c: string, label: string, x: number) => {
    if (!measuring) return;
    ((table[c] ??= {})[label] ??= []).push(x);
  };

  const tail = (file: string): string => {
    let s = '';
    try {
      s = readFileSync(file, 'utf8').trim();
    } catch {
      /* nothing written */
    }
    return s.length > 1500 ? `…${s.slice(-1500)}` : s;
  };

  /** One invocation. stdout/stderr go to files, not pipes: spawnSync then returns when the agent exits,
   *  not when the last background child it left behind closes the inherited pipe. */
  const call = (v: Variant, action: string, interval: number, mem = false): Exec => {
    const env = agentEnv(v, interval);
    const [cmd, args] = mem
      ? [GNU_TIME, ['-f', '%M', '-o', memFile, v.path, action]]
      : [v.path, [action]];
    const out = openSync(outFile, 'w');
    const err = openSync(errFile, 'w');
    if (mem) writeFileSync(memFile, '');
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { env, stdio: ['ignore', out, err], timeout: CALL_TIMEOUT_MS, killSignal: 'SIGKILL' });
    const t1 = process.hrtime.bigint();
    closeSync(out);
    closeSync(err);
    const what = `${v.label} ${action} (interval ${interval}${mem ? ', under GNU time' : ''})`;
    if (r.error) throw new BenchFailure(`${what}: could not run: ${r.error.message}`);
    const res: Exec = { ms: Number(t1 - t0) / 1e6, rc: r.status, signal: r.signal };
    if (mem) {
      const lines = tail(memFile).split('\n').filter((l) => l.trim() !== '');
      const kib = Number(lines[lines.length - 1]);
      if (!Number.isFinite(kib) || kib <= 0) throw new BenchFailure(`${what}: GNU time wrote no %M value: ${tail(memFile)}`);
      res.rssKiB = kib;
    }
    return res;
  };

  const expect = (v: Variant, action: string, interval: number, want: number, r: Exec): void => {
    if (r.rc === want) return;
    const got = r.rc === null ? `killed by ${r.signal}` : `exit code ${r.rc}`;
    const o = tail(outFile);
    const e = tail(errFile);
    throw new BenchFailure(
      `${v.label} ${action} (interval ${interval}) returned ${got}, expected ${want}\n` +
        `  agent: ${v.path}\n` +
        (o && action !== 'meta-data' ? `  stdout:\n${o.replace(/^/gm, '    ')}\n` : '') +
        (e ? `  stderr:\n${e.replace(/^/gm, '    ')}\n` : ''),
    );
  };

  const timed = (c: string, v: Variant, action: string, interval: number, want: number): void => {
    const r = call(v, action, interval);
    expect(v, action, interval, want, r);
    record(timing, c, v.label, r.ms);
  };

  const memory = (c: string, v: Variant, action: string, interval: number, want: number): void => {
    const r = call(v, action, interval, true);
    expect(v, action, interval, want, r);
    record(memoryKiB, c, v.label, r.rssKiB as number);
  };

  const untimed = (v: Variant, action: string, want: number): void => {
    expect(v, action, 0, want, call(v, action, 0));
  };

  /** Bring the address up for a running-monitor case. vip comes up with run_arping=false: the end state is the
   *  same (address + announcers), this start is not measured, and it saves the 500 ms probe per round. */
  const up = (v: Variant) => untimed(v.agent === 'vip' ? VIP_NOARP : v, 'start', 0);
  const down = (v: Variant) => untimed(v.agent === 'vip' ? VIP_NOARP : v, 'stop', 0);

  /** Invariant between units: the floating address is on no interface, so the two agents never overlap. */
  const assertDown = (after: string): void => {
    const out = must('ip', ['-o', 'addr', 'show']);
    if (out.includes(` ${FLOAT_IP}/`)) {
      throw new BenchFailure(`after ${after}: ${FLOAT_IP} is still configured:\n${out}`);
    }
  };

  const floor = (): void => {
    const out = openSync(outFile, 'w');
    const t0 = process.hrtime.bigint();
    const r = spawnSync(TRUE_BIN, [], { env: { PATH: EXEC_PATH }, stdio: ['ignore', out, out] });
    const t1 = process.hrtime.bigint();
    closeSync(out);
    if (r.error || r.status !== 0) throw new BenchFailure(`${TRUE_BIN} failed: ${r.error?.message ?? r.status}`);
    record(timing, C_FLOOR, TRUE_BIN, Number(t1 - t0) / 1e6);
  };

  type Unit = { id: string; run: () => void };
  const units: Unit[] = [{ id: `${C_FLOOR}|${TRUE_BIN}`, run: floor }];
  for (const v of [VIP_DEFAULT, IPADDR2]) {
    units.push(
      { id: `time ${C_MD}|${v.label}`, run: () => timed(C_MD, v, 'meta-data', 0, 0) },
      { id: `time ${C_PROBE}|${v.label}`, run: () => timed(C_PROBE, v, 'monitor', 0, 7) },
      {
        id: `time ${C_MON}|${v.label}`,
        run: () => {
          up(v);
          try {
            timed(C_MON, v, 'monitor', MONITOR_INTERVAL, 0);
          } finally {
            down(v);
          }
        },
      },
      {
        id: `mem ${C_MON}|${v.label}`,
        run: () => {
          up(v);
          try {
            memory(C_MON, v, 'monitor', MONITOR_INTERVAL, 0);
          } finally {
            down(v);
          }
        },
      },
    );
  }
  for (const v of [VIP_DEFAULT, VIP_NOARP, IPADDR2]) {
    units.push(
      {
        id: `time ${C_START}+${C_STOP}|${v.label}`,
        run: () => {
          timed(C_START, v, 'start', 0, 0);
          timed(C_STOP, v, 'stop', 0, 0);
        },
      },
      {
        id: `mem ${C_START}|${v.label}`,
        run: () => {
          memory(C_START, v, 'start', 0, 0);
          untimed(v, 'stop', 0);
        },
      },
    );
  }

  const order: string[][] = [];
  const load1: number[] = [];
  const tty = process.stderr.isTTY;
  const t0 = Date.now();
  const progress = (s: string, final = false) => {
    if (tty) process.stderr.write(`\r\x1b[K${s}${final ? '\n' : ''}`);
    else if (final) process.stderr.write(`${s}\n`);
  };
  try {
    assertDown('namespace setup');
    for (let i = 0; i < warmup + rounds; i++) {
      measuring = i >= warmup;
      const ids: string[] = [];
      if (measuring) load1.push(loadavg()[0] as number);
      for (const u of shuffle(units, rnd)) {
        ids.push(u.id);
        u.run();
        assertDown(u.id);
      }
      if (measuring) order.push(ids);
      const el = ((Date.now() - t0) / 1000).toFixed(0);
      const msg = measuring ? `round ${i - warmup + 1}/${rounds}` : `warm-up round ${i + 1}/${warmup}`;
      progress(`bench: ${msg} (${units.length} cases per round, ${el} s)`, i === warmup + rounds - 1);
      if (!tty && (i + 1 === warmup || (measuring && (i - warmup + 1) % 10 === 0))) {
        process.stderr.write(`bench: ${msg} done, ${el} s\n`);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const raw: Raw = {
    rounds, warmup, seed, privateRsctmp, timing, memoryKiB, order, load1, durationSec: (Date.now() - t0) / 1000,
  };
  writeFileSync(rawPath, JSON.stringify(raw));
}

// ---------------------------------------------------------------------------------------------- outer

function fileId(p: string): { path: string; size: number; mtime: string; ino: number } | null {
  try {
    const real = realpathSync(p);
    const s = statSync(real);
    return { path: real, size: s.size, mtime: s.mtime.toISOString(), ino: s.ino };
  } catch {
    return null;
  }
}

function sha256(p: string): string {
  const h = createHash('sha256');
  const fd = openSync(p, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Copy the vip binary into the scratch directory and drop the copy from the page cache, so that
 *  - a rebuild of dist/ during the run (another engineer, CI) cannot remove or swap the binary under the bench;
 *  - its pages are read back from disk, as on a node where the package was installed and the machine rebooted.
 *    A binary just written by the build sits in the page cache in a form (large folios from one big write) that
 *    makes every mapping of it fault in more pages: on this machine the same bytes showed 52-65 MiB peak RSS
 *    straight after `npm run build` against about 45 MiB when read from disk.
 * BENCH_SNAPSHOT=0 runs VIP_PATH in place instead, in whatever page-cache state it is.
 */
function snapshotVip(src: { path: string; size: number; mtime: string; ino: number }, dir: string): { run: string; sha256: string } {
  for (let attempt = 1; ; attempt++) {
    const copy = join(dir, 'ocfkit');
    copyFileSync(src.path, copy);
    chmodSync(copy, 0o755);
    const again = fileId(src.path);
    if (again && JSON.stringify(again) === JSON.stringify(src) && statSync(copy).size === src.size) {
      const sum = sha256(copy);
      const fd = openSync(copy, 'r');
      fsyncSync(fd); // clean pages only can be dropped
      closeSync(fd);
      must('dd', [`if=${copy}`, 'iflag=nocache', 'count=0', 'status=none']); // posix_fadvise(DONTNEED), whole file
      const link = join(dir, 'vip'); // the multi-call binary picks the agent from argv[0]
      symlinkSync('ocfkit', link);
      return { run: link, sha256: sum };
    }
    if (attempt === 3) throw new BenchFailure(`${src.path} kept changing while being copied (a rebuild in progress?)`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
    const now = fileId(src.path);
    if (!now) throw new BenchFailure(`${src.path} disappeared (a rebuild in progress?)`);
    src = now;
  }
}

function pad(s: string, w: number, right = false): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

function table(head: string[], rows: string[][], rightFrom: number): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => pad(c, w[i] as number, i >= rightFrom)).join('  ').trimEnd();
  return [line(head), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

function fmt(x: number, d = 1): string {
  return Number.isFinite(x) ? x.toFixed(d) : '-';
}

function report(raw: Raw, meta: Record<string, unknown>) {
  const out: string[] = [];
  const say = (s = '') => out.push(s);
  const caseOrder = [C_MON, C_PROBE, C_START, C_STOP, C_MD, C_FLOOR];
  const labelOrder = ['vip', 'vip run_arping=false', 'IPaddr2', TRUE_BIN];
  const labels = (t: Record<string, number[]>) => labelOrder.filter((l) => t[l]);

  const summary: Record<string, Record<string, unknown>> = {};
  const rows: string[][] = [];
  for (const c of caseOrder) {
    const t = raw.timing[c];
    if (!t) continue;
    summary[c] = {};
    const base = t['IPaddr2'];
    for (const l of labels(t)) {
      const xs = t[l] as number[];
      const s = stats(xs);
      const entry: Record<string, unknown> = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round3(v)]));
      let rMed = '';
      let rMin = '';
      let rPair = '';
      if (base && l !== 'IPaddr2') {
        const b = stats(base);
        const paired = xs.map((x, i) => x / (base[i] as number));
        entry.ratioMedian = round3(s.median / b.median);
        entry.ratioMin = round3(s.min / b.min);
        entry.ratioPairedMedian = round3(pct(paired, 0.5));
        rMed = fmt(s.median / b.median, 2);
        rMin = fmt(s.min / b.min, 2);
        rPair = fmt(pct(paired, 0.5), 2);
      }
      summary[c][l] = entry;
      rows.push([c, l, String(s.n), fmt(s.median), fmt(s.p10), fmt(s.p90), fmt(s.min), rMed, rMin, rPair]);
    }
  }
  say('Latency, ms (wall time of spawnSync, agent exit to exit; nothing subtracted)');
  say(
    table(
      ['case', 'agent', 'n', 'median', 'p10', 'p90', 'min', 'vip/IPaddr2 median', 'min', 'paired'],
      rows,
      2,
    ),
  );
  say('  ratio columns: median of vip / median of IPaddr2; min / min; "paired" = median of the per-round ratios');
  say('  "vip" = default parameters (run_arping=true: 500 ms duplicate-address probe before adding);');
  say('  "vip run_arping=false" is like-for-like with IPaddr2, whose run_arping defaults to false.');
  say(`  "${C_FLOOR}" = spawnSync of ${TRUE_BIN} from the harness: the fixed cost included in every row.`);
  say();

  const memRows: string[][] = [];
  const memSummary: Record<string, Record<string, unknown>> = {};
  const perAgent: Record<string, number[]> = {};
  for (const c of [C_MON, C_START]) {
    const t = raw.memoryKiB[c];
    if (!t) continue;
    memSummary[c] = {};
    for (const l of labels(t)) {
      const mib = (t[l] as number[]).map((k) => k / 1024);
      const s = stats(mib);
      memSummary[c][l] = { n: s.n, medianMiB: round3(s.median), maxMiB: round3(s.max), minMiB: round3(s.min) };
      memRows.push([c, l, String(s.n), fmt(s.median), fmt(s.min), fmt(s.max)]);
      const agent = l.startsWith('vip') ? 'vip' : l;
      (perAgent[agent] ??= []).push(...mib);
    }
  }
  for (const [a, mib] of Object.entries(perAgent)) {
    const s = stats(mib);
    memSummary['all'] ??= {};
    memSummary['all'][a] = { n: s.n, medianMiB: round3(s.median), maxMiB: round3(s.max), minMiB: round3(s.min) };
    memRows.push(['all monitor+start runs', a, String(s.n), fmt(s.median), fmt(s.min), fmt(s.max)]);
  }
  say('Peak memory, MiB (GNU time %M: max RSS of the agent process and the children it waited for; separate runs)');
  say(table(['case', 'agent', 'n', 'median', 'min', 'max'], memRows, 2));
  say('  RSS includes the resident file-backed pages of the mapped binary (for vip, the ~120 MiB Node executable),');
  say('  so it depends on how those pages got into the page cache; see bench/README.md ("Peak memory").');
  say();

  const vMon = raw.timing[C_MON]?.['vip'] ?? [];
  const iMon = raw.timing[C_MON]?.['IPaddr2'] ?? [];
  const monRatio = pct(vMon, 0.5) / pct(iMon, 0.5);
  const vipPeak = Math.max(...(perAgent['vip'] ?? [NaN]));
  const monMet = monRatio <= TARGET_MONITOR_RATIO;
  const memMet = vipPeak <= TARGET_PEAK_MIB;
  say('Targets');
  say(
    `  vip monitor / IPaddr2 monitor (median, ${C_MON}, interval ${MONITOR_INTERVAL}) = ${fmt(monRatio, 2)}` +
      `  (target ≤ ${TARGET_MONITOR_RATIO.toFixed(1)})  ${monMet ? 'MET' : 'NOT MET'}`,
  );
  say(
    `  vip peak memory (max over all vip monitor+start runs) = ${fmt(vipPeak)} MiB` +
      `  (target ≤ ${TARGET_PEAK_MIB} MiB)  ${memMet ? 'MET' : 'NOT MET'}`,
  );
  const verdict = {
    monitorRatio: { value: round3(monRatio), target: TARGET_MONITOR_RATIO, met: monMet },
    vipPeakMiB: { value: round3(vipPeak), target: TARGET_PEAK_MIB, met: memMet },
  };
  return { text: out.join('\n'), summary, memSummary, verdict };
}

async function outerMain(): Promise<number> {
  if (process.getuid?.() !== 0) die('must run as root (it creates a network namespace)');
  for (const [p, what] of [
    [VIP_PATH, 'vip agent (run `npm run build` first)'],
    [IPADDR2_PATH, 'IPaddr2 (Debian package resource-agents)'],
    [GNU_TIME, 'GNU time (Debian package time)'],
    [TRUE_BIN, 'true'],
  ] as const) {
    if (!existsSync(p)) die(`missing ${what}: ${p}`);
  }
  const rounds = envInt('BENCH_ROUNDS', 30, 1);
  const warmup = envInt('BENCH_WARMUP', 3, 0);
  const seed = process.env.BENCH_SEED ? envInt('BENCH_SEED', 0, 0) : Math.floor(Math.random() * 2 ** 31);

  const ns = `ocfkit-bench-${process.pid}`;
  const scratch = mkdtempSync(join(tmpdir(), 'ocfkit-bench-outer-'));
  const rawPath = join(scratch, 'raw.json');
  let child: ChildProcess | undefined;
  let nsCreated = false;
  let cleaned = false;
  const leftovers: string[] = [];

  const nsPids = (): number[] =>
    run('ip', ['netns', 'pids', ns]).out.split(/\s+/).filter((p) => /^\d+$/.test(p)).map(Number);
  /** graceMs: let processes the agents left behind finish on their own first (IPaddr2's background ARP
   *  subshell outlives its stop by a few ms); only what is still there afterwards is killed and reported. */
  const cleanup = (graceMs = 0): void => {
    if (cleaned) return;
    cleaned = true;
    if (nsCreated) {
      const until = Date.now() + graceMs;
      while (nsPids().length > 0 && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      // Whatever still runs in the namespace was started by an agent we ran (e.g. a background arping): end it by pid.
      const pids = nsPids();
      for (const pid of pids) {
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        } catch {
          continue;
        }
        leftovers.push(`${pid} ${cmdline}`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      const r = run('ip', ['netns', 'delete', ns]);
      if (r.rc !== 0) process.stderr.write(`bench: WARNING: ip netns delete ${ns} failed: ${r.err.trim()}\n`);
    }
    rmSync(scratch, { recursive: true, force: true });
  };

  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return;
    signalled = sig;
    process.stderr.write(`\nbench: ${sig}, stopping and removing namespace ${ns}\n`);
    if (child && child.exitCode === null && child.pid) {
      try {
        process.kill(child.pid, sig === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
      } catch {
        /* gone */
      }
      setTimeout(() => child?.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5000).unref();
    } else {
      cleanup();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGHUP' ? 1 : 15));
    }
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  process.on('exit', () => cleanup());

  const vipBin = fileId(VIP_PATH);
  if (!vipBin) die(`cannot resolve ${VIP_PATH}`);
  const useSnapshot = process.env.BENCH_SNAPSHOT !== '0';
  let vip: { run: string; sha256: string };
  try {
    vip = useSnapshot ? snapshotVip(vipBin, scratch) : { run: VIP_PATH, sha256: sha256(vipBin.path) };
  } catch (e) {
    rmSync(scratch, { recursive: true, force: true });
    die(e instanceof Error ? e.message : String(e));
  }
  const meta: Record<string, unknown> = {
    date: new Date().toISOString(),
    host: hostname(),
    kernel: release(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    harnessNode: process.version,
    mode: `harness re-executed inside the namespace (ip netns exec ${ns} node run.ts --inner); agents spawned directly`,
    rounds,
    warmup,
    seed,
    vip: { path: VIP_PATH, binary: vipBin, sha256: vip.sha256, ranFrom: vip.run, snapshot: useSnapshot },
    ipaddr2: { path: IPADDR2_PATH, package: run('dpkg-query', ['-W', '-f', '${Version}', 'resource-agents']).out },
    env: {
      PATH: EXEC_PATH, OCF_ROOT: '/usr/lib/ocf', OCF_RESOURCE_INSTANCE: INSTANCE, OCF_RESKEY_ip: FLOAT_IP,
      OCF_RESKEY_cidr_netmask: NETMASK, OCF_RESKEY_nic: NIC, OCF_RESKEY_CRM_meta_timeout: '20000',
      OCF_RESKEY_CRM_meta_interval: `${MONITOR_INTERVAL} (monitor, running) / 0 (others)`,
    },
    loadavgBefore: loadavg(),
  };

  let code = 0;
  try {
    must('ip', ['netns', 'add', ns]);
    nsCreated = true;
    must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    must('ip', ['-n', ns, 'link', 'add', NIC, 'type', 'veth', 'peer', 'name', PEER]);
    must('ip', ['-n', ns, 'link', 'set', NIC, 'up']);
    must('ip', ['-n', ns, 'link', 'set', PEER, 'up']);
    must('ip', ['-n', ns, 'addr', 'add', STATIC_CIDR, 'dev', NIC]);
    process.stderr.write(
      `bench: namespace ${ns} (${NIC}<->${PEER}, ${STATIC_CIDR}); ${warmup} warm-up + ${rounds} rounds, seed ${seed}\n`,
    );

    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NODE_EXTRA_CA_CERTS') env[k] = v;
    Object.assign(env, {
      BENCH_RAW: rawPath,
      BENCH_ROUNDS: String(rounds),
      BENCH_WARMUP: String(warmup),
      BENCH_SEED: String(seed),
      BENCH_OUTER_MNTNS: readlinkSync('/proc/self/ns/mnt'),
      BENCH_VIP_RUN: vip.run,
      BENCH_SCRATCH: scratch,
    });
    const script = fileURLToPath(import.meta.url);
    const c = spawn('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, script, '--inner'], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child = c;
    const [rc, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((res, rej) => {
      c.on('error', rej);
      c.on('exit', (r, s) => res([r, s]));
    });
    if (signalled) {
      code = 128 + (signalled === 'SIGINT' ? 2 : signalled === 'SIGHUP' ? 1 : 15);
      return code;
    }
    if (rc !== 0) {
      process.stderr.write(`bench: FAILED (measurement process ${sig ? `killed by ${sig}` : `exit code ${rc}`})\n`);
      code = 1;
      return code;
    }

    const raw = JSON.parse(readFileSync(rawPath, 'utf8')) as Raw;
    meta.loadavgAfter = loadavg();
    meta.durationSec = round3(raw.durationSec);
    meta.privateRsctmp = raw.privateRsctmp;
    const vipAfter = fileId(VIP_PATH);
    const rebuilt = JSON.stringify(vipAfter) !== JSON.stringify(vipBin);
    meta.vipBinaryChangedDuringRun = rebuilt;

    const rep = report(raw, meta);
    // Clean up before printing so leftover processes (if any) can be reported.
    cleanup(LEFTOVER_GRACE_MS);
    process.stdout.write(
      `ocfkit bench: vip vs IPaddr2 — ${raw.rounds} interleaved rounds (+${raw.warmup} warm-up), seed ${raw.seed}, ` +
        `${cpus().length} CPUs, load ${(meta.loadavgBefore as number[]).map((x) => x.toFixed(2)).join(' ')} → ` +
        `${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${raw.durationSec.toFixed(0)} s\n` +
        `vip: ${VIP_PATH} (sha256 ${vip.sha256.slice(0, 12)}…, ` +
        `${useSnapshot ? 'run from a private copy whose page cache was dropped first' : 'run in place'}); ` +
        `IPaddr2: resource-agents ${String((meta.ipaddr2 as { package: string }).package)}\n` +
        `harness runs inside the namespace (re-executed under ip netns exec); agents get a Pacemaker-like ` +
        `environment; ${raw.privateRsctmp ? 'private tmpfs on /run/resource-agents' : 'host /run/resource-agents'}\n\n` +
        `${rep.text}\n`,
    );
    if (rebuilt) {
      process.stdout.write(
        useSnapshot
          ? `NOTE: ${VIP_PATH} was rebuilt during the run; the bench ran its snapshot taken at the start.\n`
          : `WARNING: ${VIP_PATH} changed during the run (rebuilt?); the numbers may mix two builds.\n`,
      );
    }
    if (leftovers.length) {
      process.stdout.write(
        `NOTE: ${leftovers.length} process(es) started by the agents were still running in the namespace ` +
          `${LEFTOVER_GRACE_MS / 1000} s after the last agent exited, and were killed:\n`,
      );
      for (const l of leftovers) process.stdout.write(`  ${l}\n`);
    }
    meta.leftoverProcesses = leftovers;

    mkdirSync(RESULTS, { recursive: true });
    const stamp = (meta.date as string).replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const doc = {
      meta,
      units: { timing: 'ms per round', memory: 'KiB per round (GNU time %M)' },
      summary: { timingMs: rep.summary, memoryMiB: rep.memSummary },
      verdict: rep.verdict,
      raw: { timingMs: raw.timing, memoryKiB: raw.memoryKiB, load1PerRound: raw.load1, orderPerRound: raw.order },
    };
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    const file = join(RESULTS, `vip-${stamp}.json`);
    writeFileSync(file, text);
    writeFileSync(join(RESULTS, 'latest.json'), text);
    process.stdout.write(`\nraw numbers: ${file} (and ${join(RESULTS, 'latest.json')})\n`);
    return code;
  } catch (e) {
    process.stderr.write(`bench: FAILED: ${e instanceof Error ? e.message : String(e)}\n`);
    code = 1;
    return code;
  } finally {
    cleanup();
    if (nsCreated && !run('ip', ['netns', 'list']).out.split('\n').some((l) => l.split(' ')[0] === ns)) {
      process.stderr.write(`bench: namespace ${ns} removed\n`);
    }
  }
}

// ---------------------------------------------------------------------------------------------- main

if (process.argv.includes('--inner')) {
  try {
    innerMain();
  } catch (e) {
    if (e instanceof BenchFailure) {
      process.stderr.write(`\nbench: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
} else {
  outerMain().then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
