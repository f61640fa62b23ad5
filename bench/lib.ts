// Shared by the bench parts (bench/vip.ts, bench/fs-mount.ts) and their driver (bench/run.ts): process helpers,
// statistics, the agent invoker and the round loop of the inner processes, the signal-aware session of the outer
// process, the private copy of the ocfkit binary, tables and result files. Only node: built-ins are imported.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync,
  readSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { cpus, hostname, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------- constants

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '..');
export const RESULTS = join(HERE, 'results');
/** The driver: what the outer processes re-execute as `node run.ts --inner PART`. */
export const RUN_SCRIPT = join(HERE, 'run.ts');
export const GNU_TIME = '/usr/bin/time';
export const TRUE_BIN = '/bin/true';
// What pacemaker-execd has under systemd; the agent gets nothing else from the harness's environment.
export const EXEC_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const LEFTOVER_GRACE_MS = 3000; // at the end, time allowed for the agents' background processes to finish
export const CALL_TIMEOUT_MS = 60_000; // hard stop for one agent invocation (the agents' own timeout is 20 s)
export const C_FLOOR = 'harness floor';

// ---------------------------------------------------------------------------------------------- basics

export class BenchFailure extends Error {}

export function die(msg: string, code = 2): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(code);
}

export function run(cmd: string, args: string[]): { rc: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { rc: null, out: '', err: String(r.error.message) };
  return { rc: r.status, out: r.stdout, err: r.stderr };
}

export function must(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.rc !== 0) throw new BenchFailure(`${[cmd, ...args].join(' ')} failed (rc ${r.rc}): ${r.err.trim()}`);
  return r.out;
}

/**
 * A network namespace NS with a veth pair NIC<->PEER, both ends and lo up. `created` runs as soon
 * as the namespace exists, so that a failure after it still has it deleted.
 */
export function vethNamespace(ns: string, nic: string, peer: string, created: () => void): void {
  must('ip', ['netns', 'add', ns]);
  created();
  must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  must('ip', ['-n', ns, 'link', 'add', nic, 'type', 'veth', 'peer', 'name', peer]);
  must('ip', ['-n', ns, 'link', 'set', nic, 'up']);
  must('ip', ['-n', ns, 'link', 'set', peer, 'up']);
}

export function envInt(name: string, dflt: number, min: number): number {
  const s = process.env[name];
  if (s === undefined || s === '') return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) die(`${name} must be an integer ≥ ${min}, got "${s}"`);
  return n;
}

/** Blocks the thread: only for the outer's setup and cleanup, never while something should be reaped. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** mulberry32: a small seeded PRNG, so an order can be replayed with BENCH_SEED. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(xs: T[], rnd: () => number): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = a[i] as T;
    a[i] = a[j] as T;
    a[j] = t;
  }
  return a;
}

// ---------------------------------------------------------------------------------------------- statistics

export function sorted(xs: readonly number[]): number[] {
  return xs.slice().sort((a, b) => a - b);
}

/** Percentile with linear interpolation between closest ranks (R type 7). */
export function pct(xs: readonly number[], p: number): number {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (h - lo);
}

export function stats(xs: readonly number[]) {
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

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * One latency row's numbers: the statistics of `xs` and, against the reference agent's samples `base` of the same
 * rounds, median/median, min/min and the median of the per-round ratios ("paired"); against `prev`, the previous
 * build's samples of the same rounds (BENCH_PREV), median/median and paired.
 */
export function compare(xs: readonly number[], base: readonly number[] | undefined, prev?: readonly number[]) {
  const s = stats(xs);
  const entry: Record<string, unknown> = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round3(v)]));
  const cells = { rMed: '', rMin: '', rPair: '', rPrev: '', rPrevPair: '' };
  if (base) {
    const b = stats(base);
    const paired = xs.map((x, i) => x / (base[i] as number));
    entry.ratioMedian = round3(s.median / b.median);
    entry.ratioMin = round3(s.min / b.min);
    entry.ratioPairedMedian = round3(pct(paired, 0.5));
    cells.rMed = fmt(s.median / b.median, 2);
    cells.rMin = fmt(s.min / b.min, 2);
    cells.rPair = fmt(pct(paired, 0.5), 2);
  }
  if (prev && prev.length === xs.length) {
    const m = pct(prev, 0.5);
    const paired = pct(xs.map((x, i) => x / (prev[i] as number)), 0.5);
    entry.ratioPrevMedian = round3(s.median / m);
    entry.ratioPrevPairedMedian = round3(paired);
    cells.rPrev = fmt(s.median / m, 2);
    cells.rPrevPair = fmt(paired, 2);
  }
  return { s, entry, ...cells };
}

// ---------------------------------------------------------------------------------------------- the previous build

/**
 * BENCH_PREV=DIR: an older ocfkit build (its executable and agent links, as `npm run build` or
 * scripts/bench-prev.sh leave them), run as a third contestant in the same interleaved rounds, so that a change of
 * runtime or build is measured against what it replaces on the same machine, at the same load.
 */
export const PREV_DIR = process.env.BENCH_PREV ? resolve(process.env.BENCH_PREV) : undefined;

/** The previous build's label for one of today's: `vip run_arping=false` -> `vip@prev run_arping=false`. */
export function prevLabel(label: string): string {
  return label.replace(/^(\S+)/, '$1@prev');
}

/** The agent (not the configuration) a label stands for: `vip@prev run_arping=false` -> `vip@prev`. */
export function agentOf(label: string): string {
  return label.split(' ')[0] as string;
}

/** What BENCH_PREV lacks for these agents (nothing when it is unset). */
export function prevMissing(agents: readonly string[]): string[] {
  if (!PREV_DIR) return [];
  return agents.filter((a) => !existsSync(join(PREV_DIR as string, a)))
    .map((a) => `BENCH_PREV: no ${a} in ${PREV_DIR} (scripts/bench-prev.sh REV DIR builds one)`);
}

// ---------------------------------------------------------------------------------------------- text

export function pad(s: string, w: number, right = false): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

export function table(head: string[], rows: string[][], rightFrom: number): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => pad(c, w[i] as number, i >= rightFrom)).join('  ').trimEnd();
  return [line(head), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

export function fmt(x: number, d = 1): string {
  return Number.isFinite(x) ? x.toFixed(d) : '-';
}

export function loadText(xs: readonly number[]): string {
  return xs.map((x) => x.toFixed(2)).join(' ');
}

// ---------------------------------------------------------------------------------------------- inner: invoking agents

/** What an inner process needs to know about one agent configuration. */
export interface Variant {
  readonly label: string;
  readonly path: string;
}

export interface Exec {
  ms: number;
  rc: number | null;
  signal: string | null;
  rssKiB?: number;
}

/** case -> variant label -> one value per measured round */
export type Samples = Record<string, Record<string, number[]>>;

/**
 * Runs agents from an inner process and records what they cost. stdout/stderr go to files, not pipes: spawnSync then
 * returns when the agent exits, not when the last background child it left behind closes the inherited pipe.
 */
export class Invoker {
  readonly outFile: string;
  readonly errFile: string;
  readonly memFile: string;
  readonly timing: Samples = {};
  readonly memoryKiB: Samples = {};
  /** Off during warm-up rounds: everything runs and is checked, nothing is kept. */
  measuring = false;
  private readonly env: (v: Variant, action: string, extra: Readonly<Record<string, string>>) => Record<string, string>;

  constructor(
    scratch: string,
    env: (v: Variant, action: string, extra: Readonly<Record<string, string>>) => Record<string, string>,
  ) {
    this.env = env;
    this.outFile = join(scratch, 'stdout');
    this.errFile = join(scratch, 'stderr');
    this.memFile = join(scratch, 'time');
  }

  record(table: Samples, c: string, label: string, x: number): void {
    if (!this.measuring) return;
    ((table[c] ??= {})[label] ??= []).push(x);
  }

  tail(file: string, max = 1500): string {
    const s = (readText(file) ?? '').trim();
    return s.length > max ? `…${s.slice(-max)}` : s;
  }

  /** One invocation; `extra` are variables added for this call (interval, check level). */
  call(v: Variant, action: string, extra: Readonly<Record<string, string>> = {}, mem = false): Exec {
    const env = this.env(v, action, extra);
    const [cmd, args] = mem
      ? [GNU_TIME, ['-f', '%M', '-o', this.memFile, v.path, action]]
      : [v.path, [action]];
    const out = openSync(this.outFile, 'w');
    const err = openSync(this.errFile, 'w');
    if (mem) writeFileSync(this.memFile, '');
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { env, stdio: ['ignore', out, err], timeout: CALL_TIMEOUT_MS, killSignal: 'SIGKILL' });
    const t1 = process.hrtime.bigint();
    closeSync(out);
    closeSync(err);
    const what = `${v.label} ${action} (${describeExtra(extra)}${mem ? ', under GNU time' : ''})`;
    if (r.error) throw new BenchFailure(`${what}: could not run: ${r.error.message}`);
    const res: Exec = { ms: Number(t1 - t0) / 1e6, rc: r.status, signal: r.signal };
    if (mem) {
      const lines = this.tail(this.memFile).split('\n').filter((l) => l.trim() !== '');
      const kib = Number(lines[lines.length - 1]);
      if (!Number.isFinite(kib) || kib <= 0) throw new BenchFailure(`${what}: GNU time wrote no %M value: ${this.tail(this.memFile)}`);
      res.rssKiB = kib;
    }
    return res;
  }

  expect(v: Variant, action: string, extra: Readonly<Record<string, string>>, want: number, r: Exec): void {
    if (r.rc === want) return;
    const got = r.rc === null ? `killed by ${r.signal}` : `exit code ${r.rc}`;
    const o = this.tail(this.outFile);
    const e = this.tail(this.errFile);
    throw new BenchFailure(
      `${v.label} ${action} (${describeExtra(extra)}) returned ${got}, expected ${want}\n` +
        `  agent: ${v.path}\n` +
        (o && action !== 'meta-data' ? `  stdout:\n${o.replace(/^/gm, '    ')}\n` : '') +
        (e ? `  stderr:\n${e.replace(/^/gm, '    ')}\n` : ''),
    );
  }

  timed(c: string, v: Variant, action: string, extra: Readonly<Record<string, string>>, want: number): Exec {
    const r = this.call(v, action, extra);
    this.expect(v, action, extra, want, r);
    this.record(this.timing, c, v.label, r.ms);
    return r;
  }

  memory(c: string, v: Variant, action: string, extra: Readonly<Record<string, string>>, want: number): void {
    const r = this.call(v, action, extra, true);
    this.expect(v, action, extra, want, r);
    this.record(this.memoryKiB, c, v.label, r.rssKiB as number);
  }

  untimed(v: Variant, action: string, want: number, extra: Readonly<Record<string, string>> = {}): void {
    this.expect(v, action, extra, want, this.call(v, action, extra));
  }

  /** spawnSync of /bin/true from the harness: the fixed cost included in every timed call. */
  floor(): void {
    const out = openSync(this.outFile, 'w');
    const t0 = process.hrtime.bigint();
    const r = spawnSync(TRUE_BIN, [], { env: { PATH: EXEC_PATH }, stdio: ['ignore', out, out] });
    const t1 = process.hrtime.bigint();
    closeSync(out);
    if (r.error || r.status !== 0) throw new BenchFailure(`${TRUE_BIN} failed: ${r.error?.message ?? r.status}`);
    this.record(this.timing, C_FLOOR, TRUE_BIN, Number(t1 - t0) / 1e6);
  }
}

function describeExtra(extra: Readonly<Record<string, string>>): string {
  const parts = Object.entries(extra).map(([k, v]) => `${k.replace(/^OCF_RESKEY_CRM_meta_/, '')} ${v}`);
  return parts.length ? parts.join(', ') : 'interval 0';
}

export interface Unit {
  id: string;
  run: () => void | Promise<void>;
}

/**
 * Runs warm-up + measured rounds of `units`, shuffled afresh every round, calling `after(id)` after each unit (the
 * invariant check). Measured rounds switch the invoker's recording on. Returns the order and the 1-minute load of
 * every measured round.
 */
export async function runRounds(opts: {
  name: string;
  units: Unit[];
  rounds: number;
  warmup: number;
  rnd: () => number;
  invoker: { measuring: boolean };
  after: (id: string) => void;
  t0: number;
  /** Every how many measured rounds a line is printed when stderr is not a terminal. */
  every?: number;
}): Promise<{ order: string[][]; load1: number[] }> {
  const { name, units, rounds, warmup, rnd, invoker, after, t0 } = opts;
  const order: string[][] = [];
  const load1: number[] = [];
  const tty = process.stderr.isTTY;
  const every = opts.every ?? 10;
  const progress = (s: string, final = false) => {
    if (tty) process.stderr.write(`\r\x1b[K${s}${final ? '\n' : ''}`);
    else if (final) process.stderr.write(`${s}\n`);
  };
  for (let i = 0; i < warmup + rounds; i++) {
    const measuring = i >= warmup;
    invoker.measuring = measuring;
    const ids: string[] = [];
    if (measuring) load1.push(loadavg()[0] as number);
    for (const u of shuffle(units, rnd)) {
      ids.push(u.id);
      await u.run();
      after(u.id);
    }
    if (measuring) order.push(ids);
    const el = ((Date.now() - t0) / 1000).toFixed(0);
    const msg = measuring ? `${name} round ${i - warmup + 1}/${rounds}` : `${name} warm-up round ${i + 1}/${warmup}`;
    progress(`bench: ${msg} (${units.length} cases per round, ${el} s)`, i === warmup + rounds - 1);
    if (!tty && (i + 1 === warmup || (measuring && (i - warmup + 1) % every === 0))) {
      process.stderr.write(`bench: ${msg} done, ${el} s\n`);
    }
  }
  invoker.measuring = false;
  return { order, load1 };
}

// ---------------------------------------------------------------------------------------------- outer: session

const SIGNAL_CODE: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * The outer process's state across parts: SIGINT/SIGTERM/SIGHUP go to the running inner process (which the part then
 * cleans up after); with none running, every registered cleanup runs and the process exits. Cleanups also run on
 * any exit, last registered first.
 */
export class Session {
  signalled: NodeJS.Signals | undefined;
  private child: ChildProcess | undefined;
  private readonly cleanups: Array<{ what: string; fn: () => void }> = [];

  constructor() {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, (sig) => this.onSignal(sig));
    process.on('exit', () => this.cleanupAll());
  }

  /** Registers a cleanup; the returned function runs it now (once) and unregisters it. */
  defer(what: string, fn: () => void): () => void {
    const entry = { what, fn };
    this.cleanups.push(entry);
    return () => {
      const i = this.cleanups.indexOf(entry);
      if (i < 0) return;
      this.cleanups.splice(i, 1);
      fn();
    };
  }

  cleanupAll(): void {
    while (this.cleanups.length > 0) {
      const c = this.cleanups.pop() as { what: string; fn: () => void };
      try {
        c.fn();
      } catch (e) {
        process.stderr.write(`bench: WARNING: cleanup (${c.what}) failed: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  }

  exitCode(): number {
    return 128 + (this.signalled ? (SIGNAL_CODE[this.signalled] ?? 15) : 15);
  }

  /** Spawns the inner process and waits for it. */
  async runChild(cmd: string, args: string[], env: Record<string, string>): Promise<[number | null, NodeJS.Signals | null]> {
    const c = spawn(cmd, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
    this.child = c;
    try {
      return await new Promise<[number | null, NodeJS.Signals | null]>((res, rej) => {
        c.on('error', rej);
        c.on('exit', (r, s) => res([r, s]));
      });
    } finally {
      this.child = undefined;
    }
  }

  private onSignal(sig: NodeJS.Signals): void {
    if (this.signalled) return;
    this.signalled = sig;
    process.stderr.write(`\nbench: ${sig}, stopping and cleaning up\n`);
    const child = this.child;
    if (child && child.exitCode === null && child.pid) {
      try {
        process.kill(child.pid, sig === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
      } catch {
        /* gone */
      }
      setTimeout(() => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5000).unref();
    } else {
      this.cleanupAll();
      process.exit(this.exitCode());
    }
  }
}

/** The environment for an inner process: the outer's, without what would slow every Node start-up. */
export function innerEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NODE_EXTRA_CA_CERTS') env[k] = v;
  return Object.assign(env, extra);
}

/**
 * Waits up to graceMs for the processes `pids()` lists to finish on their own (what the agents started in the
 * background), then kills what is left by pid and lists each one in `leftovers` ("PID command line").
 */
export function endLeftovers(pids: () => number[], graceMs: number, leftovers: string[]): void {
  const until = Date.now() + graceMs;
  while (pids().length > 0 && Date.now() < until) sleepSync(100);
  for (const pid of pids()) {
    const cmdline = readText(`/proc/${pid}/cmdline`);
    if (cmdline === undefined) continue;
    leftovers.push(`${pid} ${cmdline.replace(/\0/g, ' ').trim()}`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Processes whose mount namespace is `ns` (a /proc/PID/ns/mnt link): an inner, and anything it or an agent left. */
export function mntnsPids(ns: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/mnt`) === ns) out.push(Number(d));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

/**
 * Ends every process of the private mount namespace `ns`. graceMs: what the agents left behind may first finish on
 * its own; whatever is still there afterwards is killed by pid and listed in `leftovers`. With the namespace's last
 * process gone, the kernel drops its mounts; one that will not die goes to `problems`.
 */
export function endMountNamespace(ns: string, graceMs: number, leftovers: string[], problems: string[]): void {
  endLeftovers(() => mntnsPids(ns), graceMs, leftovers);
  const gone = Date.now() + 5000;
  while (mntnsPids(ns).length > 0 && Date.now() < gone) sleepSync(50);
  if (mntnsPids(ns).length > 0) problems.push(`processes of the private mount namespace would not die: ${mntnsPids(ns).join(' ')}`);
}

/** Detaches the loop devices, then checks that none of the images is still attached (an image whose namespace is
 *  not torn down yet is only marked autoclear: it is given 3 s). */
export function detachLoops(loops: readonly string[], images: readonly string[], problems: string[]): void {
  for (const l of loops) {
    const r = run('losetup', ['-d', l]);
    if (r.rc !== 0) problems.push(`losetup -d ${l}: ${r.err.trim()}`);
  }
  for (const img of images) {
    const until = Date.now() + 3000;
    while (run('losetup', ['-j', img]).out.trim() !== '' && Date.now() < until) sleepSync(50);
    const still = run('losetup', ['-j', img]).out.trim();
    if (still) problems.push(`loop device still attached: ${still}`);
  }
}

/** The head of every part's `meta`: when, where, on what. */
export function hostMeta() {
  return {
    date: new Date().toISOString(),
    host: hostname(),
    kernel: release(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    harnessNode: process.version,
  };
}

/**
 * Runs a part's inner process and says how it ended: 0 when it exited 0; otherwise the part's exit code (the
 * signal's when the bench was interrupted, 1 with a message when the inner failed).
 */
export async function runInner(session: Session, part: string, cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  const [rc, sig] = await session.runChild(cmd, args, env);
  if (session.signalled) return session.exitCode();
  if (rc === 0) return 0;
  process.stderr.write(`bench: ${part} FAILED (measurement process ${sig ? `killed by ${sig}` : `exit code ${rc}`})\n`);
  return 1;
}

// ---------------------------------------------------------------------------------------------- outer: the binary

export interface FileId {
  path: string;
  size: number;
  mtime: string;
  ino: number;
}

export function fileId(p: string): FileId | null {
  try {
    const real = realpathSync(p);
    const s = statSync(real);
    return { path: real, size: s.size, mtime: s.mtime.toISOString(), ino: s.ino };
  } catch {
    return null;
  }
}

export function sha256(p: string): string {
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

/** One agent as the bench runs it: the configured path, the binary it resolved to, and what actually runs. */
export interface AgentBinary {
  path: string;
  binary: FileId;
  sha256: string;
  ranFrom: string;
  snapshot: boolean;
}

/**
 * Copy the ocfkit binary into the scratch directory and drop the copy from the page cache, so that
 *  - a rebuild of dist/ during the run (another engineer, CI) cannot remove or swap the binary under the bench;
 *  - its pages are read back from disk, as on a node where the package was installed and the machine rebooted.
 *    A binary just written by the build sits in the page cache in a form (large folios from one big write) that
 *    makes every mapping of it fault in more pages: on this machine the same bytes showed 52-65 MiB peak RSS
 *    straight after `npm run build` against about 45 MiB when read from disk.
 * The agent is then run through a symlink named after it (the multi-call binary picks the agent from argv[0]).
 * One copy per distinct binary: vip and fs-mount normally share it. BENCH_SNAPSHOT=0 runs `path` in place instead,
 * in whatever page-cache state it is.
 */
export class Binaries {
  private readonly copies = new Map<string, { dir: string; sha256: string }>();
  readonly snapshot = process.env.BENCH_SNAPSHOT !== '0';
  private readonly scratch: string;

  constructor(scratch: string) {
    this.scratch = scratch;
  }

  prepare(agent: string, path: string): AgentBinary {
    const id = fileId(path);
    if (!id) throw new BenchFailure(`cannot resolve ${path}`);
    if (!this.snapshot) return { path, binary: id, sha256: sha256(id.path), ranFrom: path, snapshot: false };
    let copy = this.copies.get(id.path);
    let src = id;
    if (!copy) {
      const dir = join(this.scratch, `bin${this.copies.size}`);
      mkdirSync(dir);
      for (let attempt = 1; ; attempt++) {
        const file = join(dir, 'ocfkit');
        copyFileSync(src.path, file);
        chmodSync(file, 0o755);
        const again = fileId(src.path);
        if (again && JSON.stringify(again) === JSON.stringify(src) && statSync(file).size === src.size) {
          const sum = sha256(file);
          const fd = openSync(file, 'r');
          fsyncSync(fd); // clean pages only can be dropped
          closeSync(fd);
          must('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']); // posix_fadvise(DONTNEED), whole file
          copy = { dir, sha256: sum };
          this.copies.set(id.path, copy);
          break;
        }
        if (attempt === 3) throw new BenchFailure(`${src.path} kept changing while being copied (a rebuild in progress?)`);
        sleepSync(5000);
        const now = fileId(src.path);
        if (!now) throw new BenchFailure(`${src.path} disappeared (a rebuild in progress?)`);
        src = now;
      }
    }
    const link = join(copy.dir, agent);
    if (!existsSync(link)) symlinkSync('ocfkit', link);
    return { path, binary: src, sha256: copy.sha256, ranFrom: link, snapshot: true };
  }
}

/** `ocfkit --version` of the build (run on the configured file, never on the private copy whose cache was dropped). */
export function buildVersion(b: AgentBinary): string {
  const r = spawnSync(b.binary.path, ['--version'], { encoding: 'utf8', env: { PATH: EXEC_PATH }, timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : '?';
}

/** An agent binary as the results JSON records it. */
export function binaryMeta(b: AgentBinary) {
  return { path: b.path, binary: b.binary, sha256: b.sha256, ranFrom: b.ranFrom, snapshot: b.snapshot, version: buildVersion(b) };
}

/** What the header says about how an agent binary ran. */
export function binaryNote(b: AgentBinary): string {
  return `${b.path} (${buildVersion(b)}, sha256 ${b.sha256.slice(0, 12)}…, ` +
    `${b.snapshot ? 'run from a private copy whose page cache was dropped first' : 'run in place'})`;
}

/** The NOTE/WARNING printed when the configured binary changed while the bench ran. */
export function rebuiltNote(b: AgentBinary): string | undefined {
  if (JSON.stringify(fileId(b.path)) === JSON.stringify(b.binary)) return undefined;
  return b.snapshot
    ? `NOTE: ${b.path} was rebuilt during the run; the bench ran its snapshot taken at the start.\n`
    : `WARNING: ${b.path} changed during the run (rebuilt?); the numbers may mix two builds.\n`;
}

// ---------------------------------------------------------------------------------------------- outer: results

/**
 * writeResults, and the line that says where the numbers went. LATEST is what latest.json keeps
 * when the run's own file holds more than belongs in a tracked file (one record per monitor run).
 */
export function saveResults(part: string, date: string, doc: unknown, latest: unknown = doc): void {
  const file = writeResults(part, date, doc, latest);
  process.stdout.write(`\nraw numbers: ${file} (and, under "${part}", ${join(RESULTS, 'latest.json')})\n`);
}

/** The report of a part that failed outside its inner process; its exit code. */
export function partFailed(part: string, e: unknown): number {
  process.stderr.write(`bench: ${part} FAILED: ${e instanceof Error ? e.message : String(e)}\n`);
  return 1;
}

/**
 * Writes `bench/results/PART-STAMP.json` and puts the document under its part's key in `latest.json`, which holds the
 * latest run of every part (a BENCH_ONLY run replaces only its own part). Returns the file written.
 */
export function writeResults(part: string, date: string, doc: unknown, latestDoc: unknown = doc): string {
  mkdirSync(RESULTS, { recursive: true });
  const stamp = date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  const file = join(RESULTS, `${part}-${stamp}.json`);
  writeFileSync(file, text);
  const latestPath = join(RESULTS, 'latest.json');
  let latest: Record<string, unknown> = {};
  try {
    const old = JSON.parse(readFileSync(latestPath, 'utf8')) as Record<string, unknown>;
    // Before the fs-mount part existed, latest.json was the vip document itself.
    latest = 'meta' in old && 'verdict' in old ? { vip: old } : old;
  } catch {
    /* none yet, or unreadable: start afresh */
  }
  latest[part] = latestDoc;
  const ordered: Record<string, unknown> = {};
  for (const k of ['vip', 'fs-mount', ...Object.keys(latest)]) if (k in latest) ordered[k] = latest[k];
  writeFileSync(latestPath, `${JSON.stringify(ordered, null, 2)}\n`);
  return file;
}

export function removeTree(p: string): void {
  rmSync(p, { recursive: true, force: true });
}
