/**
 * Vitest hooks for the tests that run in the qemu lab; the lab itself is driven through
 * scripts/lab/host.ts, re-exported here.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { lab } from '../../scripts/lab/host';

export * from '../../scripts/lab/host';

/**
 * The hooks every lab test file needs: the lab brought up from a clean state before the tests
 * (then `setup`, which returns a reason when the file's own preparation failed), every test failing
 * with the reason when the lab is not there (a failed beforeAll would only skip them), and the lab
 * taken down afterwards, with the guests' console tails after a failure. `client` adds the third,
 * small guest. LAB_REUSE=1 skips the
 * initial down; LAB_KEEP=1 leaves the lab up.
 */
export function useLab(opts: { setup?: () => string | undefined; times?: Record<string, number>; timesLabel?: string; client?: boolean } = {}): { times: Record<string, number> } {
  const times = opts.times ?? {};
  let noLab: string | undefined;
  let failed = false;
  beforeAll(() => {
    if (process.getuid?.() !== 0) {
      noLab = 'the lab needs root (qemu shares the host root, runs vde_switch)';
      return;
    }
    if (process.env.LAB_REUSE !== '1') lab(['down'], 180);
    const r = lab(opts.client ? ['up', '--client'] : ['up'], 900);
    if (r.status !== 0) {
      noLab = `the lab did not come up (lab.sh up exited ${r.status}; qemu must run here):\n${r.out}`;
      return;
    }
    times.up = r.seconds;
    noLab = opts.setup?.();
  }, 960_000);
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      failed = true;
    });
    if (noLab) throw new Error(noLab);
  });
  afterAll(() => {
    if (process.env.LAB_KEEP === '1') return;
    const r = lab(failed ? ['down', '--show-logs'] : ['down'], 180);
    times.down = r.seconds;
    if (opts.timesLabel) console.log(`${opts.timesLabel} (s): ${JSON.stringify(times)}`);
    if (failed || r.status !== 0) console.log(r.out);
    if (r.status !== 0) throw new Error(`lab.sh down exited ${r.status}:\n${r.out}`);
  }, 240_000);
  return { times };
}
