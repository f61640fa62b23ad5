// vip vs ocf:heartbeat:IPaddr2: latency of every OCF action and peak memory, measured interleaved.
// Driven by bench/run.ts (`npm run bench`, BENCH_ONLY=vip); see bench/README.md for what is measured and how to read
// the output.
//
// Two processes:
//   outer  creates the network namespace, re-executes the driver inside it (`ip netns exec NS node run.ts --inner vip`),
//          and always deletes the namespace again (normal exit, failure, SIGINT/SIGTERM/SIGHUP).
//          It prints the report and writes bench/results/vip-*.json.
//   inner  runs every agent invocation with spawnSync and writes the raw samples to a file the outer names.
import { existsSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lib from './lib.ts';

const {
  BenchFailure, C_FLOOR, EXEC_PATH, GNU_TIME, Invoker, LEFTOVER_GRACE_MS, PREV_DIR, REPO, RUN_SCRIPT, TRUE_BIN, agentOf,
  binaryNote, compare, die, envInt, fmt, innerEnv, loadText, must, pct, prevLabel, prevMissing, prng, rebuiltNote,
  removeTree, round3, run, runRounds, stats, table,
} = lib;
type Variant = lib.Variant;
type Unit = lib.Unit;
type Session = lib.Session;
type Binaries = lib.Binaries;

// ---------------------------------------------------------------------------------------------- constants

export const VIP_PATH = process.env.BENCH_VIP || join(REPO, 'dist', 'vip');
const IPADDR2_PATH = '/usr/lib/ocf/resource.d/heartbeat/IPaddr2';

const NIC = 'bench0'; // carries the static address and the floating one
const PEER = 'bench1'; // other end of the veth pair, up, no address
const STATIC_CIDR = '192.0.2.1/24';
const FLOAT_IP = '192.0.2.50';
const NETMASK = '24';
const INSTANCE = 'bench_ip';
const MONITOR_INTERVAL = 10000;

// Issue 15's targets for the Bun executable.
const TARGET_MONITOR_RATIO = 0.6;
const TARGET_PEAK_MIB = 32;

// Case names, as printed.
const C_MD = 'meta-data';
const C_PROBE = 'monitor, stopped (probe)';
const C_MON = 'monitor, running';
const C_START = 'start';
const C_STOP = 'stop';

// ---------------------------------------------------------------------------------------------- shared types

interface VipVariant extends Variant {
  readonly label: string; // 'vip', 'vip run_arping=false', 'IPaddr2'; with BENCH_PREV also 'vip@prev' …
  readonly agent: 'vip' | 'IPaddr2';
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
  timing: lib.Samples;
  /** case -> variant label -> peak RSS in KiB per round */
  memoryKiB: lib.Samples;
  /** unit ids in the order they ran, per measured round */
  order: string[][];
  /** 1-minute load average at the start of each measured round */
  load1: number[];
  durationSec: number;
}

// ---------------------------------------------------------------------------------------------- inner

/** The environment pacemaker-execd gives an OCF agent: nothing inherited except PATH. */
function agentEnv(v: VipVariant, extra: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: EXEC_PATH,
    OCF_ROOT: '/usr/lib/ocf',
    OCF_RA_VERSION_MAJOR: '1',
    OCF_RA_VERSION_MINOR: '1',
    OCF_RESOURCE_INSTANCE: INSTANCE,
    OCF_RESOURCE_TYPE: v.type,
    OCF_RESOURCE_PROVIDER: v.provider,
    OCF_RESKEY_CRM_meta_timeout: '20000',
    OCF_RESKEY_CRM_meta_interval: '0',
    OCF_RESKEY_ip: FLOAT_IP,
    OCF_RESKEY_cidr_netmask: NETMASK,
    OCF_RESKEY_nic: NIC,
    ...extra,
  };
  for (const [k, val] of Object.entries(v.params)) env[`OCF_RESKEY_${k}`] = val;
  return env;
}

export async function inner(): Promise<void> {
  const rawPath = process.env.BENCH_RAW ?? die('inner: BENCH_RAW not set');
  const vipRun = process.env.BENCH_VIP_RUN ?? die('inner: BENCH_VIP_RUN not set');
  const prevRun = process.env.BENCH_VIP_PREV_RUN;
  const rounds = envInt('BENCH_ROUNDS', 30, 1);
  const warmup = envInt('BENCH_WARMUP', 3, 0);
  const seed = envInt('BENCH_SEED', 0, 0);
  const rnd = prng(seed);
  // Inside the outer's scratch directory, which the outer removes even when this process is killed.
  const scratch = mkdtempSync(join(process.env.BENCH_SCRATCH || tmpdir(), 'inner-vip-'));

  const VIP_DEFAULT: VipVariant = { label: 'vip', agent: 'vip', path: vipRun, type: 'vip', provider: 'ocfkit', params: {} };
  const VIP_NOARP: VipVariant = { ...VIP_DEFAULT, label: 'vip run_arping=false', params: { run_arping: 'false' } };
  const IPADDR2: VipVariant = {
    label: 'IPaddr2', agent: 'IPaddr2', path: IPADDR2_PATH, type: 'IPaddr2', provider: 'heartbeat', params: {},
  };
  const prev = (v: VipVariant): VipVariant[] => (prevRun ? [{ ...v, label: prevLabel(v.label), path: prevRun }] : []);

  // Both agents keep volatile state in /run/resource-agents (IPaddr2: send_arp pid file; vip: announcer pids).
  // `ip netns exec` gave this process a private mount namespace (slave of the host's), so a tmpfs here hides
  // the host's directory from the agents without touching it.
  let privateRsctmp = false;
  const outerMnt = process.env.BENCH_OUTER_MNTNS;
  if (outerMnt && readlinkSync('/proc/self/ns/mnt') !== outerMnt && existsSync('/run/resource-agents')) {
    must('mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=16m', 'ocfkit-bench', '/run/resource-agents']);
    privateRsctmp = true;
  }

  const inv = new Invoker(scratch, (v, _action, extra) => agentEnv(v as VipVariant, extra));
  const interval = (ms: number) => ({ OCF_RESKEY_CRM_meta_interval: String(ms) });

  /** Bring the address up for a running-monitor case. vip comes up with run_arping=false: the end state is the
   *  same (address + announcers), this start is not measured, and it saves the 500 ms probe per round. */
  const noArp = (v: VipVariant): VipVariant => (v.agent === 'vip' ? { ...v, params: VIP_NOARP.params } : v);
  const up = (v: VipVariant) => inv.untimed(noArp(v), 'start', 0);
  const down = (v: VipVariant) => inv.untimed(noArp(v), 'stop', 0);

  /** Invariant between units: the floating address is on no interface, so the two agents never overlap. */
  const assertDown = (after: string): void => {
    const out = must('ip', ['-o', 'addr', 'show']);
    if (out.includes(` ${FLOAT_IP}/`)) {
      throw new BenchFailure(`after ${after}: ${FLOAT_IP} is still configured:\n${out}`);
    }
  };

  const units: Unit[] = [{ id: `${C_FLOOR}|${TRUE_BIN}`, run: () => inv.floor() }];
  for (const v of [VIP_DEFAULT, ...prev(VIP_DEFAULT), IPADDR2]) {
    units.push(
      { id: `time ${C_MD}|${v.label}`, run: () => void inv.timed(C_MD, v, 'meta-data', {}, 0) },
      { id: `mem ${C_MD}|${v.label}`, run: () => inv.memory(C_MD, v, 'meta-data', {}, 0) },
      { id: `time ${C_PROBE}|${v.label}`, run: () => void inv.timed(C_PROBE, v, 'monitor', {}, 7) },
      { id: `mem ${C_PROBE}|${v.label}`, run: () => inv.memory(C_PROBE, v, 'monitor', {}, 7) },
      {
        id: `time ${C_MON}|${v.label}`,
        run: () => {
          up(v);
          try {
            inv.timed(C_MON, v, 'monitor', interval(MONITOR_INTERVAL), 0);
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
            inv.memory(C_MON, v, 'monitor', interval(MONITOR_INTERVAL), 0);
          } finally {
            down(v);
          }
        },
      },
    );
  }
  for (const v of [VIP_DEFAULT, VIP_NOARP, ...prev(VIP_DEFAULT), ...prev(VIP_NOARP), IPADDR2]) {
    units.push(
      {
        id: `time ${C_START}+${C_STOP}|${v.label}`,
        run: () => {
          inv.timed(C_START, v, 'start', {}, 0);
          inv.timed(C_STOP, v, 'stop', {}, 0);
        },
      },
      {
        id: `mem ${C_START}+${C_STOP}|${v.label}`,
        run: () => {
          inv.memory(C_START, v, 'start', {}, 0);
          inv.memory(C_STOP, v, 'stop', {}, 0);
        },
      },
    );
  }

  const t0 = Date.now();
  let done: { order: string[][]; load1: number[] };
  try {
    assertDown('namespace setup');
    done = await runRounds({ name: 'vip', units, rounds, warmup, rnd, invoker: inv, after: assertDown, t0 });
  } finally {
    removeTree(scratch);
  }
  const raw: Raw = {
    rounds, warmup, seed, privateRsctmp, timing: inv.timing, memoryKiB: inv.memoryKiB, order: done.order,
    load1: done.load1, durationSec: (Date.now() - t0) / 1000,
  };
  writeFileSync(rawPath, JSON.stringify(raw));
}

// ---------------------------------------------------------------------------------------------- outer

function report(raw: Raw) {
  const out: string[] = [];
  const say = (s = '') => out.push(s);
  const caseOrder = [C_MON, C_PROBE, C_START, C_STOP, C_MD, C_FLOOR];
  const ours = ['vip', 'vip run_arping=false'];
  const labelOrder = [...ours, ...ours.map(prevLabel), 'IPaddr2', TRUE_BIN];
  const labels = (t: Record<string, number[]>) => labelOrder.filter((l) => t[l]);
  const hasPrev = Object.values(raw.timing).some((t) => t[prevLabel('vip')]);

  const summary: Record<string, Record<string, unknown>> = {};
  const rows: string[][] = [];
  for (const c of caseOrder) {
    const t = raw.timing[c];
    if (!t) continue;
    summary[c] = {};
    const base = t['IPaddr2'];
    for (const l of labels(t)) {
      const isAgent = l !== 'IPaddr2' && l !== TRUE_BIN;
      const { s, entry, rMed, rMin, rPair, rPrev, rPrevPair } = compare(
        t[l] as number[], isAgent ? base : undefined, ours.includes(l) ? t[prevLabel(l)] : undefined,
      );
      summary[c][l] = entry;
      rows.push([c, l, String(s.n), fmt(s.median), fmt(s.p10), fmt(s.p90), fmt(s.min), rMed, rMin, rPair,
        ...(hasPrev ? [rPrev, rPrevPair] : [])]);
    }
  }
  say('Latency, ms (wall time of spawnSync, agent exit to exit; nothing subtracted)');
  say(
    table(
      ['case', 'agent', 'n', 'median', 'p10', 'p90', 'min', '/IPaddr2 median', 'min', 'paired',
        ...(hasPrev ? ['/prev median', 'paired'] : [])],
      rows,
      2,
    ),
  );
  say('  /IPaddr2 columns: median of the row / median of IPaddr2; min / min; "paired" = median of the per-round ratios');
  if (hasPrev) {
    say(`  "@prev" = the previous build (BENCH_PREV=${PREV_DIR ?? '?'}), interleaved in the same rounds; /prev columns:`);
    say('  today\'s build against it (median / median, and the median of the per-round ratios).');
  }
  say('  "vip" = default parameters (run_arping=true: 500 ms duplicate-address probe before adding);');
  say('  "vip run_arping=false" is like-for-like with IPaddr2, whose run_arping defaults to false.');
  say(`  "${C_FLOOR}" = spawnSync of ${TRUE_BIN} from the harness: the fixed cost included in every row.`);
  say();

  const memRows: string[][] = [];
  const memSummary: Record<string, Record<string, unknown>> = {};
  const perAgent: Record<string, number[]> = {};
  for (const c of [C_MON, C_PROBE, C_START, C_STOP, C_MD]) {
    const t = raw.memoryKiB[c];
    if (!t) continue;
    memSummary[c] = {};
    for (const l of labels(t)) {
      const mib = (t[l] as number[]).map((k) => k / 1024);
      const s = stats(mib);
      memSummary[c][l] = { n: s.n, medianMiB: round3(s.median), maxMiB: round3(s.max), minMiB: round3(s.min) };
      memRows.push([c, l, String(s.n), fmt(s.median), fmt(s.min), fmt(s.max)]);
      (perAgent[agentOf(l)] ??= []).push(...mib);
    }
  }
  for (const [a, mib] of Object.entries(perAgent)) {
    const s = stats(mib);
    memSummary['all'] ??= {};
    memSummary['all'][a] = { n: s.n, medianMiB: round3(s.median), maxMiB: round3(s.max), minMiB: round3(s.min) };
    memRows.push(['all actions', a, String(s.n), fmt(s.median), fmt(s.min), fmt(s.max)]);
  }
  say('Peak memory, MiB (GNU time %M: max RSS of the agent process and the children it waited for; separate runs)');
  say(table(['case', 'agent', 'n', 'median', 'min', 'max'], memRows, 2));
  say('  RSS includes the resident file-backed pages of the mapped executable, so it depends on how those pages got');
  say('  into the page cache; see bench/README.md ("Peak memory").');
  say();

  const iMon = pct(raw.timing[C_MON]?.['IPaddr2'] ?? [], 0.5);
  const monRatio = pct(raw.timing[C_MON]?.['vip'] ?? [], 0.5) / iMon;
  const vipPeak = Math.max(...(perAgent['vip'] ?? [NaN]));
  const monMet = monRatio <= TARGET_MONITOR_RATIO;
  const memMet = vipPeak <= TARGET_PEAK_MIB;
  say('Targets');
  say(
    `  vip monitor / IPaddr2 monitor (median, ${C_MON}, interval ${MONITOR_INTERVAL}) = ${fmt(monRatio, 2)}` +
      `  (target ≤ ${TARGET_MONITOR_RATIO.toFixed(1)})  ${monMet ? 'MET' : 'NOT MET'}`,
  );
  say(
    `  vip peak memory (max over every action's runs) = ${fmt(vipPeak)} MiB` +
      `  (target ≤ ${TARGET_PEAK_MIB} MiB)  ${memMet ? 'MET' : 'NOT MET'}`,
  );
  const verdict: Record<string, unknown> = {
    monitorRatio: { value: round3(monRatio), target: TARGET_MONITOR_RATIO, met: monMet },
    vipPeakMiB: { value: round3(vipPeak), target: TARGET_PEAK_MIB, met: memMet },
  };
  if (hasPrev) {
    const p = prevLabel('vip');
    const prevRatio = pct(raw.timing[C_MON]?.[p] ?? [], 0.5) / iMon;
    const prevPeak = Math.max(...(perAgent[p] ?? [NaN]));
    say(`  for comparison, the previous build: monitor ratio ${fmt(prevRatio, 2)}, peak memory ${fmt(prevPeak)} MiB`);
    verdict.previousBuild = { monitorRatio: round3(prevRatio), peakMiB: round3(prevPeak) };
  }
  return { text: out.join('\n'), summary, memSummary, verdict };
}

/** Missing prerequisites of this part, as messages (nothing is changed on the host). */
export function missing(): string[] {
  const out: string[] = [];
  for (const [p, what] of [
    [VIP_PATH, 'vip agent (run `npm run build` first)'],
    [IPADDR2_PATH, 'IPaddr2 (Debian package resource-agents)'],
    [GNU_TIME, 'GNU time (Debian package time)'],
    [TRUE_BIN, 'true'],
  ] as const) {
    if (!existsSync(p)) out.push(`missing ${what}: ${p}`);
  }
  return [...out, ...prevMissing(['vip'])];
}

export interface OuterCtx {
  session: Session;
  scratch: string;
  binaries: Binaries;
  rounds: number;
  warmup: number;
  seed: number;
}

export async function outer(ctx: OuterCtx): Promise<number> {
  const { session, rounds, warmup, seed } = ctx;
  const ns = `ocfkit-bench-${process.pid}`;
  const scratch = mkdtempSync(join(ctx.scratch, 'vip-'));
  const rawPath = join(scratch, 'raw.json');
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
      // Whatever still runs in the namespace was started by an agent we ran (e.g. a background arping): end it by pid.
      lib.endLeftovers(nsPids, graceMs, leftovers);
      const r = run('ip', ['netns', 'delete', ns]);
      if (r.rc !== 0) process.stderr.write(`bench: WARNING: ip netns delete ${ns} failed: ${r.err.trim()}\n`);
    }
    removeTree(scratch);
  };
  const dropNamespace = session.defer(`namespace ${ns}`, () => cleanup());

  let vip: lib.AgentBinary;
  let prev: lib.AgentBinary | undefined;
  try {
    vip = ctx.binaries.prepare('vip', VIP_PATH);
    if (PREV_DIR) prev = ctx.binaries.prepare('vip', join(PREV_DIR, 'vip'));
  } catch (e) {
    dropNamespace();
    lib.die(e instanceof Error ? e.message : String(e));
  }
  const meta: Record<string, unknown> = {
    ...lib.hostMeta(),
    mode: `harness re-executed inside the namespace (ip netns exec ${ns} node run.ts --inner vip); agents spawned directly`,
    rounds,
    warmup,
    seed,
    vip: lib.binaryMeta(vip),
    ...(prev ? { vipPrev: lib.binaryMeta(prev) } : {}),
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
    lib.vethNamespace(ns, NIC, PEER, () => {
      nsCreated = true;
    });
    must('ip', ['-n', ns, 'addr', 'add', STATIC_CIDR, 'dev', NIC]);
    process.stderr.write(
      `bench: namespace ${ns} (${NIC}<->${PEER}, ${STATIC_CIDR}); ${warmup} warm-up + ${rounds} rounds, seed ${seed}\n`,
    );

    const env = innerEnv({
      BENCH_RAW: rawPath,
      BENCH_ROUNDS: String(rounds),
      BENCH_WARMUP: String(warmup),
      BENCH_SEED: String(seed),
      BENCH_OUTER_MNTNS: readlinkSync('/proc/self/ns/mnt'),
      BENCH_VIP_RUN: vip.ranFrom,
      ...(prev ? { BENCH_VIP_PREV_RUN: prev.ranFrom } : {}),
      BENCH_SCRATCH: scratch,
    });
    code = await lib.runInner(
      session, 'vip', 'ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, RUN_SCRIPT, '--inner', 'vip'], env,
    );
    if (code !== 0) return code;

    const raw = JSON.parse(readFileSync(rawPath, 'utf8')) as Raw;
    meta.loadavgAfter = loadavg();
    meta.durationSec = round3(raw.durationSec);
    meta.privateRsctmp = raw.privateRsctmp;
    const rebuilt = rebuiltNote(vip);
    meta.vipBinaryChangedDuringRun = rebuilt !== undefined;

    const rep = report(raw);
    // Clean up before printing so leftover processes (if any) can be reported.
    cleanup(LEFTOVER_GRACE_MS);
    process.stdout.write(
      `ocfkit bench: vip vs IPaddr2 — ${raw.rounds} interleaved rounds (+${raw.warmup} warm-up), seed ${raw.seed}, ` +
        `${cpus().length} CPUs, load ${loadText(meta.loadavgBefore as number[])} → ` +
        `${loadText(loadavg())}, ${raw.durationSec.toFixed(0)} s\n` +
        `vip: ${binaryNote(vip)}; ` +
        (prev ? `vip@prev: ${binaryNote(prev)}; ` : '') +
        `IPaddr2: resource-agents ${String((meta.ipaddr2 as { package: string }).package)}\n` +
        `harness runs inside the namespace (re-executed under ip netns exec); agents get a Pacemaker-like ` +
        `environment; ${raw.privateRsctmp ? 'private tmpfs on /run/resource-agents' : 'host /run/resource-agents'}\n\n` +
        `${rep.text}\n`,
    );
    if (rebuilt) process.stdout.write(rebuilt);
    if (leftovers.length) {
      process.stdout.write(
        `NOTE: ${leftovers.length} process(es) started by the agents were still running in the namespace ` +
          `${LEFTOVER_GRACE_MS / 1000} s after the last agent exited, and were killed:\n`,
      );
      for (const l of leftovers) process.stdout.write(`  ${l}\n`);
    }
    meta.leftoverProcesses = leftovers;

    const doc = {
      meta,
      units: { timing: 'ms per round', memory: 'KiB per round (GNU time %M)' },
      summary: { timingMs: rep.summary, memoryMiB: rep.memSummary },
      verdict: rep.verdict,
      raw: { timingMs: raw.timing, memoryKiB: raw.memoryKiB, load1PerRound: raw.load1, orderPerRound: raw.order },
    };
    lib.saveResults('vip', meta.date as string, doc);
    return code;
  } catch (e) {
    code = lib.partFailed('vip', e);
    return code;
  } finally {
    dropNamespace();
    if (nsCreated && !run('ip', ['netns', 'list']).out.split('\n').some((l) => l.split(' ')[0] === ns)) {
      process.stderr.write(`bench: namespace ${ns} removed\n`);
    }
  }
}
