/** `ocfkit stack apply --cib` for the tests, once per plan. */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const applied = new Map<string, { file: string; r: SpawnSyncReturns<string> }>();
let dir: string | undefined;

/**
 * `BIN stack apply ARGS --cib CIB`. A plan is a dozen pcs calls, each a Python start of 0.5-3 s on
 * the test machine: the same ARGS (a configuration file by its contents) are applied once per test
 * file, and later callers get a copy of that CIB and the same result.
 */
export function appliedPlan(bin: string, args: string[], cib: string): SpawnSyncReturns<string> {
  const key = JSON.stringify(args.map((a) => (a.endsWith('.json') ? readFileSync(a, 'utf8') : a)));
  let hit = applied.get(key);
  if (!hit) {
    dir ??= mkdtempSync(join(tmpdir(), 'ocfkit-plans-'));
    const file = join(dir, `applied-${applied.size}.xml`);
    // A plan is a dozen or more pcs starts (Python): beside two labs on two cores one ran past 120 s.
    hit = { file, r: spawnSync(bin, ['stack', 'apply', ...args, '--cib', file], { encoding: 'utf8', timeout: 300_000 }) };
    applied.set(key, hit);
  }
  if (hit.r.status === 0) copyFileSync(hit.file, cib);
  return hit.r;
}
