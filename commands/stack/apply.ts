/** Runs a plan's pcs commands against a CIB file (pcs -f) or the live cluster. */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Runner, describe } from '../../lib/run';
import type { Step } from './plan';

/** Each pcs call starts Python: seconds each, a minute or more on a slow guest. */
const PCS_CALL_MS = 180_000;

/**
 * The live cluster gets the whole plan in one change: each step against a copy of its CIB, then one
 * `pcs cluster cib-push … diff-against=`. Step by step, Pacemaker would start each resource as it is
 * created, before the constraints that say where and after what (a mount on the Unpromoted node).
 */
export async function applyLive(run: Runner, steps: readonly Step[], say: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ocfkit-stack-'));
  try {
    const orig = join(dir, 'original.xml');
    const work = join(dir, 'new.xml');
    const got = await run(['pcs', 'cluster', 'cib', orig], { timeoutMs: PCS_CALL_MS });
    if (got.code !== 0) throw new Error(`reading the cluster's CIB: ${describe(got)}`);
    copyFileSync(orig, work);
    await apply(run, steps, work, say);
    const push = await run(['pcs', 'cluster', 'cib-push', work, `diff-against=${orig}`], { timeoutMs: PCS_CALL_MS });
    if (push.code !== 0) throw new Error(`pushing the configuration: ${describe(push)}`);
    say(`ok   pushed to the cluster in one change (${steps.length} steps)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function apply(run: Runner, steps: readonly Step[], cib: string | undefined, say: (line: string) => void): Promise<void> {
  if (cib === undefined) return applyLive(run, steps, say);
  if (!existsSync(cib)) {
    const r = await run(['cibadmin', '--empty'], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(describe(r));
    writeFileSync(cib, r.stdout);
  }
  for (const s of steps) {
    const argv = [s.argv[0]!, '-f', cib, ...s.argv.slice(1)];
    const r = await run(argv, { timeoutMs: PCS_CALL_MS });
    if (r.code !== 0) throw new Error(`${describe(r)}\n(while: ${s.why})`);
    say(`ok   ${s.argv.slice(1, 4).join(' ')} …`);
    // What pcs warns about (a deprecated form, a check it skipped) is for the operator to read.
    for (const line of r.stderr.split('\n').filter((l) => l.trim())) say(`     ${line.trim()}`);
  }
}
