// The lab part: how long the qemu lab takes from nothing to both guests answering, and to a
// quorate, fenced two-node cluster (scripts/lab/lab.sh bench-up, which prints one JSON line).
// BENCH_LAB_RUNS (default 1) repeats it; each run brings the lab up from scratch and down again.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { qemuMissing } from './lab-session.ts';
import * as lib from './lib.ts';
import type { OuterCtx } from './vip.ts';

const LAB = join(import.meta.dirname, '..', 'scripts', 'lab', 'lab.sh');

export function missing(): string[] {
  const out: string[] = [];
  if (!existsSync(LAB)) out.push(`missing ${LAB}`);
  out.push(...qemuMissing());
  return out;
}

export async function outer(_ctx: OuterCtx): Promise<number> {
  const runs = lib.envInt('BENCH_LAB_RUNS', 1, 1);
  const results: Array<{ guests_ready_s: number; cluster_online_s: number; host_qemu_rss_mib: number }> = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('bash', [LAB, 'bench-up'], { encoding: 'utf8', timeout: 1_200_000, maxBuffer: 64 << 20 });
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{"bench":"lab-up"'));
    if (r.status !== 0 || !line) {
      process.stderr.write(`bench: lab.sh bench-up failed (exit ${r.status}):\n${(r.stderr ?? '').split('\n').slice(-20).join('\n')}\n`);
      return 1;
    }
    results.push(JSON.parse(line));
    process.stdout.write(`bench: lab run ${i + 1}/${runs}: guests ready ${results[i]!.guests_ready_s} s, cluster online ${results[i]!.cluster_online_s} s\n`);
  }
  const med = (k: 'guests_ready_s' | 'cluster_online_s' | 'host_qemu_rss_mib') => {
    const v = results.map((x) => x[k]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)]!;
  };
  const date = new Date().toISOString();
  process.stdout.write(
    `ocfkit bench: lab — ${runs} run(s), 2 guests (TCG), from nothing\n` +
      `  guests ready:   ${med('guests_ready_s')} s (median)\n` +
      `  cluster online: ${med('cluster_online_s')} s (median; quorate, stonith enabled, fence device started)\n` +
      `  qemu RSS:       ${med('host_qemu_rss_mib')} MiB for both guests\n`,
  );
  const file = lib.writeResults('lab', date, { meta: { date, runs }, results });
  process.stdout.write(`raw numbers: ${file}\n`);
  return 0;
}

export async function inner(): Promise<void> {
  // Everything happens in lab.sh; nothing runs inside a namespace of the bench's own.
}
