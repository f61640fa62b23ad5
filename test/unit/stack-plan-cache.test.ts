/** apply's plan cache (OCFKIT_TEST_PLAN_CACHE): the same plan's pcs steps run once, and it says the same. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apply } from '../../commands/stack/apply';
import type { Step } from '../../commands/stack/plan';
import type { RunResult, Runner } from '../../lib/run';

const EMPTY = '<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes/><resources/><constraints/></configuration><status/></cib>\n';

/** cibadmin --empty, and pcs -f FILE resource create ID …: a primitive ID added to FILE, a warning on stderr. */
function pcsLike(): Runner & { pcs: number } {
  const r = (async (argv: readonly string[]) => {
    let stdout = '';
    let stderr = '';
    if (argv[0] === 'cibadmin') stdout = EMPTY;
    if (argv[0] === 'pcs') {
      r.pcs++;
      const file = argv[2]!;
      writeFileSync(file, readFileSync(file, 'utf8').replace('<resources/>', `<resources><primitive id="${argv[5]}" class="ocf" provider="heartbeat" type="Dummy"/></resources>`));
      stderr = `Warning: ${argv[5]} made\n`;
    }
    return { argv: [...argv], code: 0, signal: null, stdout, stderr, durationMs: 1, timedOut: false, abandoned: false } as RunResult;
  }) as Runner & { pcs: number };
  r.pcs = 0;
  return r;
}

const step = (id: string): Step => ({ why: id, argv: ['pcs', 'resource', 'create', id, 'ocf:heartbeat:Dummy'] });

describe('apply --cib with a plan cache', () => {
  it('runs the pcs steps of a plan once, says what they said each time, and builds a changed plan afresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocfkit-plan-cache-'));
    const cache = mkdtempSync(join(tmpdir(), 'ocfkit-plan-cache-dir-'));
    const run = pcsLike();
    const once = async (steps: Step[], cib: string, planCache?: string) => {
      const said: string[] = [];
      await apply(run, steps, { cib: join(dir, cib), dryRun: true, ...(planCache ? { planCache } : {}) }, (l) => said.push(l));
      return said;
    };
    const first = await once([step('a')], 'cib.xml', cache);
    expect(run.pcs).toBe(1);
    expect(first).toContain('     Warning: a made');
    expect(first).toContain('create resource a');
    expect(await once([step('a')], 'cib.xml', cache)).toEqual(first);
    expect(run.pcs).toBe(1);
    // Another plan, and the same plan without the cache: pcs runs.
    expect(await once([step('b')], 'cib.xml', cache)).toContain('create resource b');
    expect(run.pcs).toBe(2);
    expect(await once([step('a')], 'cib.xml')).toEqual(first);
    expect(run.pcs).toBe(3);
  });
});
