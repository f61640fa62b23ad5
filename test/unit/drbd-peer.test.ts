import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DrbdResource, parseEvents2, parseProcDrbd, resourceFrom84 } from '../../lib/drbd';
import { lossesNoticedAt, nextPeerRecord, peerRecordNow, peerRecordPath, readPeerRecord, withLinkWent, writePeerRecord } from '../../lib/drbd-peer';

const d9 = (f: string): DrbdResource => parseEvents2(readFileSync(join(__dirname, '..', 'samples', 'drbd9', f), 'utf8')).get('r0')!;
const d84 = (f: string): DrbdResource => resourceFrom84('r0', parseProcDrbd(readFileSync(join(__dirname, '..', 'samples', 'drbd', f), 'utf8')), [0]);
const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 21, 0, s));

describe('the peer as last seen (DRBD 9 samples, node2 the Secondary)', () => {
  it('records the connected Primary peer once, then nothing while nothing changes', () => {
    const first = nextPeerRecord(undefined, d9('s02-primary-connected-node2-events2-now-statistics.txt'), t(0))!;
    expect(first.peers.node1).toEqual({ connection: 'Connected', peerRole: 'Primary', peerDisk: 'UpToDate', localRole: 'Secondary', since: t(0).toISOString(), lastConnected: t(0).toISOString() });
    expect(nextPeerRecord(first, d9('s02-primary-connected-node2-events2-now.txt'), t(10))).toBeUndefined();
  });

  it('the link lost while the peer was Primary: the role at that moment and the window it went in', () => {
    const connected = nextPeerRecord(undefined, d9('s02-primary-connected-node2-events2-now.txt'), t(0))!;
    const down = nextPeerRecord(connected, d9('s05b-link-down-primary-after-write-node2-events2-now-statistics.txt'), t(20))!;
    expect(down.peers.node1).toMatchObject({ connection: 'Connecting', peerRole: 'Unknown', peerDisk: 'DUnknown', since: t(20).toISOString(), lastConnected: t(0).toISOString() });
    expect(down.peers.node1!.lost).toEqual({ lastRecordedConnected: t(0).toISOString(), noticedDown: t(20).toISOString(), peerRole: 'Primary', peerDisk: 'UpToDate', localRole: 'Secondary' });
    expect(nextPeerRecord(down, d9('s05b-link-down-primary-after-write-node2-events2-now.txt'), t(40))).toBeUndefined();
    // Promoted here later (a takeover): written, and what was known at the loss is kept.
    const promoted = { ...d9('s05b-link-down-primary-after-write-node2-events2-now.txt'), role: 'Primary' };
    const after = nextPeerRecord(down, promoted, t(60))!;
    expect(after.peers.node1!.lost).toEqual(down.peers.node1!.lost);
    expect(after.peers.node1!.since).toBe(t(20).toISOString());
    // Reconnected: the loss is over.
    const back = nextPeerRecord(after, d9('s01-secondary-connected-node2-events2-now.txt'), t(80))!;
    expect(back.peers.node1!.lost).toBeUndefined();
    expect(back.peers.node1!.connection).toBe('Connected');
  });

  it('the monitor that notices the loss notes the moment from the kernel log; it stays through later changes and goes with the loss', () => {
    const connected = nextPeerRecord(undefined, d9('s02-primary-connected-node2-events2-now.txt'), t(0))!;
    expect(lossesNoticedAt(connected, t(0))).toEqual([]);
    const down = nextPeerRecord(connected, d9('s05b-link-down-primary-after-write-node2-events2-now-statistics.txt'), t(20))!;
    expect(lossesNoticedAt(down, t(20))).toEqual(['node1']);
    const went = { at: '2026-12-01T21:00:13Z', peerRole: 'Primary', to: 'NetworkFailure' };
    const noted = withLinkWent(down, 'node1', went);
    expect(noted.peers.node1!.lost).toMatchObject({ noticedDown: t(20).toISOString(), went });
    expect(lossesNoticedAt(noted, t(20))).toEqual([]);
    // Not a loss noticed now: a later record changes nothing of it.
    expect(lossesNoticedAt(down, t(21))).toEqual([]);
    expect(withLinkWent(connected, 'node1', went)).toBe(connected);
    const promoted = nextPeerRecord(noted, { ...d9('s05b-link-down-primary-after-write-node2-events2-now.txt'), role: 'Primary' }, t(60))!;
    expect(promoted.peers.node1!.lost!.went).toEqual(went);
    expect(nextPeerRecord(promoted, d9('s01-secondary-connected-node2-events2-now.txt'), t(80))!.peers.node1!.lost).toBeUndefined();
  });

  it('a peer that demoted before the link went is recorded as Secondary at the loss', () => {
    const a = nextPeerRecord(undefined, d9('s02-primary-connected-node2-events2-now.txt'), t(0))!;
    const b = nextPeerRecord(a, d9('s01-secondary-connected-node2-events2-now.txt'), t(5))!;
    const c = nextPeerRecord(b, d9('s05-link-down-primary-node2-events2-now.txt'), t(9))!;
    expect(c.peers.node1!.lost).toMatchObject({ peerRole: 'Secondary', lastRecordedConnected: t(5).toISOString() });
  });
});

describe('the record as it stands now (what `ocfkit site` reads)', () => {
  it('folds in a loss no monitor has recorded yet: the peer was Primary when the link went', () => {
    const stored = nextPeerRecord(undefined, d9('s02-primary-connected-node2-events2-now.txt'), t(0))!;
    const now = peerRecordNow(stored, d9('s05b-link-down-primary-after-write-node2-events2-now.txt'), t(3))!;
    expect(now.peers.node1!.lost).toEqual({ lastRecordedConnected: t(0).toISOString(), noticedDown: t(3).toISOString(), peerRole: 'Primary', peerDisk: 'UpToDate', localRole: 'Secondary' });
  });

  it('keeps the stored record when nothing changed, when DRBD is down here, or when it is not loaded', () => {
    const stored = nextPeerRecord(undefined, d9('s02-primary-connected-node2-events2-now.txt'), t(0))!;
    expect(peerRecordNow(stored, d9('s02-primary-connected-node2-events2-now.txt'), t(9))).toBe(stored);
    expect(peerRecordNow(stored, { name: 'r0', role: 'Unconfigured', suspended: false, devices: [], connections: [] }, t(9))).toBe(stored);
    expect(peerRecordNow(stored, undefined, t(9))).toBe(stored);
    expect(peerRecordNow(undefined, undefined, t(9))).toBeUndefined();
  });
});

describe('the peer as last seen (DRBD 8.4 /proc/drbd from the lab)', () => {
  it('connected, then alone and Outdated', () => {
    const a = nextPeerRecord(undefined, d84('lab-84-connected-secondary.txt'), t(0))!;
    expect(a.peers.peer).toMatchObject({ connection: 'Connected', peerRole: 'Secondary', peerDisk: 'UpToDate' });
    const b = nextPeerRecord(a, d84('lab-84-outdated-alone.txt'), t(30))!;
    expect(b.peers.peer).toMatchObject({ connection: 'Connecting', lost: { peerRole: 'Secondary', noticedDown: t(30).toISOString() } });
  });
});

describe('the record file', () => {
  it('is written atomically (no temporary left) and read back; a torn file reads as none', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ocfkit-peer-')), 'sub');
    const rec = nextPeerRecord(undefined, d9('s02-primary-connected-node2-events2-now.txt'), t(0))!;
    writePeerRecord(dir, rec);
    expect(readdirSync(dir)).toEqual(['r0.peer.json']);
    expect(readPeerRecord(dir, 'r0')).toEqual(rec);
    require('node:fs').writeFileSync(peerRecordPath(dir, 'r0'), '{"resource": "r0", "pe');
    expect(readPeerRecord(dir, 'r0')).toBeUndefined();
    expect(readPeerRecord(dir, 'nothing')).toBeUndefined();
  });
});
