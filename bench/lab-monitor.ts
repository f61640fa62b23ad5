// The lab-monitor part: monitor latency of drbd-promote against ocf:linbit:drbd (the same DRBD 8.4
// resource, Unpromoted and Promoted) and of nfs-export against ocf:heartbeat:exportfs (the same
// export, with the kernel NFS server) inside a qemu lab guest. The calls are timed in the guest
// (scripts/lab/guest/bench-monitor), interleaved in an order drawn per round, so the host's mailbox
// round trip is not in the numbers. TCG guests are slow: compare the ratio, not the milliseconds,
// with the host parts.
//
// BENCH_ROUNDS / BENCH_WARMUP as for the other parts; BENCH_LAB_KEEP=1 leaves the lab up; BENCH_PREV=DIR
// adds that older build as a third contestant in the same rounds (copied into the guest's RAM, as
// the lab does with dist/ocfkit).
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { drbdPair, labOk, labShOk } from '../scripts/lab/host.ts';
import { labMissing, withFreshLab } from './lab-session.ts';
import * as lib from './lib.ts';
import type { OuterCtx } from './vip.ts';

const OURS = '/usr/lib/ocf/resource.d/ocfkit';
/** The previous build in node1's RAM (BENCH_PREV), with its agent links. */
const PREV = '/opt/ocfkit-prev';
// Issue 15's targets (monitors only; the meta-data rows are each side's start-up floor).
const TARGETS: Record<string, number> = { 'drbd monitor, Unpromoted': 0.6, 'drbd monitor, Promoted': 0.6, 'export monitor': 0.8 };
const REFS = { drbd: '/usr/lib/ocf/resource.d/linbit/drbd', exportfs: '/usr/lib/ocf/resource.d/heartbeat/exportfs' };

export function missing(): string[] {
  return [...labMissing(Object.values(REFS)), ...lib.prevMissing(['drbd-promote', 'nfs-export'])];
}

interface Unit {
  name: string;
  /** The timed action; monitor unless given. */
  action?: string;
  ours: string;
  ref: string;
  refName: string;
  /** the previous build's same agent, with BENCH_PREV */
  prev?: string;
  expect: number;
  env: string[];
}

interface Row {
  unit: string;
  /** the timed action: meta-data rows are each side's start-up floor */
  action: string;
  reference: string;
  ours: ReturnType<typeof lib.stats>;
  ref: ReturnType<typeof lib.stats>;
  prev?: ReturnType<typeof lib.stats>;
  ratioMedian: number;
  ratioPairedMedian: number;
  /** the previous build against the reference, and today's build against the previous one */
  prevRatioMedian?: number;
  ratioPrevMedian?: number;
  ratioPrevPairedMedian?: number;
  /** peak RSS (GNU time %M) of a few calls per side, MiB */
  peakMiB: { ours: number; ref: number; prev?: number };
  target?: number;
}

interface Samples {
  a: number[];
  b: number[];
  c: number[];
  /** peak RSS in KiB of the calls under GNU time, per side */
  mem: { a: number[]; b: number[]; c: number[] };
}

/** Runs one unit in the guest; returns the per-round milliseconds and the peak RSS of each side. */
function measure(node: string, u: Unit, rounds: number, warmup: number): Samples {
  const agents = [u.ours, u.ref, ...(u.prev ? [u.prev] : [])];
  const out = labOk(['exec', '-t', '2400', node, 'bash', '/lab/bin/bench-monitor', String(rounds), String(warmup), u.action ?? 'monitor', ...agents, ...u.env], 2500).stdout;
  const r: Samples = { a: [], b: [], c: [], mem: { a: [], b: [], c: [] } };
  const side = (l: string) => l.toLowerCase() as 'a' | 'b' | 'c';
  const who = (l: string) => ({ A: 'ocfkit', B: u.refName, C: 'ocfkit@prev' })[l] ?? l;
  for (const line of out.split('\n')) {
    const m = /^(M )?([ABC]) (\d+) (\d+)$/.exec(line);
    if (!m) continue;
    const [, mem, l, x, rc] = m as unknown as [string, string | undefined, string, string, string];
    if (Number(rc) !== u.expect) throw new lib.BenchFailure(`${u.name}: ${who(l)} ${u.action ?? 'monitor'} exited ${rc}, expected ${u.expect}`);
    if (mem) r.mem[side(l)].push(Number(x));
    else r[side(l)].push(Number(x) / 1000);
  }
  const want = u.prev ? 3 : 2;
  const got = [r.a, r.b, r.c].filter((xs) => xs.length === rounds).length;
  if (got !== want) throw new lib.BenchFailure(`${u.name}: expected ${rounds} samples a side, got ${r.a.length}/${r.b.length}/${r.c.length}:\n${out}`);
  return r;
}

const peak = (kib: number[]) => lib.round3(Math.max(...kib) / 1024);

// On node1 after the pair is synced: a CIB file with this node for both agents' score writes (no
// cluster is running; CIB_file keeps the cluster's own state out of the numbers).
const CIB = `set -eu
cibadmin --empty >/tmp/bench-cib.xml
CIB_file=/tmp/bench-cib.xml cibadmin -C -o nodes -X '<node id="1" uname="node1"/>'`;
// On node1: the previous build ($1, a path on the host's root) into RAM, with the two agents' links.
const INSTALL_PREV = `set -eu
mkdir -p ${PREV}
cp "$1" ${PREV}/ocfkit
ln -sf ocfkit ${PREV}/drbd-promote
ln -sf ocfkit ${PREV}/nfs-export
${PREV}/ocfkit --version`;
// On node1, Primary: a filesystem on the DRBD device for the export.
const FS = `set -eu
mkfs.ext4 -q -F /dev/drbd0
mkdir -p /srv/nfs
mount /dev/drbd0 /srv/nfs`;

export async function outer(ctx: OuterCtx): Promise<number> {
  const rows: Row[] = [];
  const prevSrc = lib.PREV_DIR ? realpathSync(join(lib.PREV_DIR, 'drbd-promote')) : undefined;
  await withFreshLab(ctx, [], () => {
    const unsynced = drbdPair();
    if (unsynced) throw new lib.BenchFailure(unsynced);
    labShOk('node1', CIB, [], 60);
    // From the host's root (the guest's read-only 9p root) into RAM once: a start from the share is slower.
    if (prevSrc) labShOk('node1', INSTALL_PREV, [prevSrc], 300);
    const prev = (agent: string) => (prevSrc ? { prev: `${PREV}/${agent}` } : {});
    const drbdEnv = ['OCF_RESOURCE_INSTANCE=drbd', 'OCF_RESKEY_drbd_resource=r0', 'CIB_file=/tmp/bench-cib.xml', 'OCF_RESKEY_CRM_meta_timeout=20000', 'OCF_RESKEY_CRM_meta_notify=true', 'OCF_RESKEY_CRM_meta_clone_max=2', 'OCF_RESKEY_CRM_meta_clone_node_max=1', 'OCF_RESKEY_CRM_meta_promoted_max=1', 'OCF_RESKEY_CRM_meta_master_max=1', 'OCF_RESKEY_CRM_meta_promoted_node_max=1', 'OCF_RESKEY_CRM_meta_master_node_max=1'];
    const exportEnv = ['OCF_RESOURCE_INSTANCE=nfs', 'OCF_RESKEY_directory=/srv/nfs', 'OCF_RESKEY_clientspec=192.0.2.0/24', 'OCF_RESKEY_options=rw,sync,no_subtree_check', 'OCF_RESKEY_fsid=1', 'OCF_RESKEY_CRM_meta_timeout=20000'];
    // meta-data does no work beyond printing a constant: it is each side's start-up floor (the Node
    // executable's start against bash sourcing ocf-shellfuncs), so a monitor's own work is its time
    // less this one.
    const units: Array<Unit & { before?: string }> = [
      { name: 'drbd meta-data (start-up)', action: 'meta-data', ours: `${OURS}/drbd-promote`, ...prev('drbd-promote'), ref: REFS.drbd, refName: 'linbit drbd', expect: 0, env: drbdEnv },
      { name: 'drbd monitor, Unpromoted', ours: `${OURS}/drbd-promote`, ...prev('drbd-promote'), ref: REFS.drbd, refName: 'linbit drbd', expect: 0, env: drbdEnv },
      { name: 'drbd monitor, Promoted', ours: `${OURS}/drbd-promote`, ...prev('drbd-promote'), ref: REFS.drbd, refName: 'linbit drbd', expect: 8, env: drbdEnv, before: 'drbdadm primary r0' },
      {
        name: 'export monitor',
        ours: `${OURS}/nfs-export`,
        ...prev('nfs-export'),
        ref: REFS.exportfs,
        refName: 'exportfs',
        expect: 0,
        env: exportEnv,
        // exportfs's monitor answers 7 until its own start has written its state file
        // (ha_pseudo_resource); on an export that exists, that start only records it.
        before: `${FS}\nenv OCF_ROOT=/usr/lib/ocf "$@" ${OURS}/nfs-export start\nenv OCF_ROOT=/usr/lib/ocf "$@" ${REFS.exportfs} start`,
      },
      // After the monitor: exportfs refuses every action but stop and monitor while the directory is missing.
      { name: 'export meta-data (start-up)', action: 'meta-data', ours: `${OURS}/nfs-export`, ...prev('nfs-export'), ref: REFS.exportfs, refName: 'exportfs', expect: 0, env: exportEnv },
    ];
    for (const u of units) {
      if (u.before) labShOk('node1', u.before, u.env, 300);
      process.stdout.write(`bench: ${u.name}: ${ctx.rounds} rounds (+${ctx.warmup} warm-up), ocfkit${u.prev ? ', ocfkit@prev' : ''} and ${u.refName} interleaved, in node1\n`);
      const m = measure('node1', u, ctx.rounds, ctx.warmup);
      const c = lib.compare(m.a, m.b, u.prev ? m.c : undefined);
      const ref = lib.stats(m.b);
      const prevStats = u.prev ? lib.stats(m.c) : undefined;
      rows.push({
        unit: u.name, action: u.action ?? 'monitor', reference: u.refName, ours: c.s, ref, ratioMedian: lib.round3(c.s.median / ref.median),
        ratioPairedMedian: Number(c.entry.ratioPairedMedian),
        ...(prevStats ? {
          prev: prevStats, prevRatioMedian: lib.round3(prevStats.median / ref.median),
          ratioPrevMedian: Number(c.entry.ratioPrevMedian), ratioPrevPairedMedian: Number(c.entry.ratioPrevPairedMedian),
        } : {}),
        peakMiB: { ours: peak(m.mem.a), ref: peak(m.mem.b), ...(u.prev ? { prev: peak(m.mem.c) } : {}) },
        ...(TARGETS[u.name] !== undefined ? { target: TARGETS[u.name] } : {}),
      });
    }
    labShOk('node1', `env OCF_ROOT=/usr/lib/ocf "$@" ${REFS.exportfs} stop; env OCF_ROOT=/usr/lib/ocf "$@" ${OURS}/nfs-export stop; umount /srv/nfs; drbdadm secondary r0`, exportEnv, 300);
  });
  const date = new Date().toISOString();
  const hasPrev = rows.some((r) => r.prev);
  const target = (r: Row) => (r.target === undefined ? '—' : `≤ ${r.target}: ${r.ratioMedian <= r.target ? 'met' : 'NOT met'}`);
  process.stdout.write(
    `\nocfkit bench: lab-monitor — ${ctx.rounds} rounds, node1 of the qemu lab (TCG, DRBD 8.4, kernel nfsd); ms per call` +
      (hasPrev ? `; ocfkit@prev = BENCH_PREV=${lib.PREV_DIR}` : '') + '\n\n' +
      lib.table(
        ['call', 'reference', 'ocfkit med', ...(hasPrev ? ['prev med'] : []), 'ref med', 'ratio', 'paired',
          ...(hasPrev ? ['prev/ref', '/prev', 'paired'] : []), 'target', 'peak RSS MiB (ocfkit, ref' + (hasPrev ? ', prev)' : ')')],
        rows.map((r) => [
          r.unit, r.reference, lib.fmt(r.ours.median), ...(hasPrev ? [lib.fmt(r.prev?.median ?? NaN)] : []), lib.fmt(r.ref.median),
          lib.fmt(r.ratioMedian, 2), lib.fmt(r.ratioPairedMedian, 2),
          ...(hasPrev ? [lib.fmt(r.prevRatioMedian ?? NaN, 2), lib.fmt(r.ratioPrevMedian ?? NaN, 2), lib.fmt(r.ratioPrevPairedMedian ?? NaN, 2)] : []),
          target(r), [r.peakMiB.ours, r.peakMiB.ref, ...(r.peakMiB.prev !== undefined ? [r.peakMiB.prev] : [])].map((x) => lib.fmt(x)).join(', '),
        ]),
        2,
      ) +
      '\n' +
      ownWork(rows)
        .map((w) => `${w.unit}, less its start-up: ocfkit ${lib.fmt(w.ours)} ms, ${w.reference} ${lib.fmt(w.ref)} ms` +
          (w.prev !== undefined ? `, ocfkit@prev ${lib.fmt(w.prev)} ms` : '') + '\n')
        .join(''),
  );
  const meta = {
    date, rounds: ctx.rounds, warmup: ctx.warmup, ocfkit: buildOf(join(lib.REPO, 'dist', 'ocfkit')),
    ...(prevSrc ? { prev: { dir: lib.PREV_DIR, ...buildOf(prevSrc) } } : {}),
  };
  const file = lib.writeResults('lab-monitor', date, { meta, rows, ownWork: ownWork(rows) });
  process.stdout.write(`raw numbers: ${file}\n`);
  return 0;
}

/** Which executable a side ran (the guests got copies of these files). */
function buildOf(path: string): { binary: string; version: string; sha256: string } {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', env: { PATH: lib.EXEC_PATH }, timeout: 10_000 });
  return { binary: path, version: r.status === 0 ? r.stdout.trim() : '?', sha256: lib.sha256(path) };
}

/** Each monitor's median less its side's meta-data median: the agent's own work past start-up. */
function ownWork(rows: Row[]): Array<{ unit: string; reference: string; ours: number; ref: number; prev?: number }> {
  const floor = new Map(rows.filter((r) => r.action === 'meta-data').map((r) => [r.reference, r]));
  return rows.flatMap((r) => {
    const f = floor.get(r.reference);
    if (!f || r === f) return [];
    const prev = r.prev && f.prev ? { prev: lib.round3(r.prev.median - f.prev.median) } : {};
    return [{ unit: r.unit, reference: r.reference, ours: lib.round3(r.ours.median - f.ours.median), ref: lib.round3(r.ref.median - f.ref.median), ...prev }];
  });
}

export async function inner(): Promise<void> {
  // Everything is timed inside the guest; nothing runs in a namespace of the bench's own.
}
