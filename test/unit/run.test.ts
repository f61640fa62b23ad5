import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Deadline } from '../../lib/ocf/deadline';
import { commandLine, describe as describeRun, run } from '../../lib/run';

const dl = (ms = 10_000) => new Deadline(ms, 'test');
/** Running, not a zombie waiting for PID 1 to reap it. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('run', () => {
  it('captures exit code, stdout and stderr; no shell is involved', async () => {
    const r = await run(['sh', '-c', 'echo hi; echo oops >&2; exit 4'], { deadline: dl() });
    expect(r).toMatchObject({ code: 4, stdout: 'hi\n', stderr: 'oops\n', timedOut: false, abandoned: false });
    const lit = await run(['echo', '$(id)', ';', '`x`'], { deadline: dl() });
    expect(lit.stdout).toBe('$(id) ; `x`\n');
  });

  it('passes stdin, and runs children in the C locale', async () => {
    expect((await run(['cat'], { deadline: dl(), input: 'data' })).stdout).toBe('data');
    expect((await run(['sh', '-c', 'echo $LC_ALL'], { deadline: dl() })).stdout).toBe('C\n');
  });

  it('reports a missing program instead of throwing', async () => {
    const r = await run(['/nonexistent/tool'], { deadline: dl() });
    expect(r.spawnError).toBe('ENOENT');
    expect(describeRun(r)).toContain('could not be started (ENOENT)');
  });

  it('kills a hung command with TERM at its timeout', async () => {
    const t0 = performance.now();
    const r = await run(['sleep', '30'], { deadline: dl(), timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGTERM');
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(describeRun(r)).toMatch(/did not finish within 0\.\ds and was killed/);
  });

  it('escalates to KILL when TERM is ignored, and kills its children too', async () => {
    const t0 = performance.now();
    const r = await run(['bash', '-c', 'trap "" TERM; sleep 30 & echo $!; wait'], { deadline: dl(), timeoutMs: 300, graceMs: 200 });
    expect(r.signal).toBe('SIGKILL');
    expect(performance.now() - t0).toBeLessThan(2000);
    const grandchild = Number(r.stdout.trim());
    await new Promise((res) => setTimeout(res, 100));
    expect(alive(grandchild)).toBe(false);
  });

  it('never waits past the action deadline', async () => {
    const t0 = performance.now();
    const r = await run(['sleep', '30'], { deadline: dl(400), timeoutMs: 60_000 });
    expect(r.timedOut).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('quotes argv readably for logs', () => {
    expect(commandLine(['ip', '-j', 'addr', 'show'])).toBe('ip -j addr show');
    expect(commandLine(['echo', "it's", 'a b'])).toBe(`echo 'it'\\''s' 'a b'`);
  });
});
