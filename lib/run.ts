import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { searchPath } from './binaries';
import type { Deadline } from './ocf/deadline';

export interface RunResult {
  readonly argv: readonly string[];
  /** Exit code; null when the command was killed by a signal or never started. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  /** It outlived its time and was sent TERM, then KILL. */
  readonly timedOut: boolean;
  /** Still alive after KILL (uninterruptible sleep, e.g. on a dead device): left behind. */
  readonly abandoned: boolean;
  /** Why it could not be started at all (ENOENT, EACCES). */
  readonly spawnError?: string;
}

export interface CallOptions {
  /** Stop waiting after this long even if the action has more time. */
  readonly timeoutMs?: number;
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** How long after TERM before KILL. */
  readonly graceMs?: number;
}

export interface RunOptions extends CallOptions {
  readonly deadline: Deadline;
  readonly onResult?: (r: RunResult) => void;
}

/** What agents and wrappers call: the runtime binds the deadline and the trace. */
export type Runner = (argv: readonly string[], opts?: CallOptions) => Promise<RunResult>;

/**
 * What is kept of a command's output. `ip -j addr show` on a node with kube-proxy's IPVS addresses
 * runs past a megabyte (10,000 addresses: 1.5 MB), and a cut JSON document fails the monitor.
 */
const MAX_CAPTURE = 64 << 20;
/** The commands still running, each with the processes it started, for an action told to stop. */
const live = new Map<number, Tree>();

/**
 * Sends `sig` to every command this process still runs, and to their children. An action killed by
 * SIGTERM must not leave a half-done `mount` or `drbdadm` behind.
 */
export function signalAllCommands(sig: NodeJS.Signals): number {
  for (const [pid, tree] of live) if (!tree.signal(sig)) live.delete(pid);
  return live.size;
}

/** The command lines still running (or left behind hung), oldest first: what an action that ran out of time was waiting for. */
export function commandsUnderWay(): string[] {
  // One given up earlier (hung in D state) may have ended since: those still waited on come first.
  const trees = [...live.values()];
  return [...trees.filter((t) => !t.abandoned), ...trees.filter((t) => t.abandoned)].map((t) => commandLine(t.argv));
}

/**
 * A command and the processes under it. Commands run in the agent's own process group, not groups
 * of their own: pacemaker-execd ends an operation that outlives its timeout with SIGKILL to that
 * group, and a command in a session of its own (a hung `mount`, `exportfs`, `drbdadm`) would live
 * on, re-parented to init, and act later. Without a group of its own a command's children are found
 * by their parent in /proc; a child whose parent died meanwhile is still known by the pid and
 * start time it had when it was signalled before.
 */
class Tree {
  private readonly seen = new Map<number, string>();
  /** Given up on after KILL: no longer waited for. */
  abandoned = false;

  constructor(
    private readonly root: number,
    readonly argv: readonly string[],
  ) {}

  /** Signals the command and its descendants; false when none of them is left. */
  signal(sig: NodeJS.Signals): boolean {
    const table = processTable();
    const roots = [this.root, ...[...this.seen].filter(([pid, start]) => table.get(pid)?.start === start).map(([pid]) => pid)];
    let any = false;
    // The command itself is signalled even where /proc does not list it (a private /proc, one that
    // cannot be read): it is this process's child, so its pid is not reused before it is reaped.
    const targets = descendants(table, roots);
    if (!targets.includes(this.root)) targets.unshift(this.root);
    for (const pid of targets) {
      const p = table.get(pid);
      if (p) this.seen.set(pid, p.start);
      else if (pid !== this.root) continue;
      try {
        process.kill(pid, sig);
        any = true;
      } catch {
        // gone meanwhile
      }
    }
    return any;
  }
}

interface ProcEntry {
  readonly ppid: number;
  /** Start time in clock ticks since boot: with the pid, it names one process, never a recycled pid. */
  readonly start: string;
}

/** Every process's parent and start time, from /proc/PID/stat. Read only when a command must be ended. */
function processTable(): Map<number, ProcEntry> {
  const table = new Map<number, ProcEntry>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return table;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(name), { ppid: Number(f[1]), start: f[19] ?? '' });
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

/** ROOTS and everything below them, parents before children. */
function descendants(table: ReadonlyMap<number, ProcEntry>, roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, p] of table) {
    const list = children.get(p.ppid);
    if (list) list.push(pid);
    else children.set(p.ppid, [pid]);
  }
  const out = new Set<number>();
  const queue = roots.filter((pid) => table.has(pid));
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (out.has(pid) || pid === process.pid) continue;
    out.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...out];
}
/** After KILL, how long to wait for the exit before leaving the process behind. */
const AFTER_KILL_MS = 500;
/**
 * Kept after a hung command is given up, for the action to say what hung before the runtime's
 * watchdog (100 ms past the deadline) answers for it: on a loaded node each of the timers from
 * TERM to abandon fires late (a depth-20 monitor on a frozen filesystem said only "ran out of time"
 * when the host was busy).
 */
const REPORT_MS = 300;
/** The least time between TERM, KILL and giving up, however late the step before fired. */
const MIN_STEP_MS = 20;

export function childEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // Tools answer in English so their messages can go into exit reasons unchanged.
  return { ...process.env, PATH: searchPath(process.env.PATH).join(':'), LC_ALL: 'C', LANG: 'C', ...extra };
}

/** What a started command reports back, whichever runtime spawned it. */
interface ChildEvents {
  stdout(text: string): void;
  stderr(text: string): void;
  /** It could not be started (ENOENT, EACCES). */
  error(code: string): void;
  /** It exited and both its pipes closed. */
  close(code: number | null, signal: NodeJS.Signals | null): void;
}

interface Child {
  readonly pid: number | undefined;
  /** Stops reading its pipes and holding the event loop: an unkillable command's pipes never close. */
  abandon(): void;
}

/** The parts of Bun's own spawn that run() uses (lib/ is typed for Node; Bun is there at run time). */
interface BunSubprocess {
  readonly pid: number;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly exited: Promise<number>;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  unref(): void;
}
interface BunSpawn {
  spawn(opts: { cmd: string[]; env: NodeJS.ProcessEnv; stdin: 'ignore' | Uint8Array; stdout: 'pipe'; stderr: 'pipe' }): BunSubprocess;
}
const bun = (globalThis as { Bun?: BunSpawn }).Bun;

/**
 * Under Bun (the product), its own spawn: half the CPU of node:child_process's emulation per command
 * (5.6 vs 10.2 ms measured), which each monitor pays once or twice. Node (the unit tests) keeps
 * child_process; both keep the command in the agent's process group (see Tree).
 */
function startChild(file: string, args: string[], env: NodeJS.ProcessEnv, input: string | undefined, on: ChildEvents): Child {
  if (bun) return startBunChild(bun, file, args, env, input, on);
  const child = spawn(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env });
  child.stdout?.setEncoding('utf8').on('data', on.stdout);
  child.stderr?.setEncoding('utf8').on('data', on.stderr);
  if (input !== undefined) {
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  }
  child.on('error', (e: NodeJS.ErrnoException) => on.error(e.code ?? e.message));
  child.on('close', on.close);
  return {
    pid: child.pid,
    abandon() {
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
    },
  };
}

function startBunChild(b: BunSpawn, file: string, args: string[], env: NodeJS.ProcessEnv, input: string | undefined, on: ChildEvents): Child {
  let proc: BunSubprocess;
  try {
    proc = b.spawn({ cmd: [file, ...args], env, stdin: input === undefined ? 'ignore' : Buffer.from(input), stdout: 'pipe', stderr: 'pipe' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    queueMicrotask(() => on.error(err.code ?? err.message));
    return { pid: undefined, abandon() {} };
  }
  const readers = [proc.stdout.getReader(), proc.stderr.getReader()] as const;
  const pump = async (reader: ReadableStreamDefaultReader<Uint8Array>, sink: (text: string) => void) => {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        sink(decoder.decode(value, { stream: true }));
      }
      sink(decoder.decode());
    } catch {
      // cancelled by abandon()
    }
  };
  void Promise.all([pump(readers[0], on.stdout), pump(readers[1], on.stderr), proc.exited]).then(() => on.close(proc.exitCode, proc.signalCode));
  return {
    pid: proc.pid,
    abandon() {
      for (const r of readers) r.cancel().catch(() => undefined);
      proc.unref();
    },
  };
}

/**
 * Runs argv (never through a shell), bounded by the action's deadline and the call's own timeout:
 * TERM to the command and its children on expiry, KILL after the grace period.
 */
export function run(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
  const started = performance.now();
  const grace = Math.max(50, Math.min(opts.graceMs ?? 1000, opts.deadline.remaining() / 8));
  // TERM, the grace period, KILL and the wait after it all fit inside the deadline, so a hung
  // command still leaves the action time to say what hung.
  const limit = Math.max(0, Math.min(opts.timeoutMs ?? Infinity, opts.deadline.remaining() - grace - AFTER_KILL_MS - REPORT_MS));
  const [file, ...args] = argv;
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    let pid: number | undefined;
    const timers: NodeJS.Timeout[] = [];
    const finish = (r: Omit<RunResult, 'argv' | 'stdout' | 'stderr' | 'durationMs' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      // An abandoned command stays listed: a SIGTERM to the action still reaches it.
      if (pid !== undefined && !r.abandoned) live.delete(pid);
      const result: RunResult = { argv, stdout, stderr, durationMs: performance.now() - started, timedOut, ...r };
      opts.onResult?.(result);
      resolve(result);
    };
    if (!file) {
      finish({ code: null, signal: null, abandoned: false, spawnError: 'empty command' });
      return;
    }
    const child: Child = startChild(file, args, childEnv(opts.env), opts.input, {
      stdout: (d) => {
        if (stdout.length < MAX_CAPTURE) stdout += d;
      },
      stderr: (d) => {
        if (stderr.length < MAX_CAPTURE) stderr += d;
      },
      error: (code) => finish({ code: null, signal: null, abandoned: false, spawnError: code }),
      close: (code, signal) => finish({ code, signal, abandoned: false }),
    });
    pid = child.pid;
    const tree = pid === undefined ? undefined : new Tree(pid, argv);
    if (pid !== undefined && tree) live.set(pid, tree);
    const end = (sig: NodeJS.Signals) => tree?.signal(sig);
    // Each step is timed from the start, not from the step before: on a loaded node every timer
    // fires late, and chained delays would add their lateness up past the action's deadline.
    const termAt = started + limit;
    const after = (at: number, fn: () => void, least = MIN_STEP_MS) => timers.push(setTimeout(fn, Math.max(least, at - performance.now())));
    after(termAt, () => {
      timedOut = true;
      end('SIGTERM');
      after(termAt + grace, () => {
        end('SIGKILL');
        after(termAt + grace + AFTER_KILL_MS, () => {
          // Unkillable (D state): stop waiting so the action can still answer in time.
          child.abandon();
          if (tree) tree.abandoned = true;
          finish({ code: null, signal: null, abandoned: true });
        });
      });
    }, 0);
  });
}

export function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function ok(r: RunResult): boolean {
  return r.code === 0;
}

/** A tool's summary of its own failure ("Command 'drbdsetup secondary r0' terminated with exit code 11"): it names no cause. */
const WRAPPER = /^Command '.*' terminated with exit code \d+\.?$/;
/**
 * Lines that say why: DRBD's refusals ("r0: State change failed: (-12) Device is held open by
 * someone") and its netlink errors ("r0: Failure: (158) Unknown resource").
 */
const CAUSE = /State change failed|Failure: \(\d+\)|\(-\d+\)/;
/** DRBD 9 follows a refusal with "additional info from kernel:" and the kernel's own lines. */
const KERNEL_INFO = /^additional info from kernel:?$/i;

/**
 * The lines of a tool's output worth an exit reason, the cause first: DRBD 9 prints the refusal
 * first and more lines after it, so "the last lines" would keep the wrapper and lose the cause.
 * Then the kernel's additional info, then the last other lines.
 */
export function toolWords(text: string, max = 4): string[] {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const cause: string[] = [];
  const kernel: string[] = [];
  const other: string[] = [];
  const wrappers: string[] = [];
  let inKernelInfo = false;
  for (const l of lines) {
    if (KERNEL_INFO.test(l)) inKernelInfo = true;
    else if (WRAPPER.test(l)) {
      inKernelInfo = false;
      wrappers.push(l);
    } else if (CAUSE.test(l)) cause.push(l);
    else if (inKernelInfo) kernel.push(l);
    else other.push(l);
  }
  const picked = [...cause, ...kernel, ...other.slice(-3)];
  // The wrapper names the inner command, worth a place only when no line says why.
  return [...picked, ...(cause.length === 0 && picked.length < 3 ? wrappers.slice(-1) : [])].slice(0, max);
}

/**
 * One line for logs and exit reasons: what ran and how it ended, with the tool's own words, the
 * cause first. A long command line is cut to its program: Pacemaker keeps only the first 128
 * characters of an exit reason, and the trace has the whole argv. `shown` is the command as the
 * reason names it, when the caller knows which words only repeat the configuration.
 */
export function describe(r: RunResult, shown: readonly string[] = r.argv): string {
  const full = commandLine(shown);
  const cmd = full.length <= 40 ? full : `${commandLine(shown.slice(0, 1))} …`;
  const said = toolWords(r.stderr.trim() || r.stdout.trim()).join(' / ');
  const tail = said ? `: ${said.length > 300 ? `${said.slice(0, 300)}…` : said}` : '';
  if (r.spawnError) return `\`${cmd}\` could not be started (${r.spawnError})`;
  if (r.abandoned) return `\`${cmd}\` hung for ${(r.durationMs / 1000).toFixed(1)}s and did not die on SIGKILL`;
  if (r.timedOut) return `\`${cmd}\` did not finish within ${(r.durationMs / 1000).toFixed(1)}s and was killed${tail}`;
  if (r.signal) return `\`${cmd}\` was killed by ${r.signal}${tail}`;
  return `\`${cmd}\` exited ${r.code}${tail}`;
}
