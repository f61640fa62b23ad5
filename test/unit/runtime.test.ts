import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Ctx, defineAgent } from '../../lib/ocf/agent';
import { OCF, fail } from '../../lib/ocf/codes';
import { Deadline, reserveFor } from '../../lib/ocf/deadline';
import { param } from '../../lib/ocf/params';
import { checkLevel, runAgent, timeoutOf } from '../../lib/ocf/runtime';

const params = {
  target: param.string({ required: true, shortdesc: 't', longdesc: 'T', check: (v) => (v === 'bad' ? 'is bad' : undefined) }),
  delay: param.integer({ default: 0, min: 0, max: 100000, shortdesc: 'd', longdesc: 'D' }),
};
type C = Ctx<typeof params>;
const seen: { ctx?: C; hostChecked?: boolean } = {};

const agent = defineAgent({
  name: 'fake',
  version: '1',
  shortdesc: 's',
  longdesc: 'l',
  params,
  actions: {
    start: { meta: [{ timeout: 20 }], run: async (ctx) => void (seen.ctx = ctx) },
    stop: { meta: [{ timeout: 20 }], run: async () => OCF.SUCCESS },
    monitor: {
      meta: [
        { timeout: 20, interval: 10, depth: 0 },
        { timeout: 40, interval: 60, depth: 20 },
      ],
      run: async (ctx) => {
        seen.ctx = ctx;
        if (ctx.params.target === 'throw') throw new Error('boom');
        if (ctx.params.target === 'huge') return 42 as never;
        if (ctx.params.target === 'missing') throw fail.installed('the thing is not installed');
        if (ctx.params.target === 'run') {
          await ctx.run(['sh', '-c', 'echo out; echo err >&2; exit 3']);
          return OCF.SUCCESS;
        }
        if (ctx.params.target === 'hang') await new Promise((r) => setTimeout(r, 60_000));
        if (ctx.params.target === 'busy') {
          // A node so loaded that no timer fires until past the deadline, while a command runs.
          const sleeping = ctx.run(['sleep', '30']);
          const until = performance.now() + ctx.deadline.remaining() + 300;
          while (performance.now() < until) {
            // busy
          }
          await sleeping;
        }
        if (ctx.params.target === 'log') ctx.log.info('hello log');
        if (ctx.params.target === 'promoted-degraded') return { code: OCF.RUNNING_PROMOTED, reason: 'peer gone' };
        if (ctx.params.target === 'promoted-failed') return { code: OCF.FAILED_PROMOTED, reason: 'device gone' };
        return OCF.NOT_RUNNING;
      },
    },
  },
  validateHost: async () => void (seen.hostChecked = true),
});

async function call(args: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await runAgent(agent, args, { OCF_RESKEY_target: 'ok', ...env }, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  const reason = /^ocf-exit-reason:(.*)$/m.exec(err)?.[1];
  return { code, out, err, reason };
}

describe('runAgent', () => {
  it('no action: usage and exit 2; unknown action: exit 3', async () => {
    const none = await call([]);
    expect(none.code).toBe(OCF.ERR_ARGS);
    expect(none.err).toContain('usage: fake {start|stop|monitor|meta-data|validate-all}');
    const unknown = await call(['explode']);
    expect(unknown.code).toBe(OCF.ERR_UNIMPLEMENTED);
    expect(unknown.reason).toContain('does not implement the explode action');
  });

  it('meta-data needs no parameters and exits 0', async () => {
    const r = await call(['meta-data'], { OCF_RESKEY_target: '' });
    expect(r.code).toBe(0);
    expect(r.out).toContain('<resource-agent name="fake"');
  });

  it('an uncaught error is exit 1 with a reason, never a stack trace on the reason line', async () => {
    const r = await call(['monitor'], { OCF_RESKEY_target: 'throw' });
    expect(r.code).toBe(OCF.ERR_GENERIC);
    expect(r.reason).toBe('internal error in monitor: boom');
  });

  it('a code outside 0-9 becomes 1', async () => {
    expect((await call(['monitor'], { OCF_RESKEY_target: 'huge' })).code).toBe(1);
  });

  it('an OcfError carries its code and reason, with OCF_EXIT_REASON_PREFIX honoured', async () => {
    const r = await call(['monitor'], { OCF_RESKEY_target: 'missing', OCF_EXIT_REASON_PREFIX: 'WHY:' });
    expect(r.code).toBe(OCF.ERR_INSTALLED);
    expect(r.err).toMatch(/^WHY:the thing is not installed$/m);
  });

  it('invalid parameters: 6 for any action but stop, which succeeds', async () => {
    expect((await call(['start'], { OCF_RESKEY_target: 'bad' })).code).toBe(OCF.ERR_CONFIGURED);
    expect((await call(['monitor'], { OCF_RESKEY_target: '' })).reason).toBe('parameter target is required but not set');
    expect((await call(['validate-all'], { OCF_RESKEY_delay: 'x' })).code).toBe(OCF.ERR_CONFIGURED);
    const stop = await call(['stop'], { OCF_RESKEY_target: 'bad' });
    expect(stop.code).toBe(OCF.SUCCESS);
    expect(stop.err).toContain('stop with invalid parameters');
  });

  it('probe = monitor with interval 0 or unset', async () => {
    await call(['monitor']);
    expect(seen.ctx?.probe).toBe(true);
    await call(['monitor'], { OCF_RESKEY_CRM_meta_interval: '0' });
    expect(seen.ctx?.probe).toBe(true);
    await call(['monitor'], { OCF_RESKEY_CRM_meta_interval: '10000' });
    expect(seen.ctx?.probe).toBe(false);
    await call(['start']);
    expect(seen.ctx?.probe).toBe(false);
  });

  it('check levels: lowered to the deepest declared depth; validate-all checks the host at 10', async () => {
    expect(checkLevel({ OCF_CHECK_LEVEL: '10' }, [0, 20])).toBe(0);
    expect(checkLevel({ OCF_CHECK_LEVEL: '25' }, [0, 20])).toBe(20);
    expect(checkLevel({ OCF_RESKEY_OCF_CHECK_LEVEL: '20' }, [0, 10, 20])).toBe(20);
    expect(checkLevel({ OCF_CHECK_LEVEL: 'x' }, [0, 20])).toBe(0);
    seen.hostChecked = false;
    await call(['validate-all']);
    expect(seen.hostChecked).toBe(false);
    await call(['validate-all'], { OCF_CHECK_LEVEL: '10' });
    expect(seen.hostChecked).toBe(true);
  });

  it('the deadline comes from OCF_RESKEY_CRM_meta_timeout less a reserve, else the declared timeout', async () => {
    expect(timeoutOf({ OCF_RESKEY_CRM_meta_timeout: '5000' }, 20)).toBe(5000);
    expect(timeoutOf({}, 20)).toBe(20000);
    expect(reserveFor(20000)).toBe(2000);
    expect(reserveFor(1000)).toBe(500);
    await call(['start'], { OCF_RESKEY_CRM_meta_timeout: '10000' });
    expect(seen.ctx!.deadline.budgetMs).toBe(9000);
  });

  it('an action that hangs is answered with exit 1 and a reason before the operation timeout', async () => {
    const t0 = performance.now();
    const r = await call(['monitor'], { OCF_RESKEY_target: 'hang', OCF_RESKEY_CRM_meta_timeout: '1500' });
    const took = performance.now() - t0;
    expect(r.code).toBe(OCF.ERR_GENERIC);
    expect(r.reason).toContain('ran out of time');
    expect(took).toBeLessThan(1500);
  });

  it('an action out of time names the command it was waiting for, even when its timers all fire late', async () => {
    const r = await call(['monitor'], { OCF_RESKEY_target: 'busy', OCF_RESKEY_CRM_meta_timeout: '1500' });
    expect(r.code).toBe(OCF.ERR_GENERIC);
    expect(r.reason).toMatch(/ran out of time \(\d\.\ds budget\) while waiting for sleep 30 to finish$/);
  });

  it('OCF_TRACE_RA records every command with exit code and output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocfkit-trace-'));
    const file = join(dir, 'trace');
    const r = await call(['monitor'], { OCF_RESKEY_target: 'run', OCF_TRACE_RA: '1', OCF_TRACE_FILE: file });
    expect(r.code).toBe(0);
    const t = readFileSync(file, 'utf8');
    expect(t).toContain("+ sh -c 'echo out; echo err >&2; exit 3'");
    expect(t).toContain('-> exit 3 in');
    expect(t).toMatch(/stdout:\n\s+out/);
    expect(t).toMatch(/stderr:\n\s+err/);
    expect(t).toContain('monitor -> 0 (SUCCESS)');
    // The trace_ra parameter and trace_dir layout of the shell library.
    await call(['monitor'], { OCF_RESKEY_target: 'run', OCF_RESKEY_trace_ra: '1', OCF_RESKEY_trace_dir: dir, OCF_RESOURCE_INSTANCE: 'r1' });
    expect(readFileSync(`${dir}/fake/${require('node:fs').readdirSync(`${dir}/fake`)[0]}`, 'utf8')).toContain('sh -c');
  });

  it('logs carry agent, instance, level and action; to stderr only when no other sink is set', async () => {
    const plain = await call(['monitor'], { OCF_RESKEY_target: 'log', OCF_RESOURCE_INSTANCE: 'web' });
    expect(plain.err).toMatch(/^fake\(web\)\[\d+\]: INFO: monitor: hello log$/m);
    // With a log file (or syslog) the executor would log stderr a second time: the shell rule.
    const file = join(mkdtempSync(join(tmpdir(), 'ocfkit-log-')), 'ha.log');
    const r = await call(['monitor'], { OCF_RESKEY_target: 'missing', OCF_RESOURCE_INSTANCE: 'web', HA_LOGFILE: file });
    expect(r.err).not.toContain('ERROR');
    expect(r.reason).toBe('the thing is not installed');
    await call(['monitor'], { OCF_RESKEY_target: 'log', OCF_RESOURCE_INSTANCE: 'web', HA_LOGFILE: file });
    const lines = readFileSync(file, 'utf8');
    expect(lines).toMatch(/^\d{4}-\d\d-\d\d [\d:.]+ fake\(web\)\[\d+\]: ERROR: monitor: failed \(ERR_INSTALLED\): the thing is not installed$/m);
    expect(lines).toMatch(/^\d{4}-\d\d-\d\d [\d:.]+ fake\(web\)\[\d+\]: INFO: monitor: hello log$/m);
  });
});

describe('what is logged as an error', () => {
  it('8 from a monitor is its answer (running promoted), not a failure: the reason, no ERROR line; 9 is one', async () => {
    const degraded = await call(['monitor'], { OCF_RESKEY_target: 'promoted-degraded', OCF_RESOURCE_INSTANCE: 'db' });
    expect(degraded.code).toBe(8);
    expect(degraded.reason).toBe('peer gone');
    expect(degraded.err).not.toContain('ERROR');
    const failed = await call(['monitor'], { OCF_RESKEY_target: 'promoted-failed', OCF_RESOURCE_INSTANCE: 'db' });
    expect(failed.code).toBe(9);
    expect(failed.err).toMatch(/ERROR: monitor: failed \(FAILED_PROMOTED\): device gone/);
  });
});

describe('Deadline', () => {
  it('counts what the operation spent before the agent could act (start-up) against the budget', () => {
    expect(Deadline.fromTimeout(20_000, 'start').budgetMs).toBe(18_000);
    expect(Deadline.fromTimeout(20_000, 'start', 5_000).budgetMs).toBe(13_000);
    expect(Deadline.fromTimeout(20_000, 'start', 30_000).budgetMs).toBe(0);
  });

  it('caps waits and polls by what is left', async () => {
    let now = 0;
    const d = new Deadline(1000, 'start', () => now);
    expect(d.cap(5000)).toBe(1000);
    now = 400;
    expect(d.remaining()).toBe(600);
    now = 1000;
    expect(d.expired()).toBe(true);
    expect(() => d.check('waiting')).toThrow(/start ran out of time \(1.0s budget\) while waiting/);
  });

  it('poll gives up with a DeadlineError', async () => {
    const d = new Deadline(150, 'monitor');
    await expect(d.poll('the moon', 20, async () => undefined)).rejects.toThrow(/while the moon/);
    expect(await new Deadline(1000, 'x').poll('y', 10, async () => 5)).toBe(5);
  });
});
