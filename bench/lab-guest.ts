// What the lab parts share: lab.sh on the host, scripts in a guest, the DRBD pair.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as lib from './lib.ts';

export const LAB = join(lib.REPO, 'scripts', 'lab', 'lab.sh');

/** lab.sh ARGS; its stdout, or a BenchFailure with what it printed. */
export function labSh(args: string[], timeoutS = 600): string {
  const r = spawnSync('bash', [LAB, ...args], { encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new lib.BenchFailure(`lab.sh ${args.slice(0, 4).join(' ')} … exited ${r.status}:\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  return r.stdout;
}

/** A bash SCRIPT in NODE with ARGS as $1…; its stdout. */
export function guest(node: string, script: string, args: string[] = [], timeoutS = 300): string {
  return labSh(['exec', '-t', String(timeoutS), node, 'bash', '-c', script, 'bench', ...args], timeoutS + 60);
}

/** r0 on both nodes, synced from node1, Secondary on both (node1 does not wait for its peer, set up after it). */
export function drbdPair(fencing = false): void {
  const f = fencing ? ' fencing' : '';
  guest('node1', `bash /lab/bin/drbd-lab setup nowait${f}`, [], 180);
  guest('node2', `bash /lab/bin/drbd-lab setup${f}`, [], 180);
  guest('node1', 'bash /lab/bin/drbd-lab sync', [], 600);
}

/** Polls FN every STEP seconds until it returns a value; a BenchFailure after TIMEOUT seconds. */
export function waitFor<T>(what: string, timeoutS: number, fn: () => T | undefined, stepS = 3): T {
  const end = Date.now() + timeoutS * 1000;
  let last = '';
  for (;;) {
    try {
      const v = fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = `: ${(e as Error).message}`;
    }
    if (Date.now() >= end) throw new lib.BenchFailure(`timed out after ${timeoutS}s waiting for ${what}${last}`);
    lib.sleepSync(stepS * 1000);
  }
}
