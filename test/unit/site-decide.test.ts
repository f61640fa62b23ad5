import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, decideAcquire, decideRejoin, decideRelease, decideTakeover, released } from '../../commands/site/decide';
import { type ServiceState, linkToOtherSite, parseTicketStates, stackPlacement } from '../../commands/site/state';
import { renderText, renderXml, view } from '../../commands/site/status';
import { parseDeployment, stackOf } from '../../commands/stack/model';
import { parseCrmMon } from '../../commands/stack/simulate';
import { type DrbdResource, parseEvents2, parseProcDrbd, resourceFrom84 } from '../../lib/drbd';
import { type PeerRecord, nextPeerRecord } from '../../lib/drbd-peer';
import { parseXml } from '../../lib/xml';

const d9 = (f: string): DrbdResource => parseEvents2(readFileSync(join(__dirname, '..', 'samples', 'drbd9', f), 'utf8')).get('r0')!;
const d84 = (f: string): DrbdResource => resourceFrom84('r0', parseProcDrbd(readFileSync(join(__dirname, '..', 'samples', 'drbd', f), 'utf8')), [0]);
const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 21, 0, s));

// node2 is site b, node1 site a: the DRBD 9 samples' connection names are the node names.
const stack = stackOf(
  parseDeployment({
    sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } },
    services: [{ name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/srv/nfs', fstype: 'xfs', ip: '192.0.2.10/24', clients: ['192.0.2.0/24'] }],
  }),
  'b',
);
const svc = stack.services[0]!;

function state(drbd: DrbdResource, o: { granted?: boolean; record?: PeerRecord; running?: boolean } = {}): ServiceState {
  const link = linkToOtherSite(drbd, ['node1']);
  const rec = o.record && link ? o.record.peers[link.peer] : o.record ? Object.values(o.record.peers)[0] : undefined;
  return {
    service: svc,
    site: 'b',
    ticket: { granted: !!o.granted, standby: false },
    drbd,
    ...(link ? { link } : {}),
    ...(rec ? { record: rec } : {}),
    ...(o.running ? { promotedOn: 'node2' } : {}),
    stackRunning: !!o.running,
    stackParts: [],
  };
}

/** The record node2's monitors would have left: a sequence of observed states. */
function recorded(...seen: DrbdResource[]): PeerRecord {
  let rec: PeerRecord | undefined;
  seen.forEach((r, i) => {
    rec = nextPeerRecord(rec, r, t(i * 10)) ?? rec;
  });
  return rec!;
}

describe('site takeover decisions (DRBD 9 samples)', () => {
  it('refuses while the peer is connected: use handover', () => {
    const d = decideTakeover(state(d9('s02-primary-connected-node2-events2-now.txt')), false);
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.WRONG_STEP });
    expect(d.say).toContain('is connected (Primary)');
    expect(d.say).toContain('ocfkit site handover nfs --to b');
  });

  it('refuses when the data here is not UpToDate (Outdated, Inconsistent mid-resync)', () => {
    const outdated = decideTakeover(state(d9('s08-outdated-disconnected-node2-events2-now.txt')), true);
    expect(outdated).toMatchObject({ kind: 'refuse', code: EXIT.NOT_UPTODATE });
    expect(outdated.say).toContain('data here is Outdated, not UpToDate');
    // A resync cut in the middle (the link down after s03): node2 Inconsistent; even --accept-data-loss does not override.
    const cut: DrbdResource = { ...d9('s03-sync-node2-events2-now.txt'), connections: d9('s05-link-down-primary-node2-events2-now.txt').connections };
    expect(decideTakeover(state(cut), true)).toMatchObject({ kind: 'refuse', code: EXIT.NOT_UPTODATE });
  });

  it('the peer was Primary when the link went: refused with the time, unless --accept-data-loss', () => {
    const rec = recorded(d9('s02-primary-connected-node2-events2-now.txt'), d9('s05b-link-down-primary-after-write-node2-events2-now.txt'));
    const down = state(d9('s05b-link-down-primary-after-write-node2-events2-now.txt'), { record: rec });
    const d = decideTakeover(down, false);
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.DATA_LOSS });
    expect(d.say).toContain(`was Primary when the link went away, between ${t(0).toISOString()} and ${t(10).toISOString()}`);
    expect(d.say).toContain('--accept-data-loss');
    const forced = decideTakeover(down, true);
    expect(forced.kind).toBe('act');
    expect(forced.kind === 'act' && forced.warnings[0]).toContain('--accept-data-loss given');
  });

  it('the peer recorded Secondary by the monitors only (no kernel log line): refused unless --accept-data-loss, naming what a promotion after the record loses', () => {
    const rec = recorded(d9('s02-primary-connected-node2-events2-now.txt'), d9('s01-secondary-connected-node2-events2-now.txt'), d9('s05-link-down-primary-node2-events2-now.txt'));
    const down = state(d9('s05-link-down-primary-node2-events2-now.txt'), { record: rec });
    const d = decideTakeover(down, false);
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.DATA_LOSS });
    expect(d.say).toBe(
      `nfs: the other site (node1) was Secondary as drbd-promote's monitor here last recorded it while connected, and the link went between ${t(10).toISOString()} and ${t(20).toISOString()}; DRBD's kernel log here does not say its role at that moment (the node rebooted since, or the log moved on). Had it been promoted after that record, what it acknowledged from then on is not here. If the other site is really gone, pass --accept-data-loss to serve this copy`,
    );
    const forced = decideTakeover(down, true);
    expect(forced.kind).toBe('act');
    expect(forced.kind === 'act' && forced.warnings[0]).toMatch(/was Secondary as drbd-promote's monitor here last recorded it .*; --accept-data-loss given$/);
  });

  it("DRBD's kernel log decides over the record: a peer promoted after the last monitor (recorded Secondary) is refused, with the moment DRBD logged", () => {
    const rec = recorded(d9('s01-secondary-connected-node2-events2-now.txt'), d9('s05-link-down-primary-node2-events2-now.txt'));
    const down = { ...state(d9('s05-link-down-primary-node2-events2-now.txt'), { record: rec }), linkLoss: { at: '2026-12-01T22:07:42Z', peerRole: 'Primary', to: 'NetworkFailure' } };
    expect(decideTakeover({ ...down, linkLoss: undefined }, false)).toMatchObject({ kind: 'refuse', code: EXIT.DATA_LOSS });
    const d = decideTakeover(down, false);
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.DATA_LOSS });
    expect(d.say).toContain("was Primary when the link went away, at 2026-12-01T22:07:42Z (DRBD's kernel log here: NetworkFailure): what it acknowledged after that moment is not here. That is nothing if the site itself went down then (with DRBD protocol C; with A or B also the writes still in flight); if only the link went and the site served on, it is every write since");
    expect(d.say).toContain('run `ocfkit site rejoin nfs` there: if it wrote after the link went, DRBD refuses to reconnect');
    // Secondary when the link went, by the log, though the record says Primary: granted, with the moment.
    const rec2 = recorded(d9('s02-primary-connected-node2-events2-now.txt'), d9('s05-link-down-primary-node2-events2-now.txt'));
    const ok = decideTakeover({ ...state(d9('s05-link-down-primary-node2-events2-now.txt'), { record: rec2 }), linkLoss: { at: '2026-12-01T22:07:42Z', peerRole: 'Secondary', to: 'Timeout' } }, false);
    expect(ok.kind).toBe('act');
    expect(ok.kind === 'act' && ok.warnings[0]).toMatch(/^nfs: the other site was Secondary when the link went away, at 2026-12-01T22:07:42Z \(DRBD's kernel log here: Timeout\); had its cluster still held ticket-nfs, it could have been promoted since/);
    // The log line without the role (Unknown) is no evidence: the record decides, and without one it is refused.
    const unknown = { at: '2026-12-01T22:07:42Z', peerRole: 'Unknown', to: 'NetworkFailure' };
    const rec3 = recorded(d9('s02-primary-connected-node2-events2-now.txt'), d9('s05-link-down-primary-node2-events2-now.txt'));
    expect(decideTakeover({ ...state(d9('s05-link-down-primary-node2-events2-now.txt'), { record: rec3 }), linkLoss: unknown }, false)).toMatchObject({ kind: 'refuse', code: EXIT.DATA_LOSS });
    expect(decideTakeover({ ...state(d9('s05-link-down-primary-node2-events2-now.txt')), linkLoss: unknown }, false).say).toContain('no record of the peer ever being connected');
    // No record at all, but DRBD logged the loss: that is evidence enough.
    expect(decideTakeover({ ...state(d9('s05-link-down-primary-node2-events2-now.txt')), linkLoss: { at: '2026-12-01T22:07:42Z', peerRole: 'Secondary', to: 'Timeout' } }, false).kind).toBe('act');
  });

  it('no record of the peer at all: refused unless --accept-data-loss', () => {
    const d = decideTakeover(state(d9('s05-link-down-primary-node2-events2-now.txt')), false);
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.DATA_LOSS });
    expect(d.say).toContain('no record of the peer ever being connected');
  });

  it('idempotent: ticket granted, Primary, stack running → done', () => {
    const primary = { ...d9('s05-link-down-primary-node2-events2-now.txt'), role: 'Primary' };
    expect(decideTakeover(state(primary, { granted: true, running: true }), false).kind).toBe('done');
  });
});

describe('site takeover decisions (DRBD 8.4 /proc/drbd from the lab)', () => {
  it('Outdated and alone: refused as not UpToDate', () => {
    expect(decideTakeover(state(d84('lab-84-outdated-alone.txt')), true)).toMatchObject({ kind: 'refuse', code: EXIT.NOT_UPTODATE });
  });
  it('connected Secondary: refused, use handover', () => {
    expect(decideTakeover(state(d84('lab-84-connected-secondary.txt')), false)).toMatchObject({ kind: 'refuse', code: EXIT.WRONG_STEP });
  });
  it('the peer connected Primary, then gone: refused as possible data loss', () => {
    const connectedToPrimary = { ...d84('lab-84-connected-secondary.txt') };
    const c0 = connectedToPrimary.connections[0]!;
    const withPrimary: DrbdResource = { ...connectedToPrimary, connections: [{ ...c0, peerRole: 'Primary' }] };
    const alone: DrbdResource = { ...d84('lab-84-standalone-primary.txt'), role: 'Secondary' };
    const rec = recorded(withPrimary, alone);
    expect(decideTakeover(state(alone, { record: rec }), false)).toMatchObject({ kind: 'refuse', code: EXIT.DATA_LOSS });
  });
});

describe('site handover decisions', () => {
  it('release at the serving site: needs the peer connected and UpToDate', () => {
    expect(decideRelease(state(d9('s05-link-down-primary-node2-events2-now.txt'), { granted: true }), 'a')).toMatchObject({ kind: 'refuse', code: EXIT.WRONG_STEP });
    // node1 mid-sync as the SyncSource: its peer (node2) is Inconsistent.
    const syncing = { ...d9('s03-sync-node1-events2-now-statistics.txt') };
    const onA = { ...state(syncing, { granted: true }), link: syncing.connections[0]! };
    const d = decideRelease(onA, 'b');
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.NOT_UPTODATE });
    expect(d.say).toMatch(/peer's disk is Inconsistent \(\d+ KiB out of sync\)/);
    const steady = d9('s02-primary-connected-node1-events2-now.txt');
    expect(decideRelease({ ...state(steady, { granted: true, running: true }), link: steady.connections[0]! }, 'b').kind).toBe('act');
  });

  it('released means Secondary, connected, both UpToDate, stack stopped', () => {
    const s01 = d9('s01-secondary-connected-node1-events2-now.txt');
    expect(released({ ...state(s01), link: s01.connections[0]! })).toBe(true);
    const s02 = d9('s02-primary-connected-node1-events2-now.txt');
    expect(released({ ...state(s02), link: s02.connections[0]! })).toBe(false);
  });

  it('acquire at the receiving site: refused while the other is Primary, granted once it is Secondary', () => {
    const d = decideAcquire(state(d9('s02-primary-connected-node2-events2-now.txt')));
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.WRONG_STEP });
    expect(d.say).toContain('still Primary: run `ocfkit site handover nfs --to b` there first');
    // Manual mode: the peer Secondary and in sync is no proof the other site revoked its ticket.
    const blind = decideAcquire(state(d9('s01-secondary-connected-node2-events2-now.txt')));
    expect(blind).toMatchObject({ kind: 'refuse', code: EXIT.WRONG_STEP });
    expect(blind.say).toContain('this site cannot see whether the other site released ticket ticket-nfs: its DRBD being Secondary is no proof');
    expect(blind.say).toContain('with --other-site-released');
    expect(decideAcquire(state(d9('s01-secondary-connected-node2-events2-now.txt')), true).kind).toBe('act');
    expect(decideAcquire(state(d9('s01-secondary-connected-node2-events2-now.txt')), false, true).kind).toBe('act');
    expect(decideAcquire(state(d9('s05-link-down-primary-node2-events2-now.txt')))).toMatchObject({ kind: 'refuse', code: EXIT.WRONG_STEP });
  });
});

describe('site rejoin decisions', () => {
  it('never with the ticket held here, never Primary', () => {
    expect(decideRejoin(state(d9('s01-secondary-connected-node2-events2-now.txt'), { granted: true }), false, false)).toMatchObject({ kind: 'refuse', code: EXIT.WRONG_STEP });
    expect(decideRejoin(state(d9('s07-split-brain-standalone-node2-events2-now.txt')), false, false)).toMatchObject({ kind: 'refuse', code: EXIT.WRONG_STEP });
  });

  it('resyncing as the target: wait, with the amount to go; in sync: done', () => {
    const d = decideRejoin(state(d9('s03-sync-node2-events2-now-statistics.txt')), false, false);
    expect(d.kind).toBe('wait');
    expect(d.say).toMatch(/SyncTarget, disk here Inconsistent, 58904 KiB to go/);
    expect(decideRejoin(state(d9('s01-secondary-connected-node2-events2-now.txt')), false, false).kind).toBe('done');
  });

  it('StandAlone: connect first; StandAlone again after it: split brain, reported, resolved only with --discard-local', () => {
    const sb: DrbdResource = { ...d9('s07-split-brain-standalone-node1-events2-now-statistics.txt'), role: 'Secondary' };
    const onA = { ...state(sb), link: sb.connections[0]! };
    expect(decideRejoin(onA, false, false).kind).toBe('connect');
    const refused = decideRejoin(onA, false, true);
    expect(refused).toMatchObject({ kind: 'refuse', code: EXIT.SPLIT_BRAIN });
    expect(refused.say).toContain('this site has 16384 KiB marked out of sync');
    expect(refused.say).toContain('ocfkit site rejoin nfs --discard-local');
    // The link cut without a reboot here: DRBD's kernel log has the moment, said over the record's window.
    const logged = decideRejoin({ ...onA, linkLoss: { at: '2026-12-01T22:07:42Z', peerRole: 'Secondary', to: 'NetworkFailure' } }, false, true);
    expect(logged.say).toContain("; the link went at 2026-12-01T22:07:42Z (DRBD's kernel log here: NetworkFailure), the other site Secondary then");
    expect(decideRejoin(onA, true, true).kind).toBe('discard');
  });

  it('8.4: StandAlone after a split brain (lab capture), demoted', () => {
    const sb: DrbdResource = { ...d84('lab-84-standalone-primary.txt'), role: 'Secondary' };
    const d = decideRejoin(state(sb), false, true);
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.SPLIT_BRAIN });
    expect(d.say).toContain('4096 KiB marked out of sync');
  });
});

describe('site state from Pacemaker XML', () => {
  it('ticket states from the CIB status section', () => {
    const xml = '<status><node_state id="1"/><tickets><ticket_state id="ticket-nfs" granted="true" last-granted="1764622800"/><ticket_state id="ticket-etcd" granted="false" standby="true"/></tickets></status>';
    const t = parseTicketStates(xml);
    expect(t.get('ticket-nfs')).toEqual({ granted: true, standby: false, lastGranted: 1764622800 });
    expect(t.get('ticket-etcd')).toEqual({ granted: false, standby: true });
  });

  it('the stack runs when every part is started where DRBD is promoted', () => {
    const mon = `<pacemaker-result><resources><clone id="nfs-drbd-clone"><resource id="nfs-drbd" role="Promoted"><node name="node2"/></resource></clone>
      <resource id="nfs-fs" role="Started"><node name="node2"/></resource><resource id="nfs-export" role="Started"><node name="node2"/></resource>
      <resource id="nfs-ip" role="Stopped"/></resources></pacemaker-result>`;
    parseXml(mon);
    const p = stackPlacement(svc, parseCrmMon(mon));
    expect(p.promotedOn).toBe('node2');
    expect(p.stackRunning).toBe(false);
    expect(p.parts.find((x) => x.resource === 'nfs-ip')!.on).toEqual([]);
  });
});

describe('site status rendering', () => {
  it('text, XML and JSON views of a lost link with the peer Primary at the loss', () => {
    const rec = recorded(d9('s02-primary-connected-node2-events2-now.txt'), d9('s05b-link-down-primary-after-write-node2-events2-now-statistics.txt'));
    const v = view(state(d9('s05b-link-down-primary-after-write-node2-events2-now-statistics.txt'), { record: rec }));
    expect(v).toMatchObject({ service: 'nfs', site: 'b', ticketGrantedHere: false, role: 'Secondary', disk: 'UpToDate', connection: 'Connecting', peerRole: 'Primary', outOfSyncKiB: 0, peerLastSeenConnected: t(0).toISOString() });
    const text = renderText([v]);
    expect(text).toContain('nfs at site b: ticket ticket-nfs not granted here');
    expect(text).toContain('peer:  last seen Primary, disk UpToDate; last recorded connected');
    expect(text).toContain(`lost:  the link went between ${t(0).toISOString()} and ${t(10).toISOString()}; the peer was Primary, this node Secondary`);
    const xml = parseXml(renderXml([v]));
    expect(xml.children[0]!.attrs).toMatchObject({ service: 'nfs', 'ticket-granted-here': 'false', 'peer-role': 'Primary', 'out-of-sync-kib': '0' });
    expect(xml.children[0]!.children[0]!.attrs['peer-role']).toBe('Primary');
  });

  it("suspended I/O, and the moment DRBD's kernel log gives for the loss (over the record's window)", () => {
    const suspended = d9('s11b-quorum-lost-suspend-io-node2-events2-now.txt');
    const v = view({ ...state(suspended), linkLoss: { at: '2026-12-01T22:07:42Z', peerRole: 'Primary', to: 'NetworkFailure' } });
    expect(v).toMatchObject({ ioSuspended: 'quorum', linkWentAt: '2026-12-01T22:07:42Z', peerRoleWhenLinkWent: 'Primary', linkWentTo: 'NetworkFailure', peerRole: 'Primary' });
    const text = renderText([v]);
    expect(text).toContain('I/O:   SUSPENDED (quorum): writes to the device wait until DRBD resumes it');
    expect(text).toContain("lost:  the link went at 2026-12-01T22:07:42Z (DRBD's kernel log: NetworkFailure); the peer was Primary");
    expect(parseXml(renderXml([v])).children[0]!.attrs).toMatchObject({ 'io-suspended': 'quorum', 'link-went-at': '2026-12-01T22:07:42Z' });
    expect(view(state(d9('s05-link-down-primary-node2-events2-now.txt'))).ioSuspended).toBeUndefined();
  });
});
