// The bench: every ocfkit agent against its reference agent, latency of the OCF actions and peak memory, measured
// interleaved. Run as root with `npm run bench` (Node 24, type stripping). Only node: built-ins are imported.
// See bench/README.md for what is measured and how to read the output.
//
// Parts, run one after the other (BENCH_ONLY=vip, fs-mount, scale, lab, lab-monitor, lab-failover or lab-site runs
// one):
//   vip       vip vs ocf:heartbeat:IPaddr2 in a private network namespace (bench/vip.ts)
//   fs-mount  fs-mount vs ocf:heartbeat:Filesystem on loop devices, in a private mount namespace (bench/fs-mount.ts)
//   scale     1, 10 and 40 resources of vip, fs-mount and nfs-export and of their reference agents, monitored at their
//             intervals for BENCH_MINUTES: CPU share and peak memory per side, in cgroups (bench/scale.ts)
//   lab       the qemu lab from nothing to guests ready and to a fenced two-node cluster online (bench/lab.ts)
//   lab-monitor  drbd-promote vs ocf:linbit:drbd and nfs-export vs ocf:heartbeat:exportfs monitors, timed inside a
//             lab guest on real DRBD 8.4 and the kernel NFS server (bench/lab-monitor.ts)
//   lab-failover  the NFS client's failover gap with ocfkit's agents and with the reference agents, one lab run
//             (bench/lab-failover.ts)
//   lab-site  the two-site runbook's steps (handover, takeover, rejoin, booth's own takeover), timed by the
//             site lab test (bench/lab-site.ts)
//
// Each part has two processes: the outer (this one) sets up the namespace or devices, re-executes this file inside
// (`node run.ts --inner PART`), always cleans up (normal exit, failure, SIGINT/SIGTERM/SIGHUP), prints the report and
// writes bench/results/PART-*.json; the inner runs every agent invocation and writes the raw samples to a file.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lib from './lib.ts';

interface Part {
  missing(): string[];
  outer(ctx: { session: lib.Session; scratch: string; binaries: lib.Binaries; rounds: number; warmup: number; seed: number }): Promise<number>;
  inner(): Promise<void>;
}
// Loaded only when selected: a part whose imports cannot load (the lab parts import scripts/lab/host.ts) does not
// keep the others from running.
const PARTS: Record<string, () => Promise<Part>> = {
  vip: () => import('./vip.ts'),
  'fs-mount': () => import('./fs-mount.ts'),
  scale: () => import('./scale.ts'),
  lab: () => import('./lab.ts'),
  'lab-monitor': () => import('./lab-monitor.ts'),
  'lab-failover': () => import('./lab-failover.ts'),
  'lab-site': () => import('./lab-site.ts'),
};
type PartName = keyof typeof PARTS;
const isPart = (s: string | undefined): s is PartName => s !== undefined && Object.hasOwn(PARTS, s);

async function outerMain(): Promise<number> {
  if (process.getuid?.() !== 0) lib.die('must run as root (it creates network namespaces, loop devices and mounts)');
  const only = process.env.BENCH_ONLY ?? '';
  if (only !== '' && !isPart(only)) lib.die(`BENCH_ONLY must be one of ${Object.keys(PARTS).join(', ')}, got "${only}"`);
  const names: PartName[] = only ? [only as PartName] : (Object.keys(PARTS) as PartName[]);
  const loaded: Record<string, Part> = {};
  const problems: string[] = [];
  for (const n of names) {
    try {
      loaded[n] = await (PARTS[n] as () => Promise<Part>)();
      problems.push(...(loaded[n] as Part).missing());
    } catch (e) {
      problems.push(`part ${n} cannot be loaded: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  if (problems.length > 0) lib.die(problems.join('\n       '));
  const rounds = lib.envInt('BENCH_ROUNDS', 30, 1);
  const warmup = lib.envInt('BENCH_WARMUP', 3, 0);
  const seed = process.env.BENCH_SEED ? lib.envInt('BENCH_SEED', 0, 0) : Math.floor(Math.random() * 2 ** 31);

  const session = new lib.Session();
  const scratch = mkdtempSync(join(tmpdir(), 'ocfkit-bench-outer-'));
  session.defer('scratch directory', () => lib.removeTree(scratch));
  const binaries = new lib.Binaries(scratch);
  let code = 0;
  for (const [i, n] of names.entries()) {
    if (i > 0) process.stdout.write(`\n${'='.repeat(118)}\n\n`);
    const c = await (loaded[n] as Part).outer({ session, scratch, binaries, rounds, warmup, seed });
    if (session.signalled) return session.exitCode();
    if (c !== 0 && code === 0) code = c;
  }
  session.cleanupAll();
  if (code !== 0 && names.length > 1) process.stderr.write('bench: FAILED (see above); the other parts ran\n');
  return code;
}

// ---------------------------------------------------------------------------------------------- main

const at = process.argv.indexOf('--inner');
if (at >= 0) {
  const part = process.argv[at + 1];
  if (!isPart(part)) lib.die(`--inner needs one of ${Object.keys(PARTS).join(', ')}`);
  (PARTS[part] as () => Promise<Part>)().then((m) => m.inner()).then(
    () => process.exit(0),
    (e: unknown) => {
      if (e instanceof lib.BenchFailure) {
        process.stderr.write(`\nbench: ${e.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
} else {
  outerMain().then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
