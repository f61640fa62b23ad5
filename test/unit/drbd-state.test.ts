import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DrbdAdm, parseProcDrbd, resourceState } from '../../lib/drbd';
import type { RunResult, Runner } from '../../lib/run';

const d9 = (f: string) => readFileSync(join(__dirname, '..', 'samples', 'drbd9', f), 'utf8');
const d84 = (f: string) => readFileSync(join(__dirname, '..', 'samples', 'drbd', f), 'utf8');

function fake(answers: Record<string, { stdout?: string; stderr?: string; code?: number }>) {
  const calls: string[] = [];
  const run: Runner = async (argv) => {
    calls.push(argv.join(' '));
    const a = Object.entries(answers).find(([k]) => argv.join(' ').includes(k))?.[1] ?? { code: 127 };
    return { argv, code: a.code ?? 0, signal: null, stdout: a.stdout ?? '', stderr: a.stderr ?? '', durationMs: 1, timedOut: false, abandoned: false } satisfies RunResult;
  };
  return { run, calls };
}

describe('one resource from whichever DRBD is loaded', () => {
  it('DRBD 9: events2 --now, with --statistics only when asked (the agent does not ask)', async () => {
    const proc = parseProcDrbd(d9('s01-secondary-connected-node1-proc-drbd.txt'));
    const f = fake({ 'events2 --now --statistics r0': { stdout: d9('s03-sync-node2-events2-now-statistics.txt') }, 'events2 --now r0': { stdout: d9('s03-sync-node2-events2-now.txt') } });
    const withStats = await resourceState(f.run, new DrbdAdm(f.run, '/etc/drbd.conf'), 'r0', proc, true);
    expect(withStats?.connections[0]?.peerDevices[0]?.outOfSyncKiB).toBe(58904);
    const plain = await resourceState(f.run, new DrbdAdm(f.run, '/etc/drbd.conf'), 'r0', proc);
    expect(plain?.role).toBe('Secondary');
    expect(f.calls).toEqual(['drbdsetup events2 --now --statistics r0', 'drbdsetup events2 --now r0']);
  });

  it('DRBD 9, the resource down: Unconfigured when the configuration names it, undefined when it does not', async () => {
    const proc = parseProcDrbd(d9('s01-secondary-connected-node1-proc-drbd.txt'));
    const f = fake({ events2: { code: 10, stderr: 'r0: No such resource' }, 'sh-minor r0': { stdout: '0\n' } });
    expect((await resourceState(f.run, new DrbdAdm(f.run, '/etc/drbd.conf'), 'r0', proc))?.role).toBe('Unconfigured');
    const none = fake({ events2: { code: 10, stderr: 'r9: No such resource' }, 'sh-minor': { code: 10 } });
    expect(await resourceState(none.run, new DrbdAdm(none.run, '/etc/drbd.conf'), 'r9', proc)).toBeUndefined();
  });

  it('8.4: the minors from drbdadm sh-minor, their /proc/drbd lines; undefined when the configuration does not name it', async () => {
    const proc = parseProcDrbd(d84('lab-84-standalone-primary.txt'));
    const f = fake({ 'sh-minor r0': { stdout: '0\n' } });
    const r = await resourceState(f.run, new DrbdAdm(f.run, '/etc/drbd.conf'), 'r0', proc);
    expect(r).toMatchObject({ role: 'Primary', connections: [{ connection: 'StandAlone', peerDevices: [{ outOfSyncKiB: 4096 }] }] });
    const none = fake({ 'sh-minor': { code: 10 } });
    expect(await resourceState(none.run, new DrbdAdm(none.run, '/etc/drbd.conf'), 'r9', proc)).toBeUndefined();
  });
});
