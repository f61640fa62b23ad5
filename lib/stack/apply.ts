/** Runs a plan's pcs commands against a CIB file (pcs -f) or the live cluster. */
import { existsSync, writeFileSync } from 'node:fs';
import { type Runner, describe } from '../run';
import type { Step } from './plan';

/** Each pcs call starts Python: seconds each, a minute or more on a slow guest. */
const PCS_CALL_MS = 180_000;

export async function apply(run: Runner, steps: readonly Step[], cib: string | undefined, say: (line: string) => void): Promise<void> {
  if (cib !== undefined && !existsSync(cib)) {
    const r = await run(['cibadmin', '--empty'], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(describe(r));
    writeFileSync(cib, r.stdout);
  }
  for (const s of steps) {
    const argv = cib === undefined ? [...s.argv] : [s.argv[0]!, '-f', cib, ...s.argv.slice(1)];
    const r = await run(argv, { timeoutMs: PCS_CALL_MS });
    if (r.code !== 0) throw new Error(`${describe(r)}\n(while: ${s.why})`);
    say(`ok   ${s.argv.slice(1, 4).join(' ')} …`);
  }
}
