import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { endRecorded, recordPids, spawnDetached } from '../../lib/background';

describe('detached helpers', () => {
  it('records live helpers only, and ends just the ones whose command line still matches', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ocfkit-bg-')), 'x.pids');
    const a = await spawnDetached(['sleep', '30']);
    const b = await spawnDetached(['sleep', '31']);
    const gone = await spawnDetached(['true']);
    await new Promise((r) => setTimeout(r, 200));
    recordPids(file, [gone.pid!]);
    recordPids(file, [a.pid!, b.pid!]);
    expect(readFileSync(file, 'utf8').trim().split('\n').map(Number)).toEqual([a.pid, b.pid]);
    // Only "sleep 30" matches: "sleep 31" is left alone, as a recycled pid would be.
    expect(endRecorded(file, (argv) => argv[0] === 'sleep' && argv[1] === '30')).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    const state = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0];
      } catch {
        return 'gone';
      }
    };
    expect(['Z', 'gone']).toContain(state(a.pid!));
    expect(state(b.pid!)).toBe('S');
    process.kill(b.pid!, 'SIGKILL');
  });

  it('with a watch, says when a helper failed at once, with its stderr; one still running is only started', async () => {
    const bad = await spawnDetached(['sh', '-c', 'echo "no such device" >&2; exit 2'], 1000);
    expect(bad.ended).toEqual({ code: 2, stdout: '', stderr: 'no such device\n' });
    const slow = await spawnDetached(['sleep', '30'], 100);
    expect(slow.pid).toBeGreaterThan(1);
    expect(slow.ended).toBeUndefined();
    process.kill(slow.pid!, 'SIGKILL');
  });

  it('with a watch and a start sign: ends as soon as the output says it got going, and still sees a slow failure', async () => {
    const t0 = performance.now();
    const going = await spawnDetached(['sh', '-c', 'echo "ARPING 192.0.2.50 from 192.0.2.50 v0"; exec sleep 30'], 5000, (out) => /^ARPING /m.test(out));
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(going.pid).toBeGreaterThan(1);
    expect(going.ended).toBeUndefined();
    process.kill(going.pid!, 'SIGKILL');
    // Failing after 300 ms, as a loaded node's arping did: a 100 ms window took it for running.
    const slowFail = await spawnDetached(['sh', '-c', 'sleep 0.3; echo "Interface \\"v0\\" is not ARPable" >&2; exit 2'], 5000, (out) => /^ARPING /m.test(out));
    expect(slowFail.ended?.code).toBe(2);
    expect(slowFail.ended?.stderr).toContain('is not ARPable');
  });
});
