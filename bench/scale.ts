// How the cost of monitoring grows with the number of resources (issue 33): N resources of each agent that can run
// on one machine without the lab (vip, fs-mount, nfs-export), and as many of its reference agent (IPaddr2,
// Filesystem, exportfs) on resources of their own, monitored at the agent's default interval for BENCH_MINUTES, for
// every N of BENCH_SCALE_SIZES. Measured per side: CPU seconds of the monitors and everything they start, peak
// memory. Driven by bench/run.ts (BENCH_ONLY=scale). drbd-promote needs a DRBD kernel module: see lab-monitor.
//
// Two processes, as in the other parts:
//   outer  makes the network namespace, the loop devices and a cgroup directory, re-executes the driver inside
//          (`ip netns exec NS unshare --mount --propagation private node run.ts --inner scale`), always cleans up,
//          prints the table and writes bench/results/scale-*.json.
//   inner  starts the resources, runs the monitors on their schedule, reads the cgroups, stops the resources.
//
// How a monitor is counted: every monitor runs as
//   sh -c 'echo $$ > CPU/cgroup.procs && echo $$ > MEM/cgroup.procs && shift 2 && exec "$@"' sh CPU MEM \
//      /usr/bin/time -f %M -o FILE AGENT monitor
// so the process is in its side's cgroup before it execs GNU time and the agent, and whatever they fork is born
// there: the cgroup's CPU counter (v1 cpuacct.usage, v2 cpu.stat usage_usec) is exact for the agent, its children
// and grandchildren, waited for or not. The wrapper (dash's exec, GNU time's fork and wait) is the same for both
// sides; a third cgroup runs /bin/true through it on the same schedule, and the report gives that floor.
// Node cannot give a child's rusage (no wait4), and GNU time prints CPU in 10 ms steps, so rusage is not used
// for CPU. It is for memory: GNU time's %M is the largest RSS of the agent or of a child it waited for.
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmdirSync,
  ftruncateSync, writeFileSync,
} from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lib from './lib.ts';
import { FS_MOUNT_PATH } from './fs-mount.ts';
import { VIP_PATH } from './vip.ts';

const { BenchFailure, EXEC_PATH, GNU_TIME, RUN_SCRIPT, REPO, TRUE_BIN, die, fmt, innerEnv, must, readText, round3, run, sleepSync } =
  lib;

// ---------------------------------------------------------------------------------------------- constants

const NFS_EXPORT_PATH = process.env.BENCH_NFS_EXPORT || join(REPO, 'dist', 'nfs-export');
const REF_DIR = '/usr/lib/ocf/resource.d/heartbeat';
const SH = '/bin/sh';
const UNSHARE = 'unshare';
const NIC = 'bench0';
const PEER = 'bench1';
const IMAGE_MIB = 32; // sparse; ext4 only, formatted once, the first N of each side used at size N
const TIMEOUT_MS = 20_000;
// The wrapper that puts the monitor into its side's cgroups before exec: fixed text, the paths and argv as positional
// arguments (nothing is interpolated into the script).
const ENTER_CGROUP = 'echo $$ > "$1" && echo $$ > "$2" && shift 2 && exec "$@"';
// Issue 33's goals.
const TARGET_RATIO = 0.5;
// "No growth per resource beyond what one process costs": CPU per monitor run at the largest size over the smallest.
const TARGET_GROWTH = 1.25;

const AGENTS = ['vip', 'fs-mount', 'nfs-export'] as const;
type AgentName = (typeof AGENTS)[number];
const REF: Record<AgentName, string> = { vip: 'IPaddr2', 'fs-mount': 'Filesystem', 'nfs-export': 'exportfs' };
type Side = 'ocfkit' | 'shell';

/** What the inner needs to know about one agent's resources. */
interface AgentPlan {
  agent: AgentName;
  ours: string; // the path the inner runs (the private copy's link)
  ref: string;
  intervalMs: number;
  /** Per side, per resource index: the OCF_RESKEY_* parameters. */
  params: Record<Side, Array<Record<string, string>>>;
}

interface Cgroups {
  mode: 'v1' | 'v2';
  /** Directories as the inner sees them (through /proc/OUTER/root, since `ip netns exec` mounts a fresh /sys). */
  cpuRoot: string;
  memRoot: string | undefined;
}

// ---------------------------------------------------------------------------------------------- cgroups

/** Where the cgroup hierarchies are; `BENCH_CGROUP=v1|v2` picks one on a hybrid host. */
function findCgroups(): { mode: 'v1' | 'v2'; cpu: string; mem: string | undefined } | string {
  const want = process.env.BENCH_CGROUP ?? '';
  const v2root = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].find((d) => existsSync(join(d, 'cgroup.controllers')));
  const v1 = existsSync('/sys/fs/cgroup/cpuacct/cpuacct.usage') ? '/sys/fs/cgroup/cpuacct' : undefined;
  if ((want === 'v1' || want === '') && v1) {
    const mem = existsSync('/sys/fs/cgroup/memory/memory.max_usage_in_bytes') ? '/sys/fs/cgroup/memory' : undefined;
    return { mode: 'v1', cpu: v1, mem };
  }
  if ((want === 'v2' || want === '') && v2root) {
    const mem = (readText(join(v2root, 'cgroup.controllers')) ?? '').split(/\s+/).includes('memory') ? v2root : undefined;
    return { mode: 'v2', cpu: v2root, mem };
  }
  return `no cgroup hierarchy to count CPU in (BENCH_CGROUP=${want || 'auto'}: v1 needs /sys/fs/cgroup/cpuacct, v2 a cgroup2 mount)`;
}

function cgCpuNs(mode: 'v1' | 'v2', dir: string): number {
  if (mode === 'v1') return Number((readText(join(dir, 'cpuacct.usage')) ?? 'NaN').trim());
  const m = /^usage_usec (\d+)$/m.exec(readText(join(dir, 'cpu.stat')) ?? '');
  return m ? Number(m[1]) * 1000 : NaN;
}

function cgMemPeak(mode: 'v1' | 'v2', dir: string | undefined): number | undefined {
  if (!dir) return undefined;
  const f = mode === 'v1' ? 'memory.max_usage_in_bytes' : 'memory.peak';
  const s = readText(join(dir, f));
  return s === undefined ? undefined : Number(s.trim());
}

/** Removes a cgroup directory tree bottom-up (a cgroup with processes in it cannot go: those are reported). */
function removeCgroupTree(dir: string): string[] {
  const problems: string[] = [];
  if (!existsSync(dir)) return problems;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) problems.push(...removeCgroupTree(join(dir, e.name)));
  }
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return problems;
    } catch (e) {
      if (i === 20) return [...problems, `rmdir ${dir}: ${e instanceof Error ? e.message : String(e)}`];
      sleepSync(100);
    }
  }
}

// ---------------------------------------------------------------------------------------------- inner

interface RunRecord {
  agent: AgentName | 'floor';
  side: Side | 'floor';
  i: number;
  startMs: number; // from the start of the window
  endMs: number;
  rssKiB: number;
  rc: number | null;
  lateMs: number; // how late it started against its schedule (the previous run of the resource still going)
}

interface SizeResult {
  n: number;
  /** The agents monitored in this window (one, or all with BENCH_SCALE_TOGETHER=1). */
  agents: AgentName[];
  windowSec: number;
  /** agent -> side -> CPU ns over the window (and the monitors started in it, to their end) */
  cpuNs: Record<string, Record<string, number>>;
  /** agent -> side -> cgroup memory peak, bytes (undefined without a memory hierarchy) */
  memPeakBytes: Record<string, Record<string, number | undefined>>;
  runs: RunRecord[];
  failures: string[];
  load1: number[];
}

interface Raw {
  sizes: SizeResult[];
  minutes: number;
  together: boolean;
  privateRsctmp: boolean;
  durationSec: number;
}

function agentEnv(plan: AgentPlan, side: Side, i: number, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: EXEC_PATH,
    OCF_ROOT: '/usr/lib/ocf',
    OCF_RA_VERSION_MAJOR: '1',
    OCF_RA_VERSION_MINOR: '1',
    OCF_RESOURCE_INSTANCE: `scale_${plan.agent.replace('-', '_')}_${side}_${i}`,
    OCF_RESOURCE_TYPE: side === 'ocfkit' ? plan.agent : REF[plan.agent],
    OCF_RESOURCE_PROVIDER: side === 'ocfkit' ? 'ocfkit' : 'heartbeat',
    OCF_RESKEY_CRM_meta_timeout: String(TIMEOUT_MS),
    OCF_RESKEY_CRM_meta_interval: '0',
    ...extra,
  };
  for (const [k, v] of Object.entries(plan.params[side][i] ?? {})) env[`OCF_RESKEY_${k}`] = v;
  return env;
}

export async function inner(): Promise<void> {
  const rawPath = process.env.BENCH_RAW ?? die('inner: BENCH_RAW not set');
  const plans = JSON.parse(process.env.BENCH_SCALE_PLANS ?? die('inner: BENCH_SCALE_PLANS not set')) as AgentPlan[];
  const cg = JSON.parse(process.env.BENCH_SCALE_CGROUPS ?? die('inner: BENCH_SCALE_CGROUPS not set')) as Cgroups;
  const sizes = (process.env.BENCH_SCALE_SIZES_LIST ?? die('inner: sizes not set')).split(',').map(Number);
  const minutes = Number(process.env.BENCH_MINUTES_VALUE ?? die('inner: minutes not set'));
  const together = process.env.BENCH_SCALE_TOGETHER === '1';
  const scratch = mkdtempSync(join(process.env.BENCH_SCRATCH || tmpdir(), 'inner-scale-'));

  const own = readlinkSync('/proc/self/ns/mnt');
  if (!process.env.BENCH_OUTER_MNTNS || own === process.env.BENCH_OUTER_MNTNS) {
    throw new BenchFailure('inner: not in a private mount namespace (run through bench/run.ts)');
  }
  const shared = (readText('/proc/self/mountinfo') ?? '').split('\n').filter((l) => / shared:\d+/.test(l.split(' - ')[0] ?? ''));
  if (shared.length > 0) throw new BenchFailure(`inner: mounts would propagate to the host: ${shared.length} shared mounts`);
  writeFileSync(process.env.BENCH_MNTNS_FILE ?? die('inner: BENCH_MNTNS_FILE not set'), own);

  // Volatile state of every agent (IPaddr2's and exportfs's pseudo-resource files, vip's announcers, nfs-export's
  // markers) lives in /run/resource-agents: a tmpfs here hides the host's. exportfs keeps its table in
  // /var/lib/nfs: an empty private copy, as test/integration/nfs-export.test.ts does.
  let privateRsctmp = false;
  if (existsSync('/run/resource-agents')) {
    must('mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=64m', 'ocfkit-bench', '/run/resource-agents']);
    privateRsctmp = true;
  }
  if (plans.some((p) => p.agent === 'nfs-export')) {
    const varlib = join(scratch, 'varlib-nfs');
    mkdirSync(varlib);
    for (const f of ['etab', 'rmtab']) writeFileSync(join(varlib, f), '');
    mkdirSync('/var/lib/nfs', { recursive: true });
    must('mount', ['--bind', varlib, '/var/lib/nfs']);
  }

  const out = join(scratch, 'out');
  const act = (plan: AgentPlan, side: Side, i: number, a: string, want: number, extra: Record<string, string> = {}) => {
    const path = side === 'ocfkit' ? plan.ours : plan.ref;
    const fd = openSync(out, 'w');
    const r = spawnSyncEnv(path, [a], agentEnv(plan, side, i, extra), fd);
    closeSync(fd);
    if (r !== want) {
      throw new BenchFailure(`${side === 'ocfkit' ? plan.agent : REF[plan.agent]} ${a} (resource ${i}) returned ${r}, ` +
        `expected ${want}:\n${(readText(out) ?? '').trim().slice(-1500)}`);
    }
  };

  const t0 = Date.now();
  const results: SizeResult[] = [];
  const started: Array<[AgentPlan, Side, number]> = [];
  const stopAll = () => {
    const problems: string[] = [];
    while (started.length > 0) {
      const [p, s, i] = started.pop() as [AgentPlan, Side, number];
      try {
        act(p, s, i, 'stop', 0);
      } catch (e) {
        problems.push(e instanceof Error ? e.message : String(e));
      }
    }
    if (problems.length > 0) throw new BenchFailure(`stop failed:\n${problems.join('\n')}`);
  };
  const onSignal = () => {
    process.stderr.write('bench: scale: signalled, stopping the resources\n');
    try {
      stopAll();
    } finally {
      process.exit(130);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    // One agent at a time by default: all three at once at N=40 asked more CPU than this 2-CPU machine had beside the
    // other work, the monitors ran late and piled up, and the per-run cost measured contention. Both sides of an
    // agent always run at once.
    const groups = together ? [plans] : plans.map((p) => [p]);
    for (const n of sizes) {
      for (const g of groups) {
        const what = g.map((p) => p.agent).join(', ');
        process.stderr.write(`bench: scale: N=${n}: starting ${n} resource(s) of ${what} per side\n`);
        for (const p of g) {
          for (let i = 0; i < n; i++) {
            for (const s of ['ocfkit', 'shell'] as Side[]) {
              // vip comes up without its duplicate-address probe: the same end state, 500 ms less per start.
              act(p, s, i, 'start', 0, p.agent === 'vip' && s === 'ocfkit' ? { OCF_RESKEY_run_arping: 'false' } : {});
              started.push([p, s, i]);
            }
          }
        }
        process.stderr.write(`bench: scale: N=${n}: monitoring ${what} for ${minutes} min (${new Date().toISOString().slice(11, 19)} UTC)\n`);
        const r = await window(n, g, cg, minutes, scratch);
        results.push(r);
        process.stderr.write(`bench: scale: N=${n}: stopping\n`);
        stopAll();
        if (r.failures.length > 0) process.stderr.write(`bench: scale: ${r.failures.length} monitor(s) failed at N=${n}\n`);
      }
    }
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  const raw: Raw = { sizes: results, minutes, together, privateRsctmp, durationSec: (Date.now() - t0) / 1000 };
  writeFileSync(rawPath, JSON.stringify(raw));
}

/** spawnSync with exactly `env`, output to fd; the exit code, or -1 when killed. */
function spawnSyncEnv(cmd: string, args: string[], env: Record<string, string>, fd: number): number {
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', fd, fd], timeout: 60_000, killSignal: 'SIGKILL' });
  if (r.error) throw new BenchFailure(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r.status ?? -1;
}

interface Task {
  agent: AgentName | 'floor';
  side: Side | 'floor';
  i: number;
  path: string;
  env: Record<string, string>;
  intervalMs: number;
  phaseMs: number;
  cpuProcs: string;
  memProcs: string;
  running: boolean;
  pendingSince: number | undefined;
}

/**
 * One measuring window at size n: every resource's monitor on its schedule for `minutes`, resource i of each side at
 * the same phase ((i + 0.5) / n of the interval), so both sides' monitors run at the same moments and meet the same
 * contention. A monitor due while the previous one of its resource still runs starts when that one ends (as
 * pacemaker-execd does), and counts as late. Monitors started in the window are waited for and counted.
 */
async function window(n: number, plans: AgentPlan[], cg: Cgroups, minutes: number, scratch: string): Promise<SizeResult> {
  const dirs: Record<string, { cpu: string; mem: string | undefined }> = {};
  const tag = `n${n}-${plans.map((p) => p.agent).join('+')}`;
  const sizeCpu = join(cg.cpuRoot, tag);
  const sizeMem = cg.memRoot && cg.mode === 'v1' ? join(cg.memRoot, tag) : undefined;
  mkdirSync(sizeCpu);
  if (sizeMem) mkdirSync(sizeMem);
  if (cg.mode === 'v2' && cg.memRoot) enableMemory(sizeCpu);
  const groups = [...plans.flatMap((p) => [`${p.agent}-ocfkit`, `${p.agent}-shell`]), 'floor'];
  for (const g of groups) {
    const cpu = join(sizeCpu, g);
    mkdirSync(cpu);
    let mem: string | undefined;
    if (sizeMem) {
      mem = join(sizeMem, g);
      mkdirSync(mem);
    } else if (cg.mode === 'v2' && existsSync(join(cpu, 'memory.peak'))) mem = cpu;
    dirs[g] = { cpu, mem };
  }
  const procs = (g: string) => {
    const d = dirs[g] as { cpu: string; mem: string | undefined };
    return { cpuProcs: join(d.cpu, 'cgroup.procs'), memProcs: join(d.mem ?? d.cpu, 'cgroup.procs') };
  };

  const tasks: Task[] = [];
  for (const p of plans) {
    for (let i = 0; i < n; i++) {
      for (const side of ['ocfkit', 'shell'] as Side[]) {
        tasks.push({
          agent: p.agent, side, i, path: side === 'ocfkit' ? p.ours : p.ref,
          env: agentEnv(p, side, i, { OCF_RESKEY_CRM_meta_interval: String(p.intervalMs) }),
          intervalMs: p.intervalMs, phaseMs: ((i + 0.5) / n) * p.intervalMs, ...procs(`${p.agent}-${side}`),
          running: false, pendingSince: undefined,
        });
      }
    }
  }
  // The wrapper's own cost, on the shortest interval: /bin/true through the same sh + GNU time.
  const floorMs = Math.min(...plans.map((p) => p.intervalMs));
  for (let i = 0; i < n; i++) {
    tasks.push({
      agent: 'floor', side: 'floor', i, path: TRUE_BIN, env: { PATH: EXEC_PATH }, intervalMs: floorMs,
      phaseMs: ((i + 0.5) / n) * floorMs, ...procs('floor'), running: false, pendingSince: undefined,
    });
  }

  const windowMs = minutes * 60_000;
  const runs: RunRecord[] = [];
  const failures: string[] = [];
  const load1: number[] = [loadavg()[0] as number];
  const loadTimer = setInterval(() => load1.push(loadavg()[0] as number), 60_000);
  const w0 = performance.now();
  const now = () => performance.now() - w0;
  let live = 0;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((res) => {
    allDone = res;
  });
  let windowOver = false;

  const launch = (t: Task, lateMs: number) => {
    t.running = true;
    live++;
    const tag = `${t.agent}-${t.side}-${t.i}`;
    const memFile = join(scratch, `${tag}.time`);
    const errFile = join(scratch, `${tag}.err`);
    writeFileSync(memFile, '');
    const fd = openSync(errFile, 'w');
    const startMs = now();
    const c = spawn(
      SH,
      ['-c', ENTER_CGROUP, 'sh', t.cpuProcs, t.memProcs, GNU_TIME, '-f', '%M', '-o', memFile, t.path, 'monitor'],
      { env: t.env, stdio: ['ignore', fd, fd], detached: true },
    );
    closeSync(fd);
    const killer = setTimeout(() => {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, TIMEOUT_MS * 3);
    const done = (rc: number | null, sig: string | null) => {
      clearTimeout(killer);
      const endMs = now();
      const lines = (readText(memFile) ?? '').split('\n').filter((l) => /^\d+$/.test(l.trim()));
      const rssKiB = Number(lines[lines.length - 1] ?? NaN);
      runs.push({ agent: t.agent, side: t.side, i: t.i, startMs, endMs, rssKiB, rc, lateMs });
      if (rc !== 0) {
        const err = (readText(errFile) ?? '').trim();
        failures.push(`${tag} at ${(startMs / 1000).toFixed(1)} s: ${rc === null ? `killed by ${sig}` : `exit code ${rc}`}` +
          (err ? `\n    ${err.slice(-800).replace(/\n/g, '\n    ')}` : ''));
      }
      t.running = false;
      live--;
      if (t.pendingSince !== undefined && !windowOver) {
        const since = t.pendingSince;
        t.pendingSince = undefined;
        launch(t, now() - since);
      } else if (windowOver && live === 0) allDone();
    };
    c.on('error', (e) => {
      failures.push(`${tag}: could not run: ${e.message}`);
      done(-1, null);
    });
    c.on('exit', (rc, sig) => done(rc, sig));
  };

  const timers: NodeJS.Timeout[] = [];
  for (const t of tasks) {
    const tick = (due: number) => {
      if (due >= windowMs) return;
      if (t.running) t.pendingSince ??= now();
      else launch(t, Math.max(0, now() - due));
      const next = due + t.intervalMs;
      timers.push(setTimeout(() => tick(next), Math.max(0, next - now())));
    };
    timers.push(setTimeout(() => tick(t.phaseMs), t.phaseMs));
  }
  await new Promise((res) => setTimeout(res, windowMs));
  windowOver = true;
  for (const tm of timers) clearTimeout(tm);
  clearInterval(loadTimer);
  if (live > 0) await finished;
  load1.push(loadavg()[0] as number);

  const cpuNs: SizeResult['cpuNs'] = {};
  const memPeakBytes: SizeResult['memPeakBytes'] = {};
  for (const g of groups) {
    const [a, s] = g === 'floor' ? ['floor', 'floor'] : [g.slice(0, g.lastIndexOf('-')), g.slice(g.lastIndexOf('-') + 1)];
    const d = dirs[g] as { cpu: string; mem: string | undefined };
    (cpuNs[a as string] ??= {})[s as string] = cgCpuNs(cg.mode, d.cpu);
    (memPeakBytes[a as string] ??= {})[s as string] = cgMemPeak(cg.mode, d.mem);
  }
  const problems = [...removeCgroupTree(sizeCpu), ...(sizeMem ? removeCgroupTree(sizeMem) : [])];
  for (const p of problems) process.stderr.write(`bench: WARNING: ${p}\n`);
  return { n, agents: plans.map((p) => p.agent), windowSec: windowMs / 1000, cpuNs, memPeakBytes, runs, failures, load1 };
}

/** cgroup v2: the children of `dir` get the memory controller (memory.peak), where the parent has it. */
function enableMemory(dir: string): void {
  try {
    writeFileSync(join(dir, 'cgroup.subtree_control'), '+memory');
  } catch {
    /* not delegated here: the report says the cgroup peak is missing */
  }
}

// ---------------------------------------------------------------------------------------------- outer: report

/** The most memory of one side at once: the sum of the peak RSS of the monitors running at the same moment (an upper
 *  bound: each counted at its own peak, and the pages they share, the executable's, counted once per process). */
function concurrentPeakKiB(runs: readonly RunRecord[]): number {
  const ev: Array<[number, number]> = [];
  for (const r of runs) {
    if (!Number.isFinite(r.rssKiB)) continue;
    ev.push([r.startMs, r.rssKiB], [r.endMs, -r.rssKiB]);
  }
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of ev) {
    cur += d;
    peak = Math.max(peak, cur);
  }
  return peak;
}

interface Row {
  agent: AgentName;
  n: number;
  side: Record<Side, { cpuSec: number; share: number; runs: number; msPerRun: number; rssMaxMiB: number; rssMedianMiB: number;
    concurrentPeakMiB: number; cgroupPeakMiB: number | undefined; late: number; maxParallel: number }>;
  ratio: number;
  ratioNetOfFloor: number;
}

function maxParallel(runs: readonly RunRecord[]): number {
  const ev: Array<[number, number]> = [];
  for (const r of runs) ev.push([r.startMs, 1], [r.endMs, -1]);
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of ev) peak = Math.max(peak, (cur += d));
  return peak;
}

function report(raw: Raw, plans: AgentPlan[]) {
  const out: string[] = [];
  const say = (s = '') => out.push(s);
  const rows: Row[] = [];
  const floors: Array<{ n: number; agents: string; msPerRun: number }> = [];
  for (const sz of raw.sizes) {
    const fr = sz.runs.filter((r) => r.agent === 'floor');
    const f = (sz.cpuNs['floor']?.['floor'] ?? NaN) / 1e6 / fr.length;
    floors.push({ n: sz.n, agents: sz.agents.join('+'), msPerRun: round3(f) });
    for (const p of plans.filter((x) => sz.agents.includes(x.agent))) {
      const side = {} as Row['side'];
      for (const s of ['ocfkit', 'shell'] as Side[]) {
        const rs = sz.runs.filter((r) => r.agent === p.agent && r.side === s);
        const cpuSec = (sz.cpuNs[p.agent]?.[s] ?? NaN) / 1e9;
        const rss = rs.map((r) => r.rssKiB / 1024).filter(Number.isFinite);
        const cgb = sz.memPeakBytes[p.agent]?.[s];
        side[s] = {
          cpuSec, share: cpuSec / sz.windowSec, runs: rs.length, msPerRun: (cpuSec * 1000) / rs.length,
          rssMaxMiB: Math.max(...rss), rssMedianMiB: lib.pct(rss, 0.5), concurrentPeakMiB: concurrentPeakKiB(rs) / 1024,
          cgroupPeakMiB: cgb === undefined ? undefined : cgb / 1048576, late: rs.filter((r) => r.lateMs > 1000).length,
          maxParallel: maxParallel(rs),
        };
      }
      rows.push({
        agent: p.agent, n: sz.n, side, ratio: side.ocfkit.share / side.shell.share,
        ratioNetOfFloor: (side.ocfkit.msPerRun - f) / (side.shell.msPerRun - f),
      });
    }
  }

  say('CPU share = CPU seconds of the side\'s cgroup (the monitors and everything they started) / the window\'s wall seconds;');
  say('100% = one CPU. Both sides ran at the same moments (side by side, each in its own cgroup), ' +
    (raw.together ? 'all agents at once.' : 'one agent at a time.'));
  const head = ['agent', 'N', 'interval', 'runs', 'ocfkit CPU', 'shell CPU', 'ratio', 'net', 'ocfkit ms/run', 'shell ms/run',
    'ocfkit RSS/run', 'shell RSS/run', 'ocfkit peak', 'shell peak', 'ocfkit cgroup', 'shell cgroup'];
  rows.sort((a, b) => AGENTS.indexOf(a.agent) - AGENTS.indexOf(b.agent) || a.n - b.n);
  const cells = rows.map((r) => {
    const p = plans.find((x) => x.agent === r.agent) as AgentPlan;
    const o = r.side.ocfkit;
    const s = r.side.shell;
    const cgm = (x: number | undefined) => (x === undefined ? '-' : `${fmt(x)} MiB`);
    return [`${r.agent} / ${REF[r.agent]}`, String(r.n), `${p.intervalMs / 1000} s`, `${o.runs}/${s.runs}`,
      `${fmt(o.share * 100, 3)}%`, `${fmt(s.share * 100, 3)}%`, fmt(r.ratio, 2), fmt(r.ratioNetOfFloor, 2),
      fmt(o.msPerRun, 1), fmt(s.msPerRun, 1), `${fmt(o.rssMaxMiB)} MiB`, `${fmt(s.rssMaxMiB)} MiB`,
      `${fmt(o.concurrentPeakMiB)} MiB`, `${fmt(s.concurrentPeakMiB)} MiB`, cgm(o.cgroupPeakMiB), cgm(s.cgroupPeakMiB)];
  });
  say(lib.table(head, cells, 1));
  say('  runs: monitor runs in the window, ocfkit/shell. ratio: ocfkit CPU / shell CPU. net: the same per run with the');
  say('  harness floor (sh exec + GNU time + /bin/true, below) taken off both sides. ms/run: CPU ms per monitor run.');
  say('  RSS/run: the largest peak RSS of one monitor run (GNU time %M: the agent or a child it waited for).');
  say('  peak: the most of the side at once, the sum of the peak RSS of its monitors running at the same moment (an');
  say('  upper bound: the executable\'s shared pages are counted once per process). cgroup: the side\'s memory cgroup');
  say('  peak (v1 memory.max_usage_in_bytes, v2 memory.peak): the memory charged to the side, counted once however many');
  say('  processes share it: anonymous memory, page tables, and page cache the side read first. The executables\' pages');
  say('  are not in it: the starts, outside the cgroups, read them before the window.');
  say(`  harness floor, CPU ms per run: ${floors.map((f) => `N=${f.n} ${f.agents} ${fmt(f.msPerRun, 2)}`).join(', ')}`);
  const late = rows.flatMap((r) => (['ocfkit', 'shell'] as Side[]).filter((s) => r.side[s].late > 0)
    .map((s) => `${r.agent} ${s} N=${r.n}: ${r.side[s].late}`));
  if (late.length) say(`  monitors started more than 1 s late (the previous run of the resource still going): ${late.join('; ')}`);
  say();

  // Goals.
  say('Goals (issue 33)');
  const verdict: Record<string, unknown> = {};
  for (const p of plans) {
    const rs = rows.filter((r) => r.agent === p.agent).sort((a, b) => a.n - b.n);
    if (rs.length === 0) continue;
    const worst = Math.max(...rs.map((r) => r.ratio));
    const ratioMet = rs.every((r) => r.ratio <= TARGET_RATIO);
    const first = rs[0] as Row;
    const last = rs[rs.length - 1] as Row;
    const growth = last.side.ocfkit.msPerRun / first.side.ocfkit.msPerRun;
    const shellGrowth = last.side.shell.msPerRun / first.side.shell.msPerRun;
    const rssGrowth = last.side.ocfkit.rssMaxMiB / first.side.ocfkit.rssMaxMiB;
    const growthMet = rs.length < 2 || growth <= TARGET_GROWTH;
    // The floor's /bin/true ran N times per interval in the same window: how much contention alone inflated a run.
    const floorOf = (r: Row) => floors.find((f) => f.n === r.n && f.agents.split('+').includes(r.agent))?.msPerRun ?? NaN;
    const floorGrowth = floorOf(last) / floorOf(first);
    say(`  ${p.agent}: CPU ratio ${rs.map((r) => `N=${r.n} ${fmt(r.ratio, 2)}`).join(', ')} (goal ≤ ${TARGET_RATIO} at every size)  ` +
      `${ratioMet ? 'MET' : 'NOT MET'}`);
    if (rs.length >= 2) {
      say(`    CPU per monitor run N=${last.n} / N=${first.n}: ocfkit ${fmt(growth, 2)} (${fmt(first.side.ocfkit.msPerRun)} → ` +
        `${fmt(last.side.ocfkit.msPerRun)} ms), shell ${fmt(shellGrowth, 2)}, harness floor ${fmt(floorGrowth, 2)}; peak RSS per run ` +
        `${fmt(rssGrowth, 2)}  ` +
        `(goal: no growth per resource beyond one process's cost, ≤ ${TARGET_GROWTH})  ${growthMet ? 'MET' : 'NOT MET'}`);
    }
    verdict[p.agent] = {
      ratio: Object.fromEntries(rs.map((r) => [r.n, round3(r.ratio)])), worstRatio: round3(worst), target: TARGET_RATIO,
      ratioMet, perRunGrowth: round3(growth), shellPerRunGrowth: round3(shellGrowth), rssGrowth: round3(rssGrowth),
      floorPerRunGrowth: round3(floorGrowth), growthTarget: TARGET_GROWTH, growthMet,
    };
  }
  const summary = rows.map((r) => ({
    agent: r.agent, reference: REF[r.agent], n: r.n, ratio: round3(r.ratio), ratioNetOfFloor: round3(r.ratioNetOfFloor),
    ocfkit: roundAll(r.side.ocfkit), shell: roundAll(r.side.shell),
  }));
  return { text: out.join('\n'), summary, verdict, floors };
}

function roundAll(o: Record<string, number | undefined>): Record<string, number | undefined> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === undefined ? v : round3(v)]));
}

// ---------------------------------------------------------------------------------------------- outer

function selected(): AgentName[] {
  const s = process.env.BENCH_SCALE_AGENTS;
  if (!s) return [...AGENTS];
  const xs = s.split(',').map((x) => x.trim()).filter(Boolean);
  for (const x of xs) if (!(AGENTS as readonly string[]).includes(x)) die(`BENCH_SCALE_AGENTS: "${x}" is not one of ${AGENTS.join(', ')}`);
  return xs as AgentName[];
}

function sizesOf(): number[] {
  const s = process.env.BENCH_SCALE_SIZES || '1,10,40';
  const xs = s.split(',').map((x) => Number(x.trim()));
  if (xs.some((x) => !Number.isInteger(x) || x < 1 || x > 200)) die(`BENCH_SCALE_SIZES must be integers 1..200, got "${s}"`);
  return xs;
}

function minutesOf(): number {
  const s = process.env.BENCH_MINUTES || '10';
  const m = Number(s);
  if (!Number.isFinite(m) || m <= 0) die(`BENCH_MINUTES must be a number > 0, got "${s}"`);
  return m;
}

const oursPath = (a: AgentName) => (a === 'vip' ? VIP_PATH : a === 'fs-mount' ? FS_MOUNT_PATH : NFS_EXPORT_PATH);

/** Missing prerequisites of this part, as messages (nothing is changed on the host). */
export function missing(): string[] {
  const out: string[] = [];
  const agents = selected();
  sizesOf();
  minutesOf();
  for (const a of agents) {
    if (!existsSync(oursPath(a))) out.push(`missing ${a} agent (run \`npm run build\` first): ${oursPath(a)}`);
    if (!existsSync(join(REF_DIR, REF[a]))) out.push(`missing ${REF[a]} (Debian package resource-agents): ${join(REF_DIR, REF[a])}`);
  }
  const tools: Array<[string, string]> = [[GNU_TIME, 'GNU time (Debian package time)'], [SH, 'sh'], [TRUE_BIN, 'true']];
  for (const [p, what] of tools) if (!existsSync(p)) out.push(`missing ${what}: ${p}`);
  const onPath: Array<[string, string]> = [['ip', 'iproute2'], [UNSHARE, 'util-linux']];
  if (agents.includes('fs-mount')) onPath.push(['losetup', 'mount'], ['mkfs.ext4', 'e2fsprogs'], ['fuser', 'psmisc; Filesystem needs it']);
  if (agents.includes('nfs-export')) onPath.push(['exportfs', 'nfs-kernel-server']);
  for (const [cmd, pkg] of onPath) {
    if (!EXEC_PATH.split(':').some((d) => existsSync(join(d, cmd)))) out.push(`missing ${cmd} (${pkg})`);
  }
  const cg = findCgroups();
  if (typeof cg === 'string') out.push(cg);
  if (process.env.BENCH_PREV) out.push('BENCH_PREV is not supported by the scale part (run it with BENCH_VIP/BENCH_FS_MOUNT/BENCH_NFS_EXPORT)');
  return out;
}

/** The depth-0 monitor interval an agent's meta-data advertises, in ms. */
function metaInterval(path: string): number | undefined {
  const r = spawnSync(path, ['meta-data'], { encoding: 'utf8', env: { PATH: EXEC_PATH, OCF_ROOT: '/usr/lib/ocf' }, timeout: 20_000 });
  for (const m of (r.stdout ?? '').matchAll(/<action\b[^>]*>/g)) {
    const tag = m[0];
    if (!/name="monitor"/.test(tag) || /role=/.test(tag)) continue;
    const depth = /depth="(\d+)"/.exec(tag)?.[1] ?? '0';
    const iv = /interval="(\d+)(ms|s|m)?"/.exec(tag);
    if (depth !== '0' || !iv) continue;
    const unit = iv[2] === 'ms' ? 1 : iv[2] === 'm' ? 60_000 : 1000;
    return Number(iv[1]) * unit;
  }
  return undefined;
}

const addr = (base: string, i: number) => {
  const k = i + 10;
  return `${base}.${k >> 8}.${k & 255}`;
};

export async function outer(ctx: {
  session: lib.Session;
  scratch: string;
  binaries: lib.Binaries;
}): Promise<number> {
  const { session } = ctx;
  const agents = selected();
  const sizes = sizesOf();
  const minutes = minutesOf();
  const maxN = Math.max(...sizes);
  const found = findCgroups();
  if (typeof found === 'string') lib.die(found);
  const ns = `ocfkit-scale-${process.pid}`;
  const scratch = mkdtempSync(join(ctx.scratch, 'scale-'));
  const rawPath = join(scratch, 'raw.json');
  const nsFile = join(scratch, 'mntns');
  const cgName = `ocfkit-bench-scale-${process.pid}`;
  const cgCpu = join(found.cpu, cgName);
  const cgMem = found.mem && found.mode === 'v1' ? join(found.mem, cgName) : undefined;
  const loops: string[] = [];
  const images: string[] = [];
  const leftovers: string[] = [];
  const problems: string[] = [];
  let nsCreated = false;
  let cleaned = false;

  const cleanup = (graceMs = 0): void => {
    if (cleaned) return;
    cleaned = true;
    const mnt = readText(nsFile);
    if (mnt) lib.endMountNamespace(mnt, graceMs, leftovers, problems);
    if (nsCreated) {
      const r = run('ip', ['netns', 'delete', ns]);
      if (r.rc !== 0) problems.push(`ip netns delete ${ns}: ${r.err.trim()}`);
    }
    problems.push(...removeCgroupTree(cgCpu), ...(cgMem ? removeCgroupTree(cgMem) : []));
    lib.detachLoops(loops, images, problems);
    lib.removeTree(scratch);
    for (const p of problems) process.stderr.write(`bench: WARNING: ${p}\n`);
  };
  const done = session.defer('scale namespaces, loop devices and cgroups', () => cleanup());

  const bins: Partial<Record<AgentName, lib.AgentBinary>> = {};
  try {
    for (const a of agents) bins[a] = ctx.binaries.prepare(a, oursPath(a));
  } catch (e) {
    done();
    die(e instanceof Error ? e.message : String(e));
  }

  const plans: AgentPlan[] = [];
  const intervals: Record<string, { ocfkit: number | undefined; reference: number | undefined }> = {};
  for (const a of agents) {
    const b = bins[a] as lib.AgentBinary;
    // The configured path (dist/vip …), not the private copy, whose pages should first be read by the monitors.
    const ours = metaInterval(b.path);
    const ref = metaInterval(join(REF_DIR, REF[a]));
    intervals[a] = { ocfkit: ours, reference: ref };
    if (ours === undefined) lib.die(`${a} meta-data advertises no depth-0 monitor interval`);
    plans.push({ agent: a, ours: b.ranFrom, ref: join(REF_DIR, REF[a]), intervalMs: ours, params: { ocfkit: [], shell: [] } });
  }

  const meta: Record<string, unknown> = {
    ...lib.hostMeta(),
    mode: `harness re-executed in a network namespace and a private mount namespace (ip netns exec ${ns} ${UNSHARE} ` +
      '--mount --propagation private node run.ts --inner scale); monitors started as pacemaker-execd does, one process ' +
      `per run, both sides at the same time, each side in its own cgroup, ${process.env.BENCH_SCALE_TOGETHER === '1' ? 'all agents at once' : 'one agent after the other'}`,
    cgroup: { mode: found.mode, cpu: cgCpu, memory: found.mode === 'v1' ? cgMem : found.mem ? cgCpu : undefined },
    wrapper: [SH, '-c', ENTER_CGROUP, 'sh', 'CPU/cgroup.procs', 'MEM/cgroup.procs', GNU_TIME, '-f', '%M', '-o', 'FILE', 'AGENT', 'monitor'],
    sizes,
    minutes,
    intervals,
    binaries: Object.fromEntries(Object.entries(bins).map(([a, b]) => [a, lib.binaryMeta(b as lib.AgentBinary)])),
    references: { dir: REF_DIR, package: run('dpkg-query', ['-W', '-f', '${Version}', 'resource-agents']).out },
    loadavgBefore: loadavg(),
  };

  let code = 0;
  try {
    mkdirSync(cgCpu);
    if (cgMem) mkdirSync(cgMem);
    if (found.mode === 'v2' && found.mem) enableMemory(cgCpu);

    lib.vethNamespace(ns, NIC, PEER, () => {
      nsCreated = true;
    });
    // One /16 per side (198.18.0.0/15 is for benchmarks, RFC 2544) on the same interface: both sides' monitors list
    // the same 2N addresses.
    must('ip', ['-n', ns, 'addr', 'add', '198.18.0.1/16', 'dev', NIC]);
    must('ip', ['-n', ns, 'addr', 'add', '198.19.0.1/16', 'dev', NIC]);

    for (const p of plans) {
      for (const side of ['ocfkit', 'shell'] as Side[]) {
        for (let i = 0; i < maxN; i++) {
          const dir = join(scratch, p.agent, side, String(i));
          if (p.agent === 'vip') {
            p.params[side].push({ ip: addr(side === 'ocfkit' ? '198.18' : '198.19', i), cidr_netmask: '16', nic: NIC });
          } else if (p.agent === 'fs-mount') {
            mkdirSync(join(dir, 'mnt'), { recursive: true });
            const image = join(dir, 'image');
            const fd = openSync(image, 'w');
            ftruncateSync(fd, IMAGE_MIB * 1024 * 1024);
            closeSync(fd);
            const device = must('losetup', ['--find', '--show', image]).trim();
            loops.push(device);
            images.push(image);
            must('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', device]);
            p.params[side].push({ device, directory: join(dir, 'mnt'), fstype: 'ext4' });
          } else {
            mkdirSync(dir, { recursive: true });
            const fsid = String((side === 'ocfkit' ? 1000 : 2000) + i);
            p.params[side].push({
              directory: dir, clientspec: '192.0.2.0/24', options: 'rw,no_subtree_check', fsid,
              ...(side === 'ocfkit' ? { manage_server: 'false' } : {}),
            });
          }
        }
      }
    }
    process.stderr.write(
      `bench: scale: ${agents.join(', ')}; sizes ${sizes.join(', ')}; ${minutes} min each; ` +
        `intervals ${plans.map((p) => `${p.agent} ${p.intervalMs / 1000} s`).join(', ')}; cgroup ${found.mode}` +
        (loops.length ? `; ${loops.length} loop devices` : '') + '\n',
    );

    const viaOuter = (d: string | undefined) => (d === undefined ? undefined : `/proc/${process.pid}/root${d}`);
    const cgInner: Cgroups = {
      mode: found.mode,
      cpuRoot: viaOuter(cgCpu) as string,
      memRoot: found.mode === 'v1' ? viaOuter(cgMem) : found.mem ? viaOuter(cgCpu) : undefined,
    };
    const env = innerEnv({
      BENCH_RAW: rawPath,
      BENCH_SCALE_PLANS: JSON.stringify(plans),
      BENCH_SCALE_CGROUPS: JSON.stringify(cgInner),
      BENCH_SCALE_SIZES_LIST: sizes.join(','),
      BENCH_MINUTES_VALUE: String(minutes),
      BENCH_OUTER_MNTNS: readlinkSync('/proc/self/ns/mnt'),
      BENCH_MNTNS_FILE: nsFile,
      BENCH_SCRATCH: scratch,
    });
    code = await lib.runInner(
      session, 'scale', 'ip',
      ['netns', 'exec', ns, UNSHARE, '--mount', '--propagation', 'private', process.execPath, ...process.execArgv, RUN_SCRIPT,
        '--inner', 'scale'],
      env,
    );
    if (code !== 0) return code;
    const raw = JSON.parse(readFileSync(rawPath, 'utf8')) as Raw;
    meta.loadavgAfter = loadavg();
    meta.durationSec = round3(raw.durationSec);
    meta.privateRsctmp = raw.privateRsctmp;
    const rep = report(raw, plans);
    cleanup(lib.LEFTOVER_GRACE_MS);
    const failures = raw.sizes.flatMap((s) => s.failures.map((f) => `N=${s.n} ${f}`));
    process.stdout.write(
      `ocfkit bench: scale — ${agents.map((a) => `${a} vs ${REF[a]}`).join(', ')}; N = ${sizes.join(', ')} per side; ` +
        `${minutes} min each, ${cpus().length} CPUs, load ${lib.loadText(meta.loadavgBefore as number[])} → ` +
        `${lib.loadText(loadavg())}, ${raw.durationSec.toFixed(0)} s\n` +
        `${Object.entries(bins).map(([a, b]) => `${a}: ${lib.binaryNote(b as lib.AgentBinary)}`).join('\n')}\n` +
        `references: resource-agents ${String((meta.references as { package: string }).package)}; ` +
        `cgroup ${found.mode}; ${raw.privateRsctmp ? 'private tmpfs on /run/resource-agents' : 'host /run/resource-agents'}` +
        `; load1 per size ${raw.sizes.map((s) => `N=${s.n} ${lib.fmt(lib.pct(s.load1, 0.5), 2)}`).join(', ')}\n\n` +
        `${rep.text}\n`,
    );
    for (const b of Object.values(bins)) {
      const note = lib.rebuiltNote(b as lib.AgentBinary);
      if (note) process.stdout.write(note);
    }
    if (failures.length) {
      code = 1;
      process.stdout.write(`\nFAILED monitors (${failures.length}):\n${failures.slice(0, 20).map((f) => `  ${f}`).join('\n')}\n`);
    }
    if (leftovers.length) {
      process.stdout.write(`NOTE: ${leftovers.length} process(es) were still running after the harness exited, and were killed:\n`);
      for (const l of leftovers) process.stdout.write(`  ${l}\n`);
    }
    meta.leftoverProcesses = leftovers;
    meta.cleanupProblems = problems;
    const doc = {
      meta,
      units: { cpuNs: 'ns per side over the window', rssKiB: 'GNU time %M per run', times: 'ms from the window start' },
      summary: rep.summary,
      floorMsPerRun: rep.floors,
      verdict: rep.verdict,
      failures,
      raw: raw.sizes.map((s) => ({
        n: s.n, windowSec: s.windowSec, cpuNs: s.cpuNs, memPeakBytes: s.memPeakBytes, load1: s.load1,
        runs: s.runs.map((r) => [r.agent, r.side, r.i, Math.round(r.startMs), Math.round(r.endMs), r.rssKiB, r.rc, Math.round(r.lateMs)]),
      })),
    };
    // latest.json keeps each window's totals; the per-run records (tens of thousands) stay in the run's own file.
    lib.saveResults('scale', meta.date as string, doc, { ...doc, raw: doc.raw.map(({ runs: _runs, ...window }) => window) });
    return code;
  } catch (e) {
    code = lib.partFailed('scale', e);
    return code;
  } finally {
    done();
  }
}
