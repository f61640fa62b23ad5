// fs-mount vs ocf:heartbeat:Filesystem on the same loop devices: latency of monitor (depth 0 and 20), probe, start and
// stop, peak memory, and a stop against 50 processes holding the mount, all measured interleaved.
// Driven by bench/run.ts (`npm run bench`, BENCH_ONLY=fs-mount); see bench/README.md for what is measured and how to
// read the output.
//
// Two processes:
//   outer  makes one sparse image file per filesystem type in its scratch directory, attaches each to a loop device
//          and formats it (nothing is mounted on the host), re-executes the driver in a private mount namespace
//          (`unshare --mount --propagation private node run.ts --inner fs-mount`), and always cleans up: it kills every
//          process left in that namespace (which takes the namespace and its mounts with it), detaches the loop
//          devices and removes the images (normal exit, failure, SIGINT/SIGTERM/SIGHUP).
//          It prints the report and writes bench/results/fs-mount-*.json.
//   inner  mounts a tmpfs on /run/resource-agents, runs every agent invocation with spawnSync, spawns the holder
//          processes, and writes the raw samples to a file the outer names.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync, copyFileSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync,
  readlinkSync, statSync, writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lib from './lib.ts';

const {
  BenchFailure, C_FLOOR, EXEC_PATH, GNU_TIME, Invoker, LEFTOVER_GRACE_MS, PREV_DIR, REPO, RUN_SCRIPT, TRUE_BIN, binaryNote,
  compare, die, envInt, fmt, innerEnv, loadText, must, pct, prevMissing, prng, readText, rebuiltNote, removeTree, round3, run,
  runRounds, shuffle, sleepSync, stats, table,
} = lib;
type Variant = lib.Variant;
type Unit = lib.Unit;
type Samples = lib.Samples;

// ---------------------------------------------------------------------------------------------- constants

export const FS_MOUNT_PATH = process.env.BENCH_FS_MOUNT || join(REPO, 'dist', 'fs-mount');
const FILESYSTEM_PATH = '/usr/lib/ocf/resource.d/heartbeat/Filesystem';
const UNSHARE = 'unshare';
const SLEEP_BIN = '/usr/bin/sleep';
/** A small shared library the mmap-only holders preload from the mount (ld.so maps it and closes the file). */
const PRELOAD_CANDIDATES = [
  '/lib/x86_64-linux-gnu/libdl.so.2', '/lib/aarch64-linux-gnu/libdl.so.2', '/usr/lib64/libdl.so.2', '/lib64/libdl.so.2',
];
const MKFS: Record<string, string[]> = {
  // No lazy initialisation: otherwise ext4lazyinit zeroes inode tables in the background during the first rounds.
  ext4: ['mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0'],
  xfs: ['mkfs.xfs', '-q', '-f'],
};
const IMAGE_MIB = 512; // sparse; mkfs.xfs wants at least 300 MiB
const INSTANCE = 'bench_fs';
const TIMEOUT_MS = 20000; // OCF_RESKEY_CRM_meta_timeout of every call, as in the vip part
const MONITOR_INTERVAL = 20000; // depth 0: fs-mount's and Filesystem's advertised interval
const DEEP_INTERVAL = 121000; // depth 20: fs-mount's advertised interval
/** sleep's lifetime: a safety net only (the harness and the outer kill them); long enough for the slowest stop. */
const HOLD_SECONDS = '600';
const HOLDERS = { cwd: 20, fd: 20, mmap: 10 } as const;
const N_HOLDERS = HOLDERS.cwd + HOLDERS.fd + HOLDERS.mmap;
const READY_MS = 5000; // holders must be holding within this time after spawning
const EXIT_WAIT_MS = 5000; // holders and controls must have been reaped within this time after the stop

// Issue 15's targets for the Bun executable.
const TARGET_MONITOR_RATIO = { 0: 0.5, 20: 0.8 } as const;
const TARGET_HOLDER_STOP_RATIO = 1.0;
const TARGET_PEAK_MIB = 32;

// Case names, as printed.
const C_MON0 = 'monitor depth 0, running';
const C_MON20 = 'monitor depth 20, running';
const C_PROBE = 'monitor, stopped (probe)';
const C_START = 'start';
const C_STOP = 'stop';
const C_HOLD = `stop, ${N_HOLDERS} holders`;
const PREV = 'fs-mount@prev'; // the previous build, with BENCH_PREV
const LABELS = ['fs-mount', PREV, 'Filesystem'] as const;
type Label = (typeof LABELS)[number];

// The two controls: processes on the parent filesystem that no stop may signal.
const CTL_PARENT = 'parent-fs control';
const CTL_COVERED = 'covered-dir control';

// ---------------------------------------------------------------------------------------------- shared types

/** One formatted loop device, as the outer made it. */
interface Dev {
  fstype: string;
  device: string;
  major: number;
  minor: number;
  image: string;
  /** The directory holding the image and the mount point: on the parent filesystem. */
  parent: string;
  mnt: string;
}

interface FsVariant extends Variant {
  readonly label: Label;
  readonly type: string;
  readonly provider: string;
  readonly dev: Dev;
}

/** What one stop with holders did, as the harness saw it afterwards. */
interface HolderStop {
  ms: number;
  /** Holder pids dead (gone or zombie) right after the stop returned. */
  holdersDead: number;
  /** How the holders ended, from wait(): signal name or "exit N", with counts. */
  holderExit: Record<string, number>;
  /** Distinct pids the agent's log says it signalled. */
  signalled: number;
  /** Signal names the agent's log says it sent. */
  signals: string[];
  /** Signal-then-retry rounds the stop took, from its log. */
  rounds: number;
  /** Signalled pids that are not one of the holders, described. */
  signalledOutside: string[];
  /** The agent's own log lines about those. */
  evidence: string[];
  /** `ocf-exit-reason:` lines the agent wrote, although the stop returned 0. */
  exitReasons: string[];
  /** Whether each control was alive right after the stop, and how it ended (the harness kills it afterwards). */
  controls: Record<string, { alive: boolean; exit: string }>;
}

/** Raw output of the inner process. Every sample array is indexed by measured round. */
interface Raw {
  rounds: number;
  warmup: number;
  holderRounds: number;
  holderWarmup: number;
  seed: number;
  privateRsctmp: boolean;
  fstypes: string[];
  /** fstype -> case -> label -> ms per round */
  timing: Record<string, Samples>;
  /** fstype -> case -> label -> peak RSS in KiB per round */
  memoryKiB: Record<string, Samples>;
  /** spawnSync of /bin/true, ms per round */
  floor: number[];
  /** fstype -> label -> one per measured holder round */
  holderStops: Record<string, Record<string, HolderStop[]>>;
  order: string[][];
  load1: number[];
  holderOrder: string[][];
  holderLoad1: number[];
  durationSec: number;
}

// ---------------------------------------------------------------------------------------------- mountinfo

interface Mount {
  id: number;
  major: number;
  minor: number;
  target: string;
  optional: string[];
  fstype: string;
  source: string;
}

function mounts(path = '/proc/self/mountinfo'): Mount[] {
  const out: Mount[] = [];
  for (const line of (readText(path) ?? '').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0) continue;
    const [maj, min] = (f[2] ?? '').split(':');
    out.push({
      id: Number(f[0]),
      major: Number(maj),
      minor: Number(min),
      target: (f[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
      optional: f.slice(6, sep),
      fstype: f[sep + 1] ?? '',
      source: f[sep + 2] ?? '',
    });
  }
  return out;
}

/** Mounts of our devices or on our mount points, as "target (fstype source maj:min)". */
function ourMounts(devs: readonly Dev[], path?: string): string[] {
  return mounts(path)
    .filter((m) =>
      devs.some((d) => m.target === d.mnt || m.target.startsWith(`${d.parent}/`) || (m.major === d.major && m.minor === d.minor)),
    )
    .map((m) => `${m.target} (${m.fstype} ${m.source} ${m.major}:${m.minor})`);
}

// ---------------------------------------------------------------------------------------------- processes

interface Proc {
  readonly pid: number;
  readonly kind: string;
  readonly child: ChildProcess;
  readonly exit: Promise<string>;
  /** Whether it holds what it should (cwd, open file, mapping): checked before the stop. */
  readonly holding: () => boolean;
}

function procState(pid: number): string | undefined {
  const s = readText(`/proc/${pid}/stat`);
  return s === undefined ? undefined : s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
}

/** Gone, or a zombie: holds nothing any more. The harness reaps its children only when it awaits, so a dead holder
 *  stays a zombie (its pid cannot be reused) until then. */
function isDead(pid: number): boolean {
  const st = procState(pid);
  return st === undefined || st === 'Z' || st === 'X';
}

function link(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}

/**
 * A `sleep` child of the harness that holds something: its working directory `cwd`, its stdout on `stdoutFile`, and
 * with `preload` a private mapping of that library (ld.so maps it and closes the file). The harness opens the file
 * only for the spawn and holds nothing itself.
 */
function spawnSleep(kind: string, opts: { cwd: string; stdoutFile?: string; preload?: string }, live: Set<Proc>): Proc {
  const fd = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : undefined;
  let child: ChildProcess;
  try {
    child = spawn(SLEEP_BIN, [HOLD_SECONDS], {
      cwd: opts.cwd,
      env: { PATH: EXEC_PATH, ...(opts.preload ? { LD_PRELOAD: opts.preload } : {}) },
      stdio: ['ignore', fd ?? 'ignore', 'ignore'],
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (!child.pid) throw new BenchFailure(`cannot spawn ${SLEEP_BIN} for a ${kind} holder`);
  const pid = child.pid;
  const exit = new Promise<string>((res) => child.on('exit', (code, signal) => res(signal ?? `exit ${code}`)));
  const holding = () =>
    link(`/proc/${pid}/cwd`) === opts.cwd &&
    (!opts.stdoutFile || link(`/proc/${pid}/fd/1`) === opts.stdoutFile) &&
    (!opts.preload || (readText(`/proc/${pid}/maps`) ?? '').includes(` ${opts.preload}\n`));
  const p: Proc = { pid, kind, child, exit, holding };
  live.add(p);
  void exit.then(() => live.delete(p));
  return p;
}

function pids(ps: readonly Proc[]): string {
  return ps.map((p) => `${p.pid} (${p.kind})`).join(', ');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits for `exit` of every process, at most `ms`; returns the ones still not reaped. */
async function reap(ps: readonly Proc[], ms: number): Promise<Proc[]> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(ps.map((p) => p.exit)), new Promise((r) => (timer = setTimeout(r, ms)))]);
  if (timer) clearTimeout(timer);
  return ps.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
}

/** Signalled pids from the agents' logs: fs-mount names each holder, Filesystem logs `ps -f PID | tail -1`. */
function parseSignalled(stderr: string): Array<{ pid: number; sig: string; line: string }> {
  const out: Array<{ pid: number; sig: string; line: string }> = [];
  for (const line of stderr.split('\n')) {
    const a = /sending (SIG[A-Z0-9,]+) to (\d+) \(/.exec(line);
    if (a) {
      out.push({ pid: Number(a[2]), sig: a[1] as string, line: line.trim() });
      continue;
    }
    const b = /sending signal (\S+) to: \S+\s+(\d+)\s/.exec(line);
    if (b) out.push({ pid: Number(b[2]), sig: `SIG${b[1]}`, line: line.trim() });
    else if (/sending signal (\S+) to:/.test(line)) out.push({ pid: NaN, sig: '?', line: line.trim() });
  }
  return out;
}

/** Rounds of "signal, sleep, retry the unmount": fs-mount logs every holder in every round, Filesystem logs
 *  "Couldn't unmount …; trying cleanup with SIG" once per round. */
function signalRounds(stderr: string): number {
  const perPid = new Map<string, number>();
  let fsRounds = 0;
  for (const line of stderr.split('\n')) {
    const a = /sending SIG[A-Z0-9,]+ to (\d+) \(/.exec(line);
    if (a) perPid.set(a[1] as string, (perPid.get(a[1] as string) ?? 0) + 1);
    if (/trying cleanup with \w+/.test(line)) fsRounds++;
  }
  return Math.max(fsRounds, ...perPid.values());
}

// ---------------------------------------------------------------------------------------------- inner

/** The environment pacemaker-execd gives an OCF agent: nothing inherited except PATH. */
function agentEnv(v: FsVariant, extra: Readonly<Record<string, string>>): Record<string, string> {
  return {
    PATH: EXEC_PATH,
    OCF_ROOT: '/usr/lib/ocf',
    OCF_RA_VERSION_MAJOR: '1',
    OCF_RA_VERSION_MINOR: '1',
    OCF_RESOURCE_INSTANCE: INSTANCE,
    OCF_RESOURCE_TYPE: v.type,
    OCF_RESOURCE_PROVIDER: v.provider,
    OCF_RESKEY_CRM_meta_timeout: String(TIMEOUT_MS),
    OCF_RESKEY_CRM_meta_interval: '0',
    OCF_RESKEY_device: v.dev.device,
    OCF_RESKEY_directory: v.dev.mnt,
    OCF_RESKEY_fstype: v.dev.fstype,
    ...extra,
  };
}

const key = (fstype: string, c: string) => `${fstype}\t${c}`;

/** Invoker tables keyed "fstype<TAB>case" -> fstype -> case. */
function nest(t: Samples): Record<string, Samples> {
  const out: Record<string, Samples> = {};
  for (const [k, v] of Object.entries(t)) {
    const [fs, c] = k.split('\t') as [string, string];
    (out[fs] ??= {})[c] = v;
  }
  return out;
}

export async function inner(): Promise<void> {
  const rawPath = process.env.BENCH_RAW ?? die('inner: BENCH_RAW not set');
  const fsMountRun = process.env.BENCH_FS_MOUNT_RUN ?? die('inner: BENCH_FS_MOUNT_RUN not set');
  const prevRun = process.env.BENCH_FS_MOUNT_PREV_RUN;
  const devs = JSON.parse(process.env.BENCH_FS_DEVS ?? die('inner: BENCH_FS_DEVS not set')) as Dev[];
  const preloadSrc = process.env.BENCH_PRELOAD ?? die('inner: BENCH_PRELOAD not set');
  const rounds = envInt('BENCH_ROUNDS', 30, 1);
  const warmup = envInt('BENCH_WARMUP', 3, 0);
  const holderRounds = envInt('BENCH_HOLDER_ROUNDS', 6, 1);
  const holderWarmup = envInt('BENCH_HOLDER_WARMUP', 1, 0);
  const seed = envInt('BENCH_SEED', 0, 0);
  const rnd = prng(seed);

  // Everything below mounts: refuse unless this is a namespace of our own whose mounts propagate nowhere.
  const own = readlinkSync('/proc/self/ns/mnt');
  if (!process.env.BENCH_OUTER_MNTNS || own === process.env.BENCH_OUTER_MNTNS) {
    throw new BenchFailure('inner: not in a private mount namespace (run through bench/run.ts)');
  }
  const shared = mounts().filter((m) => m.optional.some((o) => o.startsWith('shared:')));
  if (shared.length > 0) {
    throw new BenchFailure(`inner: mounts would propagate to the host: ${shared.map((m) => m.target).join(', ')} are shared`);
  }
  // The outer finds (and, if need be, kills) everything left in this namespace by its id.
  writeFileSync(process.env.BENCH_MNTNS_FILE ?? die('inner: BENCH_MNTNS_FILE not set'), own);

  // Both agents' shell library and vip use /run/resource-agents; hide the host's directory, as the vip part does.
  let privateRsctmp = false;
  if (existsSync('/run/resource-agents')) {
    must('mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=16m', 'ocfkit-bench', '/run/resource-agents']);
    privateRsctmp = true;
  }

  const scratch = mkdtempSync(join(process.env.BENCH_SCRATCH || tmpdir(), 'inner-fs-'));
  const inv = new Invoker(scratch, (v, _action, extra) => agentEnv(v as FsVariant, extra));
  const live = new Set<Proc>();
  const variants = (d: Dev): FsVariant[] => [
    { label: 'fs-mount', path: fsMountRun, type: 'fs-mount', provider: 'ocfkit', dev: d },
    ...(prevRun ? [{ label: PREV, path: prevRun, type: 'fs-mount', provider: 'ocfkit', dev: d } as const] : []),
    { label: 'Filesystem', path: FILESYSTEM_PATH, type: 'Filesystem', provider: 'heartbeat', dev: d },
  ];
  const mon0 = { OCF_RESKEY_CRM_meta_interval: String(MONITOR_INTERVAL) };
  const mon20 = { OCF_RESKEY_CRM_meta_interval: String(DEEP_INTERVAL), OCF_CHECK_LEVEL: '20' };
  const up = (v: FsVariant) => inv.untimed(v, 'start', 0);
  const down = (v: FsVariant) => inv.untimed(v, 'stop', 0);
  const withMount = (v: FsVariant, body: () => void) => {
    up(v);
    try {
      body();
    } finally {
      down(v);
    }
  };

  /** Invariant between units: none of our devices is mounted anywhere, so the two agents never overlap. */
  const assertUnmounted = (after: string): void => {
    const left = ourMounts(devs);
    if (left.length > 0) throw new BenchFailure(`after ${after}: still mounted: ${left.join('; ')}`);
  };

  const units: Unit[] = [{ id: `${C_FLOOR}|${TRUE_BIN}`, run: () => inv.floor() }];
  for (const d of devs) {
    for (const v of variants(d)) {
      const id = (what: string, c: string) => `${what} ${c}|${d.fstype}|${v.label}`;
      units.push(
        { id: id('time', C_PROBE), run: () => void inv.timed(key(d.fstype, C_PROBE), v, 'monitor', {}, 7) },
        { id: id('mem', C_PROBE), run: () => inv.memory(key(d.fstype, C_PROBE), v, 'monitor', {}, 7) },
        {
          // One mount for the four running-monitor measurements, taken in an order shuffled afresh each time.
          id: id('time+mem', 'monitors, running'),
          run: () =>
            withMount(v, () => {
              const ms = [
                () => void inv.timed(key(d.fstype, C_MON0), v, 'monitor', mon0, 0),
                () => {
                  // The recurring deep monitor's steady state: the status directory and file exist from the last one.
                  inv.untimed(v, 'monitor', 0, mon20);
                  inv.timed(key(d.fstype, C_MON20), v, 'monitor', mon20, 0);
                },
                () => inv.memory(key(d.fstype, C_MON0), v, 'monitor', mon0, 0),
                () => {
                  inv.untimed(v, 'monitor', 0, mon20);
                  inv.memory(key(d.fstype, C_MON20), v, 'monitor', mon20, 0);
                },
              ];
              for (const m of shuffle(ms, rnd)) m();
            }),
        },
        {
          id: id('time', `${C_START}+${C_STOP}`),
          run: () => {
            inv.timed(key(d.fstype, C_START), v, 'start', {}, 0);
            inv.timed(key(d.fstype, C_STOP), v, 'stop', {}, 0);
          },
        },
        {
          id: id('mem', `${C_START}+${C_STOP}`),
          run: () => {
            inv.memory(key(d.fstype, C_START), v, 'start', {}, 0);
            inv.memory(key(d.fstype, C_STOP), v, 'stop', {}, 0);
          },
        },
      );
    }
  }

  // ---- the stop with holders
  const holderStops: Raw['holderStops'] = {};
  let measuringHolders = false;
  const holderStop = async (v: FsVariant): Promise<void> => {
    const d = v.dev;
    // The controls hold the parent filesystem: one has its cwd and an open file beside the mount point; the other
    // entered the mount-point directory before the mount, so its cwd is the directory the mount now covers.
    const controls = [
      spawnSleep(CTL_PARENT, { cwd: d.parent, stdoutFile: join(d.parent, 'control.log') }, live),
      spawnSleep(CTL_COVERED, { cwd: d.mnt }, live),
    ];
    up(v);
    const h = join(d.mnt, 'holders');
    mkdirSync(join(h, 'cwd'), { recursive: true });
    const preload = join(h, 'lib.so');
    if (!existsSync(preload)) copyFileSync(preloadSrc, preload);
    const holders: Proc[] = [];
    for (let i = 0; i < HOLDERS.cwd; i++) holders.push(spawnSleep('cwd', { cwd: join(h, 'cwd') }, live));
    for (let i = 0; i < HOLDERS.fd; i++) holders.push(spawnSleep('fd', { cwd: '/', stdoutFile: join(h, `fd-${i}.log`) }, live));
    for (let i = 0; i < HOLDERS.mmap; i++) holders.push(spawnSleep('mmap', { cwd: '/', preload }, live));
    const until = Date.now() + READY_MS;
    for (;;) {
      const notYet = [...holders, ...controls].filter((p) => !p.holding());
      if (notYet.length === 0) break;
      if (Date.now() > until) {
        throw new BenchFailure(`${notYet.length} holder(s) not holding after ${READY_MS} ms: ${pids(notYet)}`);
      }
      await sleep(10);
    }

    const r = inv.call(v, 'stop');
    // Checked at once, before the harness reaps anything: a dead holder is still a zombie, its pid not reusable.
    inv.expect(v, 'stop', {}, 0, r);
    const left = ourMounts(devs);
    const deadNow = holders.filter((p) => isDead(p.pid));
    const aliveCtl = controls.map((p) => !isDead(p.pid));
    const log = readText(inv.errFile) ?? '';
    if (left.length > 0) {
      throw new BenchFailure(`${v.label} stop (${d.fstype}, ${N_HOLDERS} holders) returned 0, but still mounted: ${left.join('; ')}`);
    }
    if (deadNow.length < N_HOLDERS) {
      const alive = holders.filter((p) => !isDead(p.pid));
      throw new BenchFailure(
        `${v.label} stop (${d.fstype}) returned 0 with the mount gone, but ${alive.length} holder(s) still alive: ${pids(alive)}`,
      );
    }
    inv.record(inv.timing, key(d.fstype, C_HOLD), v.label, r.ms);

    for (const c of controls) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    const stuck = await reap([...holders, ...controls], EXIT_WAIT_MS);
    if (stuck.length > 0) throw new BenchFailure(`not reaped ${EXIT_WAIT_MS} ms after the stop: ${pids(stuck)}`);

    const holderExit: Record<string, number> = {};
    for (const p of holders) {
      const e = await p.exit;
      holderExit[e] = (holderExit[e] ?? 0) + 1;
    }
    const holderPids = new Set(holders.map((p) => p.pid));
    const sent = parseSignalled(log);
    const outside = new Map<number | string, { what: string; line: string }>();
    for (const s of sent) {
      if (holderPids.has(s.pid)) continue;
      const ctl = controls.find((c) => c.pid === s.pid);
      const what = ctl ? ctl.kind : `pid ${Number.isNaN(s.pid) ? '?' : s.pid}`;
      outside.set(Number.isNaN(s.pid) ? s.line : s.pid, { what, line: s.line });
    }
    const ctlOut: HolderStop['controls'] = {};
    for (const [i, c] of controls.entries()) ctlOut[c.kind] = { alive: aliveCtl[i] as boolean, exit: await c.exit };
    if (measuringHolders) {
      ((holderStops[d.fstype] ??= {})[v.label] ??= []).push({
        ms: round3(r.ms),
        holdersDead: deadNow.length,
        holderExit,
        signalled: new Set(sent.map((s) => s.pid)).size,
        signals: [...new Set(sent.map((s) => s.sig))],
        rounds: signalRounds(log),
        signalledOutside: [...outside.values()].map((o) => o.what),
        evidence: [...outside.values()].map((o) => o.line),
        exitReasons: log.split('\n').filter((l) => l.startsWith('ocf-exit-reason:')),
        controls: ctlOut,
      });
    }
  };

  const holderUnits: Unit[] = [];
  for (const d of devs) {
    for (const v of variants(d)) holderUnits.push({ id: `${C_HOLD}|${d.fstype}|${v.label}`, run: () => holderStop(v) });
  }

  const t0 = Date.now();
  let main: { order: string[][]; load1: number[] };
  let held: { order: string[][]; load1: number[] };
  try {
    assertUnmounted('namespace setup');
    main = await runRounds({ name: 'fs-mount', units, rounds, warmup, rnd, invoker: inv, after: assertUnmounted, t0 });
    // Slow (a second per stop, by both agents' design): fewer rounds, after the others, still interleaved.
    const holderInv = {
      get measuring() {
        return measuringHolders;
      },
      set measuring(m: boolean) {
        measuringHolders = m;
        inv.measuring = m;
      },
    };
    held = await runRounds({
      name: `fs-mount ${C_HOLD}`, units: holderUnits, rounds: holderRounds, warmup: holderWarmup, rnd, invoker: holderInv,
      after: assertUnmounted, t0, every: 2,
    });
  } finally {
    // On failure: end every process we started, then leave no mount behind (the namespace would drop them too).
    for (const p of live) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await reap([...live], EXIT_WAIT_MS);
    for (const d of devs) if (mounts().some((m) => m.target === d.mnt)) lib.run('umount', [d.mnt]);
    removeTree(scratch);
  }
  const timing = nest(inv.timing);
  const floor = (inv.timing[C_FLOOR]?.[TRUE_BIN] ?? []).map(round3);
  const raw: Raw = {
    rounds, warmup, holderRounds, holderWarmup, seed, privateRsctmp, fstypes: devs.map((d) => d.fstype), timing,
    memoryKiB: nest(inv.memoryKiB), floor, holderStops, order: main.order, load1: main.load1, holderOrder: held.order,
    holderLoad1: held.load1, durationSec: (Date.now() - t0) / 1000,
  };
  delete raw.timing[C_FLOOR];
  writeFileSync(rawPath, JSON.stringify(raw));
}

// ---------------------------------------------------------------------------------------------- outer

function count(xs: readonly string[]): string {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return [...m.entries()].map(([k, n]) => `${k} ×${n}`).join(', ');
}

function memEntry(s: ReturnType<typeof stats>) {
  return { n: s.n, medianMiB: round3(s.median), maxMiB: round3(s.max), minMiB: round3(s.min) };
}

function report(raw: Raw) {
  const out: string[] = [];
  const say = (s = '') => out.push(s);
  const caseOrder = [C_MON0, C_MON20, C_PROBE, C_START, C_STOP, C_HOLD];
  const hasPrev = raw.fstypes.some((fs) => raw.timing[fs]?.[C_MON0]?.[PREV]);

  const summary: Record<string, Record<string, Record<string, unknown>>> = {};
  const rows: string[][] = [];
  for (const fs of raw.fstypes) {
    summary[fs] = {};
    for (const c of caseOrder) {
      const t = raw.timing[fs]?.[c];
      if (!t) continue;
      (summary[fs] as Record<string, Record<string, unknown>>)[c] = {};
      const base = t['Filesystem'];
      for (const l of LABELS.filter((x) => t[x])) {
        const { s, entry, rMed, rMin, rPair, rPrev, rPrevPair } = compare(
          t[l] as number[], l !== 'Filesystem' ? base : undefined, l === 'fs-mount' ? t[PREV] : undefined,
        );
        (summary[fs][c] as Record<string, unknown>)[l] = entry;
        rows.push([c, fs, l, String(s.n), fmt(s.median), fmt(s.p10), fmt(s.p90), fmt(s.min), rMed, rMin, rPair,
          ...(hasPrev ? [rPrev, rPrevPair] : [])]);
      }
    }
  }
  if (raw.floor.length > 0) {
    const s = stats(raw.floor);
    rows.push([C_FLOOR, '', TRUE_BIN, String(s.n), fmt(s.median), fmt(s.p10), fmt(s.p90), fmt(s.min), '', '', '',
      ...(hasPrev ? ['', ''] : [])]);
  }
  say('Latency, ms (wall time of spawnSync, agent exit to exit; nothing subtracted)');
  say(table(['case', 'fs', 'agent', 'n', 'median', 'p10', 'p90', 'min', '/Filesystem median', 'min', 'paired',
    ...(hasPrev ? ['/prev median', 'paired'] : [])], rows, 3));
  say('  /Filesystem columns: median of the row / median of Filesystem; min / min; "paired" = median of the per-round ratios');
  if (hasPrev) {
    say(`  "${PREV}" = the previous build (BENCH_PREV=${PREV_DIR ?? '?'}), interleaved in the same rounds; /prev columns:`);
    say('  today\'s fs-mount against it (median / median, and the median of the per-round ratios).');
  }
  say(`  depth 0: interval ${MONITOR_INTERVAL}; depth 20: interval ${DEEP_INTERVAL}, OCF_CHECK_LEVEL=20, right after an untimed`);
  say('  depth-20 monitor by the same agent (the status file exists, as for a recurring monitor); probe: interval 0.');
  say(
    `  "${C_HOLD}": ${HOLDERS.cwd} with their cwd, ${HOLDERS.fd} with an open file, ${HOLDERS.mmap} with only a mapping ` +
      'on the mount;',
  );
  say('  both agents sleep 1 s after signalling before they retry the unmount (signal_delay=1 / `sleep 1`).');
  say(`  "${C_FLOOR}" = spawnSync of ${TRUE_BIN} from the harness: the fixed cost included in every row.`);
  say();

  const memRows: string[][] = [];
  const memSummary: Record<string, Record<string, Record<string, unknown>>> = {};
  const perAgent: Record<string, number[]> = {};
  for (const fs of raw.fstypes) {
    for (const c of [C_MON0, C_MON20, C_PROBE, C_START, C_STOP]) {
      const t = raw.memoryKiB[fs]?.[c];
      if (!t) continue;
      for (const l of LABELS.filter((x) => t[x])) {
        const mib = (t[l] as number[]).map((k) => k / 1024);
        const s = stats(mib);
        ((memSummary[fs] ??= {})[c] ??= {})[l] = memEntry(s);
        memRows.push([c, fs, l, String(s.n), fmt(s.median), fmt(s.min), fmt(s.max)]);
        (perAgent[l] ??= []).push(...mib);
      }
    }
  }
  for (const [a, mib] of Object.entries(perAgent)) {
    const s = stats(mib);
    ((memSummary['all'] ??= {})['all actions'] ??= {})[a] = memEntry(s);
    memRows.push(['all actions', '', a, String(s.n), fmt(s.median), fmt(s.min), fmt(s.max)]);
  }
  say('Peak memory, MiB (GNU time %M: max RSS of the agent process and the children it waited for; separate runs)');
  say(table(['case', 'fs', 'agent', 'n', 'median', 'min', 'max'], memRows, 3));
  say('  RSS includes the resident file-backed pages of the mapped executable, so it depends on how those pages got');
  say('  into the page cache; see bench/README.md ("Peak memory").');
  say();

  // Behaviour of the stop with holders.
  const bRows: string[][] = [];
  const notes: string[] = [];
  const behaviour: Record<string, Record<string, unknown>> = {};
  for (const fs of raw.fstypes) {
    for (const l of LABELS) {
      const hs = raw.holderStops[fs]?.[l] ?? [];
      if (hs.length === 0) continue;
      const exits: Record<string, number> = {};
      for (const h of hs) for (const [k, n] of Object.entries(h.holderExit)) exits[k] = (exits[k] ?? 0) + n;
      const outside = hs.flatMap((h) => h.signalledOutside);
      const ctl = (name: string) => {
        const xs = hs.map((h) => h.controls[name]).filter((x) => x !== undefined);
        const alive = xs.filter((x) => x.alive).length;
        const killedBy = xs.filter((x) => !x.alive).map((x) => x.exit);
        const text = alive === xs.length ? `alive ${alive}/${xs.length}` : `KILLED ${xs.length - alive}/${xs.length} (${count(killedBy)})`;
        return { alive, n: xs.length, text };
      };
      const cp = ctl(CTL_PARENT);
      const cc = ctl(CTL_COVERED);
      const sig = stats(hs.map((h) => h.signalled));
      bRows.push([
        fs, l, String(hs.length), `${hs.filter((h) => h.holdersDead === N_HOLDERS).length}/${hs.length}`,
        Object.entries(exits).map(([k, n]) => `${k} ×${n}`).join(', '),
        `${fmt(sig.median, 0)} (${fmt(sig.min, 0)}–${fmt(sig.max, 0)})`,
        [...new Set(hs.flatMap((h) => h.signals))].join(','),
        count(hs.map((h) => String(h.rounds))),
        outside.length ? count(outside) : 'none', cp.text, cc.text,
      ]);
      behaviour[fs] ??= {};
      (behaviour[fs] as Record<string, unknown>)[l] = {
        stops: hs.length, allHoldersDead: hs.every((h) => h.holdersDead === N_HOLDERS), holderExit: exits,
        signalledPerStop: { median: sig.median, min: sig.min, max: sig.max }, signalRounds: hs.map((h) => h.rounds),
        signalledOutsideHolders: outside, stopsWithExitReason: hs.filter((h) => h.exitReasons.length > 0).length,
        controlsAlive: { [CTL_PARENT]: `${cp.alive}/${cp.n}`, [CTL_COVERED]: `${cc.alive}/${cc.n}` },
      };
      const ev = hs.flatMap((h) => h.evidence);
      if (ev.length > 0) notes.push(`  ${l} (${fs}), one of its log lines about a process that is not a holder:\n    ${ev[0]}`);
      const why = hs.filter((h) => h.exitReasons.length > 0);
      if (why.length > 0) {
        notes.push(`  ${l} (${fs}) wrote an exit reason in ${why.length}/${hs.length} stops that returned 0, e.g.:\n    ${why[0]?.exitReasons[0]}`);
      }
    }
  }
  say(`Stop with ${N_HOLDERS} holders: what happened (checked right after each stop returned 0; the mount was gone every time)`);
  say(
    table(
      [
        'fs', 'agent', 'stops', 'all holders dead', 'holders ended by', 'pids signalled/stop', 'signals', 'signal rounds',
        'signalled, not a holder', CTL_PARENT, CTL_COVERED,
      ],
      bRows,
      99,
    ),
  );
  say(`  ${CTL_PARENT}: sleep with its cwd and stdout in the directory that holds the mount point (parent filesystem).`);
  say(`  ${CTL_COVERED}: sleep that entered the mount-point directory before the mount, so its cwd is the directory the`);
  say('  mount covers, also on the parent filesystem. Neither holds the mount; a stop should leave both alive.');
  if (notes.length) {
    say('  Evidence:');
    for (const n of notes) say(n);
  }
  say();

  const verdict: Record<string, Record<string, unknown>> = {};
  say('Targets');
  for (const fs of raw.fstypes) {
    const median = (c: string, l: Label) => pct(raw.timing[fs]?.[c]?.[l] ?? [], 0.5);
    const ratio = (c: string) => median(c, 'fs-mount') / median(c, 'Filesystem');
    const v: Record<string, unknown> = {};
    for (const [c, name, depth] of [[C_MON0, 'monitorDepth0Ratio', 0], [C_MON20, 'monitorDepth20Ratio', 20]] as const) {
      const x = ratio(c);
      const target = TARGET_MONITOR_RATIO[depth];
      const met = x <= target;
      v[name] = { value: round3(x), target, met };
      if (hasPrev) v[`${name}Prev`] = round3(median(c, PREV) / median(c, 'Filesystem'));
      say(
        `  fs-mount monitor / Filesystem monitor, depth ${depth} (median, ${fs}) = ${fmt(x, 2)}` +
          `  (target ≤ ${target.toFixed(1)})  ${met ? 'MET' : 'NOT MET'}` +
          (hasPrev ? `  (previous build: ${fmt(median(c, PREV) / median(c, 'Filesystem'), 2)})` : ''),
      );
    }
    const f = median(C_HOLD, 'fs-mount');
    const b = median(C_HOLD, 'Filesystem');
    const met = f / b <= TARGET_HOLDER_STOP_RATIO;
    v.holderStopRatio = {
      value: round3(f / b), fsMountMedianMs: round3(f), filesystemMedianMs: round3(b), target: TARGET_HOLDER_STOP_RATIO, met,
    };
    say(
      `  ${C_HOLD} (median, ${fs}): fs-mount ${fmt(f, 0)} ms / Filesystem ${fmt(b, 0)} ms = ${fmt(f / b, 2)}` +
        `  (target: fs-mount no slower, ≤ ${TARGET_HOLDER_STOP_RATIO.toFixed(1)})  ${met ? 'MET' : 'NOT MET'}`,
    );
    verdict[fs] = v;
  }
  const peak = Math.max(...(perAgent['fs-mount'] ?? [NaN]));
  const peakMet = peak <= TARGET_PEAK_MIB;
  verdict['peakMiB'] = { value: round3(peak), target: TARGET_PEAK_MIB, met: peakMet,
    ...(hasPrev ? { previousBuild: round3(Math.max(...(perAgent[PREV] ?? [NaN]))) } : {}) };
  say(
    `  fs-mount peak memory (max over every action's runs, all filesystems) = ${fmt(peak)} MiB` +
      `  (target ≤ ${TARGET_PEAK_MIB} MiB)  ${peakMet ? 'MET' : 'NOT MET'}` +
      (hasPrev ? `  (previous build: ${fmt(Math.max(...(perAgent[PREV] ?? [NaN])))} MiB)` : ''),
  );
  return { text: out.join('\n'), summary, memSummary, behaviour, verdict };
}

/** The filesystem types to run: BENCH_FSTYPES, else ext4 and, when this host can make and mount it, xfs. */
function fstypes(): { types: string[]; note: string } {
  const known = (readText('/proc/filesystems') ?? '').split('\n').map((l) => l.split('\t')[1]);
  const can = (t: string) => MKFS[t] !== undefined && run('which', [(MKFS[t] as string[])[0] as string]).rc === 0 &&
    (known.includes(t) || run('modprobe', ['-n', t]).rc === 0);
  const asked = (process.env.BENCH_FSTYPES ?? '').split(/[\s,]+/).filter(Boolean);
  if (asked.length > 0) {
    for (const t of asked) {
      const why = MKFS[t] ? `${MKFS[t][0]} or kernel support missing` : `supported: ${Object.keys(MKFS).join(', ')}`;
      if (!can(t)) die(`BENCH_FSTYPES: cannot make and mount ${t} here (${why})`);
    }
    return { types: [...new Set(asked)], note: '' };
  }
  const types = ['ext4', 'xfs'].filter(can);
  if (!types.includes('ext4')) die('cannot make and mount ext4 here (mkfs.ext4 from e2fsprogs, kernel support)');
  return { types, note: types.includes('xfs') ? '' : ' (xfs skipped: mkfs.xfs or kernel support missing)' };
}

/** Missing prerequisites of this part, as messages (nothing is changed on the host). */
export function missing(): string[] {
  const out: string[] = [];
  for (const [p, what] of [
    [FS_MOUNT_PATH, 'fs-mount agent (run `npm run build` first)'],
    [FILESYSTEM_PATH, 'Filesystem (Debian package resource-agents)'],
    [GNU_TIME, 'GNU time (Debian package time)'],
    [TRUE_BIN, 'true'],
    [SLEEP_BIN, 'sleep (coreutils)'],
  ] as const) {
    if (!existsSync(p)) out.push(`missing ${what}: ${p}`);
  }
  out.push(...prevMissing(['fs-mount']));
  const tools = [[UNSHARE, 'util-linux'], ['losetup', 'mount'], ['fuser', 'psmisc; Filesystem needs it'], ['mkfs.ext4', 'e2fsprogs']];
  for (const [bin, pkg] of tools) if (run('which', [bin as string]).rc !== 0) out.push(`missing ${bin} (Debian package ${pkg})`);
  if (!PRELOAD_CANDIDATES.some((p) => existsSync(p))) {
    out.push(`missing a library for the mmap holders: one of ${PRELOAD_CANDIDATES.join(', ')}`);
  }
  return out;
}

export interface OuterCtx {
  session: lib.Session;
  scratch: string;
  binaries: lib.Binaries;
  rounds: number;
  warmup: number;
  seed: number;
}

export async function outer(ctx: OuterCtx): Promise<number> {
  const { session, rounds, warmup, seed } = ctx;
  const holderRounds = envInt('BENCH_HOLDER_ROUNDS', 6, 1);
  const holderWarmup = envInt('BENCH_HOLDER_WARMUP', 1, 0);
  const { types, note: typesNote } = fstypes();
  const scratch = mkdtempSync(join(ctx.scratch, 'fs-'));
  const rawPath = join(scratch, 'raw.json');
  const nsFile = join(scratch, 'mntns');
  const devs: Dev[] = [];
  const loops: string[] = [];
  const leftovers: string[] = [];
  const problems: string[] = [];
  let cleaned = false;

  /** graceMs: let what the agents left behind finish on its own first; whatever is still in the namespace afterwards
   *  is killed and reported. With the namespace's last process gone, the kernel drops its mounts. */
  const cleanup = (graceMs = 0): void => {
    if (cleaned) return;
    cleaned = true;
    const ns = readText(nsFile);
    if (ns) lib.endMountNamespace(ns, graceMs, leftovers, problems);
    lib.detachLoops(loops, devs.map((d) => d.image), problems);
    const host = ourMounts(devs);
    if (host.length > 0) problems.push(`the host's mount table shows: ${host.join('; ')}`);
    removeTree(scratch);
    for (const p of problems) process.stderr.write(`bench: WARNING: ${p}\n`);
  };
  const done = session.defer('fs-mount loop devices and namespace', () => cleanup());

  let fsm: lib.AgentBinary;
  let prev: lib.AgentBinary | undefined;
  try {
    fsm = ctx.binaries.prepare('fs-mount', FS_MOUNT_PATH);
    if (PREV_DIR) prev = ctx.binaries.prepare('fs-mount', join(PREV_DIR, 'fs-mount'));
  } catch (e) {
    done();
    lib.die(e instanceof Error ? e.message : String(e));
  }
  const preload = PRELOAD_CANDIDATES.find((p) => existsSync(p)) as string;
  const meta: Record<string, unknown> = {
    ...lib.hostMeta(),
    mode:
      `harness re-executed in a private mount namespace (${UNSHARE} --mount --propagation private node run.ts --inner ` +
      'fs-mount); agents spawned directly',
    rounds,
    warmup,
    holderRounds,
    holderWarmup,
    seed,
    fsMount: lib.binaryMeta(fsm),
    ...(prev ? { fsMountPrev: lib.binaryMeta(prev) } : {}),
    filesystem: { path: FILESYSTEM_PATH, package: run('dpkg-query', ['-W', '-f', '${Version}', 'resource-agents']).out },
    env: {
      PATH: EXEC_PATH, OCF_ROOT: '/usr/lib/ocf', OCF_RESOURCE_INSTANCE: INSTANCE, OCF_RESKEY_CRM_meta_timeout: String(TIMEOUT_MS),
      OCF_RESKEY_CRM_meta_interval: `${MONITOR_INTERVAL} (depth 0) / ${DEEP_INTERVAL} (depth 20) / 0 (others)`,
      OCF_CHECK_LEVEL: '20 for the depth-20 monitor, unset otherwise',
      OCF_RESKEY_device: 'the loop device', OCF_RESKEY_directory: 'mount point beside the image', OCF_RESKEY_fstype: 'ext4 / xfs',
    },
    holders: { ...HOLDERS, command: `${SLEEP_BIN} ${HOLD_SECONDS}`, preload },
    loadavgBefore: loadavg(),
  };

  let code = 0;
  try {
    for (const t of types) {
      const parent = join(scratch, t);
      mkdirSync(parent);
      const image = join(parent, 'image');
      const fd = openSync(image, 'w');
      ftruncateSync(fd, IMAGE_MIB * 1024 * 1024);
      closeSync(fd);
      const device = must('losetup', ['--find', '--show', image]).trim();
      loops.push(device);
      must((MKFS[t] as string[])[0] as string, [...(MKFS[t] as string[]).slice(1), device]);
      const mnt = join(parent, 'mnt');
      mkdirSync(mnt);
      const rdev = statSync(device).rdev; // glibc's dev_t encoding, for the small numbers of loop devices
      const [major, minor] = [Math.floor(rdev / 256) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00)];
      devs.push({ fstype: t, device, major, minor, image, parent, mnt });
    }
    const before = ourMounts(devs); // the host's view: nothing of ours is mounted, before or after
    meta.devices = devs.map((d) => ({ fstype: d.fstype, device: d.device, image: d.image, imageMiB: IMAGE_MIB, mnt: d.mnt }));
    const parentFs = mounts()
      .filter((m) => scratch === m.target || scratch.startsWith(m.target === '/' ? '/' : `${m.target}/`))
      .pop();
    meta.parentFilesystem = parentFs ? `${parentFs.fstype} ${parentFs.source} on ${parentFs.target}` : '?';
    process.stderr.write(
      `bench: ${devs.map((d) => `${d.fstype} on ${d.device}`).join(', ')}${typesNote}; ${warmup} warm-up + ${rounds} rounds, ` +
        `${holderWarmup} + ${holderRounds} holder rounds, seed ${seed}\n`,
    );

    const env = innerEnv({
      BENCH_RAW: rawPath,
      BENCH_ROUNDS: String(rounds),
      BENCH_WARMUP: String(warmup),
      BENCH_HOLDER_ROUNDS: String(holderRounds),
      BENCH_HOLDER_WARMUP: String(holderWarmup),
      BENCH_SEED: String(seed),
      BENCH_OUTER_MNTNS: readlinkSync('/proc/self/ns/mnt'),
      BENCH_MNTNS_FILE: nsFile,
      BENCH_FS_MOUNT_RUN: fsm.ranFrom,
      ...(prev ? { BENCH_FS_MOUNT_PREV_RUN: prev.ranFrom } : {}),
      BENCH_FS_DEVS: JSON.stringify(devs),
      BENCH_PRELOAD: preload,
      BENCH_SCRATCH: scratch,
    });
    code = await lib.runInner(
      session, 'fs-mount', UNSHARE,
      ['--mount', '--propagation', 'private', process.execPath, ...process.execArgv, RUN_SCRIPT, '--inner', 'fs-mount'],
      env,
    );
    if (code !== 0) return code;

    const raw = JSON.parse(readFileSync(rawPath, 'utf8')) as Raw;
    meta.loadavgAfter = loadavg();
    meta.durationSec = round3(raw.durationSec);
    meta.privateRsctmp = raw.privateRsctmp;
    const rebuilt = rebuiltNote(fsm);
    meta.fsMountBinaryChangedDuringRun = rebuilt !== undefined;

    const rep = report(raw);
    // Clean up before printing so leftover processes and any trace on the host can be reported.
    cleanup(LEFTOVER_GRACE_MS);
    const hostAfter = ourMounts(devs);
    meta.hostMountTable = { ours: { before, after: hostAfter }, unchanged: before.length === 0 && hostAfter.length === 0 };
    meta.cleanupProblems = problems;
    process.stdout.write(
      `ocfkit bench: fs-mount vs Filesystem — ${raw.rounds} interleaved rounds (+${raw.warmup} warm-up), ` +
        `${raw.holderRounds} holder-stop rounds (+${raw.holderWarmup} warm-up), seed ${raw.seed}, ` +
        `${cpus().length} CPUs, load ${loadText(meta.loadavgBefore as number[])} → ` +
        `${loadText(loadavg())}, ${raw.durationSec.toFixed(0)} s\n` +
        `fs-mount: ${binaryNote(fsm)}; ` +
        (prev ? `${PREV}: ${binaryNote(prev)}; ` : '') +
        `Filesystem: resource-agents ${String((meta.filesystem as { package: string }).package)}\n` +
        `devices: ${devs.map((d) => `${d.fstype} on ${d.device}`).join(', ')}${typesNote} ` +
        `(fresh, ${IMAGE_MIB} MiB sparse images on ` +
        `${String(meta.parentFilesystem)}); harness in a private mount namespace (${UNSHARE} --mount --propagation private); ` +
        `${raw.privateRsctmp ? 'private tmpfs on /run/resource-agents' : 'host /run/resource-agents'}; ` +
        `host mount table ${hostAfter.length === 0 ? 'untouched' : 'CHANGED'}\n\n` +
        `${rep.text}\n`,
    );
    if (rebuilt) process.stdout.write(rebuilt);
    if (leftovers.length) {
      process.stdout.write(
        `NOTE: ${leftovers.length} process(es) were still running in the private mount namespace ` +
          `${LEFTOVER_GRACE_MS / 1000} s after the harness exited, and were killed:\n`,
      );
      for (const l of leftovers) process.stdout.write(`  ${l}\n`);
    }
    meta.leftoverProcesses = leftovers;

    const doc = {
      meta,
      units: { timing: 'ms per round', memory: 'KiB per round (GNU time %M)' },
      summary: { timingMs: rep.summary, memoryMiB: rep.memSummary, holderStopBehaviour: rep.behaviour },
      verdict: rep.verdict,
      raw: {
        timingMs: raw.timing, memoryKiB: raw.memoryKiB, floorMs: raw.floor, holderStops: raw.holderStops,
        load1PerRound: raw.load1, orderPerRound: raw.order,
        holderLoad1PerRound: raw.holderLoad1, holderOrderPerRound: raw.holderOrder,
      },
    };
    lib.saveResults('fs-mount', meta.date as string, doc);
    return code;
  } catch (e) {
    code = lib.partFailed('fs-mount', e);
    return code;
  } finally {
    done();
    if (loops.length > 0 && problems.length === 0) {
      process.stderr.write(`bench: loop devices ${loops.join(', ')} detached, private mount namespace gone\n`);
    }
  }
}

