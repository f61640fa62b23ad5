// What the bench parts that run in the qemu lab share: their preconditions, and a lab brought up from
// nothing for the part and taken down after it, also when the bench is interrupted (the session's
// cleanups run on a signal). BENCH_LAB_KEEP=1 leaves it up for probing by hand.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { labOk, labScript } from '../scripts/lab/host.ts';
import * as lib from './lib.ts';
import type { OuterCtx } from './vip.ts';

/** What every lab part needs: qemu. */
export function qemuMissing(): string[] {
  return spawnSync('which', ['qemu-system-x86_64']).status !== 0 ? ['missing qemu-system-x86_64 (bash scripts/lab/deps.sh installs the lab)'] : [];
}

/** qemu, the built binary and the reference agents the part compares against. */
export function labMissing(references: readonly string[]): string[] {
  const out = qemuMissing();
  for (const r of references) if (!existsSync(r)) out.push(`missing the reference agent ${r} (bash scripts/lab/deps.sh)`);
  if (!existsSync(join(lib.REPO, 'dist', 'ocfkit'))) out.push('missing dist/ocfkit (npm run build)');
  return out;
}

/** Runs BODY on a lab brought up afresh with `lab.sh up UP_ARGS…`; the lab goes down afterwards. */
export async function withFreshLab<T>(ctx: OuterCtx, upArgs: readonly string[], body: () => T | Promise<T>): Promise<T> {
  const keep = process.env.BENCH_LAB_KEEP === '1';
  labOk(['down'], 180);
  const down = ctx.session.defer('lab', () => {
    if (!keep) spawnSync('bash', [labScript, 'down'], { stdio: 'ignore', timeout: 180_000 });
  });
  try {
    labOk(['up', ...upArgs], 900);
    return await body();
  } finally {
    down();
  }
}
