// The lab-monitor part: monitor latency of drbd-promote against ocf:linbit:drbd (the same DRBD 8.4
// resource, Unpromoted and Promoted) and of nfs-export against ocf:heartbeat:exportfs (the same
// export, with the kernel NFS server) inside a qemu lab guest. The calls are timed in the guest
// (scripts/lab/guest/bench-monitor), interleaved in an order drawn per round, so the host's mailbox
// round trip is not in the numbers. TCG guests are slow: compare the ratio, not the milliseconds,
// with the host parts.
//
// BENCH_ROUNDS / BENCH_WARMUP as for the other parts; BENCH_LAB_KEEP=1 leaves the lab up.
import { drbdPair, labOk, labShOk } from '../scripts/lab/host.ts';
import { labMissing, withFreshLab } from './lab-session.ts';
import * as lib from './lib.ts';
import type { OuterCtx } from './vip.ts';

const OURS = '/usr/lib/ocf/resource.d/ocfkit';
const REFS = { drbd: '/usr/lib/ocf/resource.d/linbit/drbd', exportfs: '/usr/lib/ocf/resource.d/heartbeat/exportfs' };

export function missing(): string[] {
  return labMissing(Object.values(REFS));
}

interface Unit {
  name: string;
  /** The timed action; monitor unless given. */
  action?: string;
  ours: string;
  ref: string;
  refName: string;
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
  ratioMedian: number;
  ratioPairedMedian: number;
}

/** Runs one unit in the guest; returns the per-round microseconds of each side. */
function measure(node: string, u: Unit, rounds: number, warmup: number): { a: number[]; b: number[] } {
  const out = labOk(['exec', '-t', '1800', node, 'bash', '/lab/bin/bench-monitor', String(rounds), String(warmup), u.action ?? 'monitor', u.ours, u.ref, ...u.env], 1900).stdout;
  const a: number[] = [];
  const b: number[] = [];
  for (const line of out.split('\n')) {
    const m = /^([AB]) (\d+) (\d+)$/.exec(line);
    if (!m) continue;
    if (Number(m[3]) !== u.expect) throw new lib.BenchFailure(`${u.name}: ${m[1] === 'A' ? 'ocfkit' : u.refName} ${u.action ?? 'monitor'} exited ${m[3]}, expected ${u.expect}`);
    (m[1] === 'A' ? a : b).push(Number(m[2]) / 1000);
  }
  if (a.length !== rounds || b.length !== rounds) throw new lib.BenchFailure(`${u.name}: expected ${rounds} samples a side, got ${a.length}/${b.length}:\n${out}`);
  return { a, b };
}

// On node1 after the pair is synced: a CIB file with this node for both agents' score writes (no
// cluster is running; CIB_file keeps the cluster's own state out of the numbers).
const CIB = `set -eu
cibadmin --empty >/tmp/bench-cib.xml
CIB_file=/tmp/bench-cib.xml cibadmin -C -o nodes -X '<node id="1" uname="node1"/>'`;
// On node1, Primary: a filesystem on the DRBD device for the export.
const FS = `set -eu
mkfs.ext4 -q -F /dev/drbd0
mkdir -p /srv/nfs
mount /dev/drbd0 /srv/nfs`;

export async function outer(ctx: OuterCtx): Promise<number> {
  const rows: Row[] = [];
  await withFreshLab(ctx, [], () => {
    const unsynced = drbdPair();
    if (unsynced) throw new lib.BenchFailure(unsynced);
    labShOk('node1', CIB, [], 60);
    const drbdEnv = ['OCF_RESOURCE_INSTANCE=drbd', 'OCF_RESKEY_drbd_resource=r0', 'CIB_file=/tmp/bench-cib.xml', 'OCF_RESKEY_CRM_meta_timeout=20000', 'OCF_RESKEY_CRM_meta_notify=true', 'OCF_RESKEY_CRM_meta_clone_max=2', 'OCF_RESKEY_CRM_meta_clone_node_max=1', 'OCF_RESKEY_CRM_meta_promoted_max=1', 'OCF_RESKEY_CRM_meta_master_max=1', 'OCF_RESKEY_CRM_meta_promoted_node_max=1', 'OCF_RESKEY_CRM_meta_master_node_max=1'];
    const exportEnv = ['OCF_RESOURCE_INSTANCE=nfs', 'OCF_RESKEY_directory=/srv/nfs', 'OCF_RESKEY_clientspec=192.0.2.0/24', 'OCF_RESKEY_options=rw,sync,no_subtree_check', 'OCF_RESKEY_fsid=1', 'OCF_RESKEY_CRM_meta_timeout=20000'];
    // meta-data does no work beyond printing a constant: it is each side's start-up floor (the Node
    // executable's start against bash sourcing ocf-shellfuncs), so a monitor's own work is its time
    // less this one.
    const units: Array<Unit & { before?: string }> = [
      { name: 'drbd meta-data (start-up)', action: 'meta-data', ours: `${OURS}/drbd-promote`, ref: REFS.drbd, refName: 'linbit drbd', expect: 0, env: drbdEnv },
      { name: 'drbd monitor, Unpromoted', ours: `${OURS}/drbd-promote`, ref: REFS.drbd, refName: 'linbit drbd', expect: 0, env: drbdEnv },
      { name: 'drbd monitor, Promoted', ours: `${OURS}/drbd-promote`, ref: REFS.drbd, refName: 'linbit drbd', expect: 8, env: drbdEnv, before: 'drbdadm primary r0' },
      {
        name: 'export monitor',
        ours: `${OURS}/nfs-export`,
        ref: REFS.exportfs,
        refName: 'exportfs',
        expect: 0,
        env: exportEnv,
        // exportfs's monitor answers 7 until its own start has written its state file
        // (ha_pseudo_resource); on an export that exists, that start only records it.
        before: `${FS}\nenv OCF_ROOT=/usr/lib/ocf "$@" ${OURS}/nfs-export start\nenv OCF_ROOT=/usr/lib/ocf "$@" ${REFS.exportfs} start`,
      },
      // After the monitor: exportfs refuses every action but stop and monitor while the directory is missing.
      { name: 'export meta-data (start-up)', action: 'meta-data', ours: `${OURS}/nfs-export`, ref: REFS.exportfs, refName: 'exportfs', expect: 0, env: exportEnv },
    ];
    for (const u of units) {
      if (u.before) labShOk('node1', u.before, u.env, 300);
      process.stdout.write(`bench: ${u.name}: ${ctx.rounds} rounds (+${ctx.warmup} warm-up), ocfkit and ${u.refName} interleaved, in node1\n`);
      const { a, b } = measure('node1', u, ctx.rounds, ctx.warmup);
      const c = lib.compare(a, b);
      rows.push({ unit: u.name, action: u.action ?? 'monitor', reference: u.refName, ours: c.s, ref: lib.stats(b), ratioMedian: lib.round3(c.s.median / lib.stats(b).median), ratioPairedMedian: Number(c.entry.ratioPairedMedian) });
    }
    labShOk('node1', `env OCF_ROOT=/usr/lib/ocf "$@" ${REFS.exportfs} stop; env OCF_ROOT=/usr/lib/ocf "$@" ${OURS}/nfs-export stop; umount /srv/nfs; drbdadm secondary r0`, exportEnv, 300);
  });
  const date = new Date().toISOString();
  process.stdout.write(
    `\nocfkit bench: lab-monitor — ${ctx.rounds} rounds, node1 of the qemu lab (TCG, DRBD 8.4, kernel nfsd); ms per call\n\n` +
      lib.table(
        ['call', 'reference', 'ocfkit med', 'ref med', 'ratio', 'paired', 'target ≤ 1.0'],
        rows.map((r) => [r.unit, r.reference, lib.fmt(r.ours.median), lib.fmt(r.ref.median), lib.fmt(r.ratioMedian, 2), lib.fmt(r.ratioPairedMedian, 2), r.action === 'meta-data' ? '—' : r.ratioMedian <= 1 ? 'met' : 'NOT met']),
        2,
      ) +
      '\n' +
      ownWork(rows)
        .map((w) => `${w.unit}, less its start-up: ocfkit ${lib.fmt(w.ours)} ms, ${w.reference} ${lib.fmt(w.ref)} ms\n`)
        .join(''),
  );
  const file = lib.writeResults('lab-monitor', date, { meta: { date, rounds: ctx.rounds, warmup: ctx.warmup }, rows, ownWork: ownWork(rows) });
  process.stdout.write(`raw numbers: ${file}\n`);
  return 0;
}

/** Each monitor's median less its side's meta-data median: the agent's own work past start-up. */
function ownWork(rows: Row[]): Array<{ unit: string; reference: string; ours: number; ref: number }> {
  const floor = new Map(rows.filter((r) => r.action === 'meta-data').map((r) => [r.reference, r]));
  return rows.flatMap((r) => {
    const f = floor.get(r.reference);
    if (!f || r === f) return [];
    return [{ unit: r.unit, reference: r.reference, ours: lib.round3(r.ours.median - f.ours.median), ref: lib.round3(r.ref.median - f.ref.median) }];
  });
}

export async function inner(): Promise<void> {
  // Everything is timed inside the guest; nothing runs in a namespace of the bench's own.
}
