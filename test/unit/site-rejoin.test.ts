/**
 * The rejoin loop on a scripted sequence of captured DRBD 9 states: what it runs (drbdadm connect,
 * disconnect, connect --discard-my-data) and when it stops. Pacemaker answers with no ticket and
 * nothing running (the returning site).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../commands/site/decide';
import { rejoin } from '../../commands/site/rejoin';
import { type SiteCtx, pollPauseMs, waitUntil } from '../../commands/site/steps';
import { parseDeployment, stackOf } from '../../commands/stack/model';
import { Deadline } from '../../lib/ocf/deadline';
import type { RunResult } from '../../lib/run';

const sample = (f: string) => readFileSync(join(__dirname, '..', 'samples', 'drbd9', f), 'utf8');
/**
 * `dmesg --json` at node2 up to the split brain of the DRBD 9 capture: its captured messages, in
 * util-linux's JSON form.
 */
function dmesgJson(): string {
  const lines = sample('capture-node2-dmesg.txt').split('\n');
  const upTo = lines.findIndex((l) => l.includes('Split-Brain detected but unresolved'));
  const records = lines.slice(0, upTo + 1).map((l) => /^\[\s*([\d.]+)\] (.*)$/.exec(l)).filter((m) => m !== null).map((m) => ({ pri: 6, time: Number(m[1]), msg: m[2] }));
  return JSON.stringify({ dmesg: records }, null, 3);
}
const stack = stackOf(
  parseDeployment({
    sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } },
    services: [{ name: 'etcd', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/var/lib/etcd', fstype: 'ext4' }],
  }),
  'b',
);

/** A site where DRBD shows `states[i]`, i moving on by what `step` says each drbdadm call does. */
function scripted(states: string[], step: (argv: readonly string[], i: number) => number, dmesg = dmesgJson()) {
  let i = 0;
  const calls: string[] = [];
  const lines: string[] = [];
  const answer = (argv: readonly string[], stdout: string, code = 0): RunResult => ({ argv, code, signal: null, stdout, stderr: '', durationMs: 1, timedOut: false, abandoned: false });
  const ctx: SiteCtx = {
    stack,
    src: {
      run: async (argv) => {
        if (argv[0] === 'cibadmin') return answer(argv, '<status/>');
        if (argv[0] === 'crm_mon') return answer(argv, '<pacemaker-result><resources/></pacemaker-result>');
        if (argv[0] === 'drbdsetup') return answer(argv, sample(states[i]!));
        if (argv[0] === 'dmesg') return answer(argv, dmesg);
        calls.push(argv.slice(3).join(' '));
        i = step(argv, i);
        return answer(argv, '');
      },
      drbdconf: '/etc/drbd.conf',
      stateDir: '/nonexistent',
      procDrbd: () => sample('s01-secondary-connected-node1-proc-drbd.txt'),
    },
    deadline: new Deadline(60_000, 'test'),
    waitMs: 50,
    say: (l) => lines.push(l),
    clock: () => '0.0s',
  };
  return { ctx, calls, lines };
}

describe('site rejoin, step by step', () => {
  it('StandAlone, and StandAlone again after connect: a split brain, refused without --discard-local, nothing discarded', async () => {
    const { ctx, calls, lines } = scripted(['s06-standalone-node2-events2-now-statistics.txt'], (_, i) => i);
    expect(await rejoin(ctx, stack.services, false)).toBe(EXIT.SPLIT_BRAIN);
    expect(calls).toEqual(['connect r0']);
    expect(lines.join('\n')).toContain('split brain: both sites wrote to r0 while apart');
    // Which side wrote what, from the refused handshake in the kernel log.
    expect(lines.join('\n')).toContain("At DRBD's last handshake this site was at generation 82CBDBD24313BFCD with 16384 KiB changed (since generation CCAC704952B5A188), the other site at FB56BC7C43B0B8DD");
  });

  it('StandAlone, then the peer does not take the connect (it gave up after the refused handshake): split brain, back to StandAlone', async () => {
    // connect → Connecting (waiting for a peer that stays StandAlone); disconnect → StandAlone again.
    const { ctx, calls, lines } = scripted(['s06-standalone-node2-events2-now-statistics.txt', 's05-link-down-primary-node2-events2-now.txt'], (argv) => (argv.includes('disconnect') ? 0 : 1));
    expect(await rejoin(ctx, stack.services, false)).toBe(EXIT.SPLIT_BRAIN);
    expect(calls).toEqual(['connect r0', 'disconnect r0']);
    expect(lines.join('\n')).toContain('run `drbdadm connect r0` on its node (that keeps its data)');
  });

  it('with --discard-local: disconnect, connect --discard-my-data, then the resync to both UpToDate', async () => {
    const states = ['s06-standalone-node2-events2-now-statistics.txt', 's03-sync-node2-events2-now-statistics.txt', 's01-secondary-connected-node2-events2-now-statistics.txt'];
    let resyncPolls = 0;
    const { ctx, calls, lines } = scripted(states, (argv, i) => (argv.includes('--discard-my-data') ? 1 : i));
    // The resync ends on the third look at it after the discard.
    const run = ctx.src.run;
    const done = async (argv: readonly string[], o?: object) => ({ ...(await run(argv, o)), stdout: sample(states[2]!) });
    const ctx2: SiteCtx = { ...ctx, src: { ...ctx.src, run: async (argv, o) => (argv[0] === 'drbdsetup' && calls.length >= 2 && ++resyncPolls > 2 ? done(argv, o) : run(argv, o)) }, waitMs: 5000 };
    expect(await rejoin(ctx2, stack.services, true)).toBe(EXIT.OK);
    // Given --discard-local, no plain connect first: it would meet the peer's and be refused again.
    expect(calls).toEqual(['disconnect r0', 'connect --discard-my-data r0']);
    // The serving site dropped the connection too: what to run there, keeping its data.
    expect(lines.join('\n')).toMatch(/if DRBD at site a shows StandAlone .*run `drbdadm connect r0` on its serving node: it keeps that site's data/);
    expect(lines.join('\n')).toMatch(/SyncTarget, disk here Inconsistent, 58904 KiB to go/);
    expect(lines[lines.length - 1]).toContain('both disks UpToDate: rejoined');
  });

  it('Connected and in sync from the start: nothing run, exit 0', async () => {
    const { ctx, calls } = scripted(['s01-secondary-connected-node2-events2-now-statistics.txt'], (_, i) => i);
    expect(await rejoin(ctx, stack.services, false)).toBe(EXIT.OK);
    expect(calls).toEqual([]);
  });

  it('the peer never answers (Connecting), no refused handshake in the kernel log: the bounded wait ends with 6, saying what to look at over there', async () => {
    const { ctx, lines } = scripted(['s05-link-down-primary-node2-events2-now-statistics.txt'], (_, i) => i, JSON.stringify({ dmesg: [] }));
    expect(await rejoin(ctx, stack.services, false)).toBe(EXIT.TIMEOUT);
    expect(lines.join('\n')).toContain("the other site's DRBD does not take the connection. If site a is up, its DRBD may have given up on it (after a failed handshake DRBD stays StandAlone): on its serving node `drbdadm cstate r0` says so, and `drbdadm connect r0` there takes the connection again");
  });

  it('StandAlone for a moment (drbdadm up half-way: connect comes next) is not acted on: read again after 2 s', async () => {
    const { ctx, calls, lines } = scripted(['s06-standalone-node2-events2-now-statistics.txt'], (_, i) => i);
    let reads = 0;
    const run = ctx.src.run;
    const connectedLater: SiteCtx = {
      ...ctx,
      waitMs: 5000,
      src: { ...ctx.src, run: async (argv, o) => (argv[0] === 'drbdsetup' && ++reads > 2 ? { ...(await run(argv, o)), stdout: sample('s01-secondary-connected-node2-events2-now-statistics.txt') } : run(argv, o)) },
    };
    expect(await rejoin(connectedLater, stack.services, false)).toBe(EXIT.OK);
    expect(calls).toEqual([]);
    expect(lines.join('\n')).not.toContain('split brain');
  });

  it('Connecting after a handshake refused before rejoin ran (drbd-promote reconnected; the peer gave up): split brain at once, back to StandAlone, nothing discarded', async () => {
    const { ctx, calls, lines } = scripted(['s05-link-down-primary-node2-events2-now-statistics.txt'], (_, i) => i);
    const waitLong: SiteCtx = { ...ctx, waitMs: 60_000 };
    expect(await rejoin(waitLong, stack.services, false)).toBe(EXIT.SPLIT_BRAIN);
    // Back to StandAlone, so that the serving site's connect waits for --discard-local here.
    expect(calls).toEqual(['disconnect r0']);
    expect(lines.join('\n')).toContain('split brain: both sites wrote to r0 while apart');
    expect(lines.join('\n')).toContain('--discard-local');
  });

  it('a kernel log that cannot be read while Connecting: said once, not at every poll; the bounded wait ends with 6', async () => {
    const { ctx, lines } = scripted(['s05-link-down-primary-node2-events2-now-statistics.txt'], (_, i) => i, 'not json');
    expect(await rejoin({ ...ctx, waitMs: 4500 }, stack.services, false)).toBe(EXIT.TIMEOUT);
    expect(lines.filter((l) => l.includes('the kernel log could not be read'))).toHaveLength(1);
  });

  it('the same with --discard-local: disconnect, connect --discard-my-data; the refused handshake in the log no longer counts', async () => {
    const states = ['s05-link-down-primary-node2-events2-now-statistics.txt', 's01-secondary-connected-node2-events2-now-statistics.txt'];
    const { ctx, calls } = scripted(states, (argv, i) => (argv.includes('--discard-my-data') ? 1 : i));
    expect(await rejoin({ ...ctx, waitMs: 5000 }, stack.services, true)).toBe(EXIT.OK);
    expect(calls).toEqual(['disconnect r0', 'connect --discard-my-data r0']);
  });
});

describe("the site commands' wait", () => {
  it('reads every 2 s where a reading is quick; where it is slow, reads at most a fifth of the time, at least every 10 s', () => {
    expect(pollPauseMs(40)).toBe(2000);
    expect(pollPauseMs(500)).toBe(2000);
    expect(pollPauseMs(1500)).toBe(6000);
    expect(pollPauseMs(4000)).toBe(10_000);
  });

  it('a reading the cluster does not answer is said and read again; a failure of DRBD itself ends the wait', async () => {
    const { ctx, lines } = scripted(['s01-secondary-connected-node2-events2-now-statistics.txt'], (_, i) => i);
    let mons = 0;
    const hung = (argv: readonly string[]): RunResult => ({ argv, code: null, signal: 'SIGKILL', stdout: '', stderr: '', durationMs: 30_000, timedOut: true, abandoned: false });
    const slowMon: SiteCtx = { ...ctx, waitMs: 10_000, src: { ...ctx.src, run: async (argv, o) => (argv[0] === 'crm_mon' && mons++ === 0 ? hung(argv) : ctx.src.run(argv, o)) } };
    const st = await waitUntil(slowMon, stack.services[0]!, 'anything', () => true);
    expect(st?.drbd?.role).toBe('Secondary');
    expect(mons).toBe(2);
    expect(lines[0]).toMatch(/etcd: no answer, reading again: asking Pacemaker where resources run: .*crm_mon/);
    // crm_mon 2.1 and later when it cannot reach the CIB: exit 0 with an error and no resources. Not "nothing runs".
    const unreached = '<pacemaker-result api-version="2.38"><status code="0" message="OK"><errors><error>Could not connect to the CIB: No such device or address</error></errors></status></pacemaker-result>';
    let mons2 = 0;
    const lines2: string[] = [];
    const emptyMon: SiteCtx = { ...ctx, say: (l) => lines2.push(l), waitMs: 10_000, src: { ...ctx.src, run: async (argv, o) => (argv[0] === 'crm_mon' && mons2++ === 0 ? { argv, code: 0, signal: null, stdout: unreached, stderr: '', durationMs: 1, timedOut: false, abandoned: false } : ctx.src.run(argv, o)) } };
    expect((await waitUntil(emptyMon, stack.services[0]!, 'anything', () => true))?.drbd?.role).toBe('Secondary');
    expect(mons2).toBe(2);
    expect(lines2[0]).toMatch(/no answer, reading again: asking Pacemaker where resources run: crm_mon answered OK: Could not connect to the CIB/);
    const noDrbd: SiteCtx = { ...ctx, src: { ...ctx.src, run: async (argv, o) => (argv[0] === 'drbdsetup' ? hung(argv) : ctx.src.run(argv, o)) } };
    await expect(waitUntil(noDrbd, stack.services[0]!, 'anything', () => true)).rejects.toThrow(/drbdsetup/);
  });
});
