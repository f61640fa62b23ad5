// The lab-site part: what each step of the two-site runbook takes (issue 17), from the commands an
// operator runs to the client writing again. The scenarios are test/lab/site.test.ts's, which
// asserts the behaviour and prints one `site timings: {…}` line; this part runs that test
// (`scripts/test.sh lab test/lab/site.test.ts`, ~20 min of TCG lab) BENCH_SITE_RUNS times
// (default 1) and keeps the timings, with the median of each number when there are several runs.
// A run whose test failed counts for nothing: its timings would time a failure.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { qemuMissing } from './lab-session.ts';
import * as lib from './lib.ts';
import type { OuterCtx } from './vip.ts';

const TOP = join(import.meta.dirname, '..');

export function missing(): string[] {
  return qemuMissing();
}

type Tree = { [k: string]: number | Tree };

/** The median of every number found at the same path in each run's timings. */
export function medians(runs: readonly Tree[]): Tree {
  const out: Tree = {};
  for (const k of Object.keys(runs[0] ?? {})) {
    const vals = runs.map((r) => r[k]).filter((v) => v !== undefined);
    if (vals.every((v) => typeof v === 'number')) {
      const s = [...(vals as number[])].sort((a, b) => a - b);
      out[k] = s[Math.floor(s.length / 2)]!;
    } else out[k] = medians(vals.filter((v): v is Tree => typeof v === 'object'));
  }
  return out;
}

/** The test's `site timings: {…}` line; vitest may put its colour codes in front of it. */
export function timingsLine(stdout: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape codes are what is stripped
  return stdout.split('\n').map((l) => l.replace(/\x1b\[[0-9;]*m/g, '')).find((l) => l.startsWith('site timings: '));
}

export async function outer(_ctx: OuterCtx): Promise<number> {
  const n = lib.envInt('BENCH_SITE_RUNS', 1, 1);
  const runs: Tree[] = [];
  for (let i = 0; i < n; i++) {
    const r = spawnSync('bash', [join(TOP, 'scripts', 'test.sh'), 'lab', 'test/lab/site.test.ts'], { cwd: TOP, encoding: 'utf8', timeout: 3_600_000, maxBuffer: 256 << 20, env: { ...process.env, NO_COLOR: '1' } });
    const line = timingsLine(r.stdout ?? '');
    if (r.status !== 0 || !line) {
      process.stderr.write(`bench: the site test failed (exit ${r.status}); its timings are not kept:\n${(r.stdout ?? '').split('\n').slice(-40).join('\n')}\n`);
      return 1;
    }
    runs.push(JSON.parse(line.slice('site timings: '.length)) as Tree);
    process.stdout.write(`bench: site run ${i + 1}/${n}: ${line.slice('site timings: '.length)}\n`);
  }
  const date = new Date().toISOString();
  const med = medians(runs);
  process.stdout.write(`ocfkit bench: lab-site — ${n} run(s) of the two-site scenarios (s; client pauses per writer, NFSv4.2 and NFSv3; appPauseS: the application's client, from its last acknowledged record before the failure to its first after)\n`);
  for (const [step, v] of Object.entries(med)) process.stdout.write(`  ${step.padEnd(26)} ${JSON.stringify(v)}\n`);
  const file = lib.writeResults('lab-site', date, { meta: { date, runs: n }, runs, medians: med });
  process.stdout.write(`raw numbers: ${file}\n`);
  return 0;
}

export async function inner(): Promise<void> {
  // Everything happens in the lab test; nothing runs inside a namespace of the bench's own.
}
