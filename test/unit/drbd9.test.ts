/**
 * DRBD 9.2.19 (drbd-utils 9.22) output captured in the lab in every state of the capture
 * (test/samples/drbd9/CAPTURE.md): the parsers, the promotion score and the problem the
 * monitor reports, for both nodes of each state.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { monitorCode, parseScores, promotionScore, replicationProblem } from '../../agents/drbd-promote';
import { type DrbdResource, generation, parseDrbdadmVersion, parseEvents2, parseProcDrbd, parseStatusJson, resourceFrom84 } from '../../lib/drbd';
import { OCF } from '../../lib/ocf/codes';

const sample = (f: string) => readFileSync(join(__dirname, '..', 'samples', 'drbd9', f), 'utf8');
const T = parseScores('0 10 1000 10000')!;

type Row = [
  file: string,
  role: string,
  disk: string,
  connection: string,
  peerRole: string,
  replication: string,
  peerDisk: string,
  score: number | 'remove',
  problem: RegExp | undefined,
  extra?: { quorum?: false; suspended?: true },
];

/** Every state of the capture as the agent must read it; the score is the reference's table. */
const STATES: Row[] = [
  ['s00-inconsistent-connected-node1', 'Secondary', 'Inconsistent', 'Connected', 'Secondary', 'Established', 'Inconsistent', 'remove', undefined],
  ['s00-inconsistent-connected-node2', 'Secondary', 'Inconsistent', 'Connected', 'Secondary', 'Established', 'Inconsistent', 'remove', undefined],
  ['s01-secondary-connected-node1', 'Secondary', 'UpToDate', 'Connected', 'Secondary', 'Established', 'UpToDate', 10000, undefined],
  ['s01-secondary-connected-node2', 'Secondary', 'UpToDate', 'Connected', 'Secondary', 'Established', 'UpToDate', 10000, undefined],
  ['s02-primary-connected-node1', 'Primary', 'UpToDate', 'Connected', 'Secondary', 'Established', 'UpToDate', 10000, undefined],
  ['s02-primary-connected-node2', 'Secondary', 'UpToDate', 'Connected', 'Primary', 'Established', 'UpToDate', 10000, undefined],
  ['s03-sync-node1', 'Primary', 'UpToDate', 'Connected', 'Secondary', 'SyncSource', 'Inconsistent', 10000, undefined],
  ['s03-sync-node2', 'Secondary', 'Inconsistent', 'Connected', 'Primary', 'SyncTarget', 'UpToDate', 10, undefined],
  ['s03b-sync-resumed-node1', 'Primary', 'UpToDate', 'Connected', 'Secondary', 'SyncSource', 'Inconsistent', 10000, undefined],
  ['s03b-sync-resumed-node2', 'Secondary', 'Inconsistent', 'Connected', 'Primary', 'SyncTarget', 'UpToDate', 10, undefined],
  ['s04-paused-sync-node1', 'Primary', 'UpToDate', 'Connected', 'Secondary', 'PausedSyncS', 'Inconsistent', 10000, undefined],
  ['s04-paused-sync-node2', 'Secondary', 'Inconsistent', 'Connected', 'Primary', 'PausedSyncT', 'UpToDate', 10, undefined],
  ['s04b-paused-sync-both-sides-node1', 'Primary', 'UpToDate', 'Connected', 'Secondary', 'PausedSyncS', 'Inconsistent', 10000, undefined],
  ['s04b-paused-sync-both-sides-node2', 'Secondary', 'Inconsistent', 'Connected', 'Primary', 'PausedSyncT', 'UpToDate', 10, undefined],
  // The link cut: the Primary keeps its score, the Secondary's peer may have died (1000).
  ['s05-link-down-primary-node1', 'Primary', 'UpToDate', 'Connecting', 'Unknown', 'Off', 'DUnknown', 10000, /replication link of r0 is down \(Connecting\)/],
  ['s05-link-down-primary-node2', 'Secondary', 'UpToDate', 'Connecting', 'Unknown', 'Off', 'DUnknown', 1000, /is down \(Connecting\)/],
  ['s05b-link-down-primary-after-write-node1', 'Primary', 'UpToDate', 'Connecting', 'Unknown', 'Off', 'DUnknown', 10000, /is down \(Connecting\)/],
  ['s05b-link-down-primary-after-write-node2', 'Secondary', 'UpToDate', 'Connecting', 'Unknown', 'Off', 'DUnknown', 1000, /is down \(Connecting\)/],
  // A graceful disconnect from a Primary outdates the Secondary: never promotable alone.
  ['s06-standalone-node1', 'Primary', 'UpToDate', 'Connecting', 'Unknown', 'Off', 'DUnknown', 10000, /is down \(Connecting\)/],
  ['s06-standalone-node2', 'Secondary', 'Outdated', 'StandAlone', 'Unknown', 'Off', 'DUnknown', 'remove', /is StandAlone: DRBD will not reconnect by itself/],
  ['s07-split-brain-standalone-node1', 'Primary', 'UpToDate', 'StandAlone', 'Unknown', 'Off', 'DUnknown', 10000, /is StandAlone/],
  ['s07-split-brain-standalone-node2', 'Primary', 'UpToDate', 'StandAlone', 'Unknown', 'Off', 'DUnknown', 10000, /is StandAlone/],
  ['s07b-split-brain-resolved-resync-node1', 'Primary', 'UpToDate', 'Connected', 'Secondary', 'SyncSource', 'Inconsistent', 10000, undefined],
  ['s07b-split-brain-resolved-resync-node2', 'Secondary', 'Inconsistent', 'Connected', 'Primary', 'SyncTarget', 'UpToDate', 10, undefined],
  ['s08-outdated-disconnected-node2', 'Secondary', 'Outdated', 'Connecting', 'Unknown', 'Off', 'DUnknown', 'remove', /is down \(Connecting\)/],
  // Detached: a Diskless node is served by its UpToDate peer (the reference's 10), never above it.
  ['s09-diskless-detached-node1', 'Primary', 'UpToDate', 'Connected', 'Secondary', 'Established', 'Diskless', 10000, /^the disk of r0 on node2 \(volume 0\) is detached: the data is on this node only$/],
  ['s09-diskless-detached-node2', 'Secondary', 'Diskless', 'Connected', 'Primary', 'Established', 'UpToDate', 10, /^the local disk of r0 \(volume 0\) is Diskless: DRBD detached it .* holds no copy here$/],
  ['s10-down-on-node2-node1', 'Primary', 'UpToDate', 'Connecting', 'Unknown', 'Off', 'DUnknown', 10000, /is down \(Connecting\)/],
  ['s11-quorum-configured-connected-node1', 'Primary', 'UpToDate', 'Connected', 'Secondary', 'Established', 'UpToDate', 10000, undefined],
  ['s11-quorum-configured-connected-node2', 'Secondary', 'UpToDate', 'Connected', 'Primary', 'Established', 'UpToDate', 10000, undefined],
  // Two nodes with quorum majority, link cut: neither keeps a score, so neither serves.
  ['s11-quorum-lost-link-down-node1', 'Primary', 'UpToDate', 'Connecting', 'Unknown', 'Off', 'DUnknown', 'remove', /is down/, { quorum: false }],
  ['s11-quorum-lost-link-down-node2', 'Secondary', 'UpToDate', 'Connecting', 'Unknown', 'Off', 'DUnknown', 'remove', /is down/, { quorum: false }],
  ['s11b-quorum-lost-suspend-io-node1', 'Primary', 'UpToDate', 'Connecting', 'Unknown', 'Off', 'DUnknown', 'remove', /is down/, { quorum: false, suspended: true }],
  ['s11b-quorum-lost-suspend-io-node2', 'Secondary', 'UpToDate', 'Connecting', 'Unknown', 'Off', 'DUnknown', 'remove', /is down/, { quorum: false, suspended: true }],
  // auto-promote: node2 Primary because a process holds its device open for writing.
  ['s12-auto-promote-held-open-node1', 'Secondary', 'UpToDate', 'Connected', 'Primary', 'Established', 'UpToDate', 10000, undefined],
  ['s12-auto-promote-held-open-node2', 'Primary', 'UpToDate', 'Connected', 'Secondary', 'Established', 'UpToDate', 10000, undefined],
];

describe('DRBD 9.2.19 captured in every state: events2 --now', () => {
  it.each(STATES.map(([file, ...rest]) => ({ file, rest })))('$file', ({ file, rest }) => {
    const [role, disk, connection, peerRole, replication, peerDisk, score, problem, extra] = rest;
    const r = parseEvents2(sample(`${file}-events2-now.txt`)).get('r0')!;
    expect(r).toMatchObject({ name: 'r0', role, suspended: extra?.suspended ?? false });
    // Why, in DRBD's word: the samples suspend only for lost quorum.
    expect(r.suspension).toBe(extra?.suspended ? 'quorum' : undefined);
    expect(r.devices).toEqual([{ volume: 0, minor: 0, disk, client: false, quorum: extra?.quorum ?? true }]);
    expect(r.connections).toHaveLength(1);
    expect(r.connections[0]).toMatchObject({ peer: file.endsWith('node1') ? 'node2' : 'node1', connection, peerRole });
    expect(r.connections[0]!.peerDevices).toEqual([{ volume: 0, replication, peerDisk, peerClient: false }]);
    const d = promotionScore(r, T);
    if (score === 'remove') expect(d.kind).toBe('remove');
    else expect(d).toMatchObject({ kind: 'set', score });
    if (problem) expect(replicationProblem(r)).toMatch(problem);
    else expect(replicationProblem(r)).toBeUndefined();
  });

  it('s10: the resource down on node2 is `exists -` alone: not there at all', () => {
    expect(sample('s10-down-on-node2-node2-events2-now.txt')).toBe('exists -\n');
    expect(parseEvents2(sample('s10-down-on-node2-node2-events2-now.txt')).size).toBe(0);
    expect(parseEvents2(sample('s10-down-on-node2-node2-events2-now-statistics.txt')).size).toBe(0);
    expect(parseStatusJson(sample('s10-down-on-node2-node2-status-json.txt')).size).toBe(0);
  });
});

describe('DRBD 9.2.19: the three machine outputs agree', () => {
  const read = (file: string, kind: string): DrbdResource | undefined => {
    const text = sample(`${file}-${kind}.txt`);
    return (kind === 'status-json' ? parseStatusJson(text) : parseEvents2(text)).get('r0');
  };
  // The three agree on the state; only --statistics and --json carry out-of-sync amounts.
  const withoutAmounts = (r: unknown) => JSON.parse(JSON.stringify(r, (k, v) => (k === 'outOfSyncKiB' ? undefined : v)));
  it.each(STATES.map(([file]) => ({ file })))('$file: events2 --now, with --statistics, and status --json', ({ file }) => {
    const now = read(file, 'events2-now');
    expect(withoutAmounts(read(file, 'events2-now-statistics'))).toEqual(withoutAmounts(now));
    expect(withoutAmounts(read(file, 'status-json'))).toEqual(withoutAmounts(now));
    expect(JSON.stringify(read(file, 'events2-now-statistics'))).toMatch(/outOfSyncKiB|"devices":\[\]/);
  });
});

describe('DRBD 9.2.19 event streams (events2 --timestamps --statistics, no --now)', () => {
  /** The state a reader of the stream knows at `until` (an ISO time; lines carry one). */
  const at = (file: string, until: string) =>
    parseEvents2(
      sample(file)
        .split('\n')
        .filter((l) => l.slice(0, 26) <= until)
        .join('\n'),
      { stream: true },
    ).get('r0')!;

  it('promote, demote, link cut and reconnect on node1', () => {
    const f = 'events2-stream-promote-demote-linkcut-reconnect-node1.txt';
    // Without `stream` the reader stops at the initial `exists -`, as events2 --now would.
    expect(parseEvents2(sample(f)).get('r0')!.role).toBe('Secondary');
    expect(at(f, '2026-12-01T21:55:00')).toMatchObject({ role: 'Secondary' });
    expect(at(f, '2026-12-01T21:55:02').role).toBe('Primary');
    expect(at(f, '2026-12-01T21:55:06').role).toBe('Secondary');
    expect(at(f, '2026-12-01T21:55:15.74').connections[0]).toMatchObject({ connection: 'NetworkFailure', peerRole: 'Unknown' });
    const cut = at(f, '2026-12-01T21:55:20');
    expect(cut.connections[0]).toMatchObject({ connection: 'Connecting' });
    expect(cut.connections[0]!.peerDevices[0]).toMatchObject({ replication: 'Off', peerDisk: 'DUnknown' });
    expect(promotionScore(cut, T)).toMatchObject({ kind: 'set', score: 1000 });
    const end = parseEvents2(sample(f), { stream: true }).get('r0')!;
    expect(end.connections[0]).toMatchObject({ connection: 'Connected', peerRole: 'Secondary' });
    expect(end.connections[0]!.peerDevices[0]).toMatchObject({ replication: 'Established', peerDisk: 'UpToDate' });
    expect(replicationProblem(end)).toBeUndefined();
  });

  it('the same seen from node2', () => {
    const f = 'events2-stream-promote-demote-linkcut-reconnect-node2.txt';
    expect(at(f, '2026-12-01T21:55:02').connections[0]!.peerRole).toBe('Primary');
    const end = parseEvents2(sample(f), { stream: true }).get('r0')!;
    expect(end).toMatchObject({ role: 'Secondary' });
    expect(end.connections[0]).toMatchObject({ connection: 'Connected', peerRole: 'Secondary' });
  });

  it('split brain detected, resolved with --discard-my-data, resynced (node2, the discarding side)', () => {
    const f = 'events2-stream-split-brain-resolve-resync-node2.txt';
    expect(at(f, '2026-12-01T21:56:32')).toMatchObject({ role: 'Primary' });
    const sb = at(f, '2026-12-01T21:56:40');
    expect(sb.connections[0]!.connection).toBe('StandAlone');
    expect(replicationProblem(sb)).toMatch(/StandAlone/);
    // Reconnected as the sync target: Outdated, then Inconsistent, with the peer's UpToDate data.
    expect(at(f, '2026-12-01T21:56:47.6').devices[0]!.disk).toBe('Outdated');
    const syncing = at(f, '2026-12-01T21:56:50');
    expect(syncing).toMatchObject({ role: 'Secondary' });
    expect(syncing.devices[0]!.disk).toBe('Inconsistent');
    expect(promotionScore(syncing, T)).toMatchObject({ kind: 'set', score: 10 });
    expect(parseEvents2(sample(f), { stream: true }).get('r0')!.devices[0]!.disk).toBe('UpToDate');
  });

  it('split brain on node1, the surviving side', () => {
    const f = 'events2-stream-split-brain-resolve-resync-node1.txt';
    expect(replicationProblem(at(f, '2026-12-01T21:56:40'))).toMatch(/StandAlone/);
    const end = parseEvents2(sample(f), { stream: true }).get('r0')!;
    expect(end).toMatchObject({ role: 'Primary' });
    expect(end.connections[0]!.peerDevices[0]).toMatchObject({ peerDisk: 'UpToDate' });
  });
});

describe('DRBD 9.2.19: /proc/drbd and drbdadm --version', () => {
  it('/proc/drbd carries only the banner: the version says which reader to use', () => {
    for (const f of ['s01-secondary-connected-node1-proc-drbd.txt', 's01-secondary-connected-node2-proc-drbd.txt', 's03-sync-node1-proc-drbd-midsync.txt']) {
      const p = parseProcDrbd(sample(f));
      expect(p.version).toBe('9.2.19');
      expect(p.minors.size).toBe(0);
      expect(generation(p.version)).toBe(9);
    }
    expect(generation('8.4.11')).toBe(8);
  });

  it('drbdadm --version names the 9 module in both forms', () => {
    const v = parseDrbdadmVersion(sample('s01-secondary-connected-node1-drbdadm-version.txt'));
    expect(v).toMatchObject({ DRBD_KERNEL_VERSION: '9.2.19', DRBD_KERNEL_VERSION_CODE: '0x090213', DRBDADM_VERSION: '9.22.0' });
  });
});

describe('the monitor code of a Primary whose I/O is suspended', () => {
  const primary = parseEvents2(sample('s11b-quorum-lost-suspend-io-node1-events2-now.txt')).get('r0')!;
  const suspendedFor = (why: string): DrbdResource => ({ ...primary, suspended: why !== 'no', ...(why !== 'no' ? { suspension: why } : {}) });

  it("suspended by DRBD while it protects the data (quorum lost, fencing pending): or by hand: still promoted (8); without data: failed (9)", () => {
    // Captured: quorum lost with on-no-quorum suspend-io.
    expect(monitorCode(primary)).toBe(OCF.RUNNING_PROMOTED);
    expect(replicationProblem(primary)).toMatch(/^I\/O on r0 is suspended: quorum is lost/);
    // The other causes in drbdsetup's words (susp_str: "user", "no-data", "fencing", "quorum", joined with ",").
    expect(monitorCode(suspendedFor('fencing'))).toBe(OCF.RUNNING_PROMOTED);
    expect(monitorCode(suspendedFor('fencing,quorum'))).toBe(OCF.RUNNING_PROMOTED);
    expect(monitorCode(suspendedFor('user'))).toBe(OCF.RUNNING_PROMOTED);
    expect(monitorCode(suspendedFor('no-data'))).toBe(OCF.FAILED_PROMOTED);
    expect(monitorCode(suspendedFor('user,fencing'))).toBe(OCF.RUNNING_PROMOTED);
    expect(monitorCode(suspendedFor('user,no-data'))).toBe(OCF.FAILED_PROMOTED);
    expect(replicationProblem(suspendedFor('user'))).toMatch(/^I\/O on r0 is suspended: drbdadm suspend-io was run; drbdadm resume-io ends it/);
    expect(monitorCode(suspendedFor('no'))).toBe(OCF.RUNNING_PROMOTED);
    // A Secondary serves no writes: running, the reason says it.
    expect(monitorCode({ ...suspendedFor('user'), role: 'Secondary' })).toBe(OCF.SUCCESS);
  });

  it('events2 names the causes as drbdsetup prints them, the monitor code follows', () => {
    const r = parseEvents2('exists resource name:r0 role:Primary suspended:user,fencing\nexists -\n').get('r0')!;
    expect(r).toMatchObject({ suspended: true, suspension: 'user,fencing' });
    expect(monitorCode(r)).toBe(OCF.RUNNING_PROMOTED);
  });

  it("8.4's /proc/drbd says only that I/O is suspended: taken as DRBD's own suspension (8)", () => {
    const text = `${readFileSync(join(__dirname, '..', 'samples', 'drbd', 'lab-84-connected-primary.txt'), 'utf8')}`;
    const suspended = resourceFrom84('r0', parseProcDrbd(text.replace(/( [ABC] )r/, '$1s')), [0]);
    expect(suspended).toMatchObject({ role: 'Primary', suspended: true });
    expect(suspended.suspension).toBeUndefined();
    expect(monitorCode(suspended)).toBe(OCF.RUNNING_PROMOTED);
  });
});
