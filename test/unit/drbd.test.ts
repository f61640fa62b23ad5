import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCORE_REFRESH_MS, type ScoreTable, parseScores, promotionScore, replicationProblem, scoreWriteNeeded } from '../../agents/drbd-promote';
import { RESOURCE_NAME, compareVersions, parseDrbdadmVersion, parseEvents2, parseProcDrbd, parseStatusJson, resourceFrom84 } from '../../lib/drbd';

import { SCORE_CASES, res } from '../fixtures/drbd-states';

const sample = (f: string) => readFileSync(join(__dirname, '..', 'samples', 'drbd', f), 'utf8');

describe('DRBD 9 events2', () => {
  it('reads resource, device, connection and peer-device lines up to "exists -"', () => {
    const r = parseEvents2(sample('events2-reactor.txt')).get('foo')!;
    expect(r.role).toBe('Primary');
    expect(r.suspended).toBe(true);
    expect(r.devices).toEqual([{ volume: 1, minor: 1, disk: 'Attaching', client: false, quorum: true }]);
    expect(r.connections).toEqual([
      { peer: 'bar', connection: 'Connected', peerRole: 'Primary', peerDevices: [{ volume: 1, replication: 'Established', peerDisk: 'UpToDate', peerClient: true, outOfSyncKiB: 1 }] },
    ]);
  });

  it('multi-volume two-node resource; values with colons (backing_dev, path addresses)', () => {
    const r = parseEvents2(sample('events2-two-node.txt')).get('r0')!;
    expect(r.devices.map((d) => [d.volume, d.minor, d.disk])).toEqual([
      [0, 0, 'UpToDate'],
      [1, 1, 'UpToDate'],
    ]);
    expect(r.connections[0]!.peerDevices).toHaveLength(2);
  });

  it('applies change and destroy lines and --diff values (old->new)', () => {
    const text = [
      'exists resource name:r1 role:Secondary suspended:no',
      'exists device name:r1 volume:0 minor:3 disk:Inconsistent client:no quorum:yes',
      'change device name:r1 volume:0 disk:Inconsistent->UpToDate',
      '2026-11-22T04:00:00.000000+00:00 change resource name:r1 role:Secondary->Primary',
      'exists resource name:gone role:Secondary',
      'destroy resource name:gone',
      'exists -',
      'exists resource name:after-the-end role:Primary',
    ].join('\n');
    const all = parseEvents2(text);
    expect([...all.keys()]).toEqual(['r1']);
    expect(all.get('r1')!.role).toBe('Primary');
    expect(all.get('r1')!.devices[0]).toMatchObject({ minor: 3, disk: 'UpToDate' });
  });

  it('resource names with every character DRBD allows', () => {
    const name = 'a-b%c+d.e/f0:g=h@I_j';
    expect(RESOURCE_NAME.test(name)).toBe(true);
    expect(RESOURCE_NAME.test('r0;reboot')).toBe(false);
    expect(RESOURCE_NAME.test('r 0')).toBe(false);
    expect(parseEvents2(`exists resource name:${name} role:Secondary\nexists -\n`).get(name)?.role).toBe('Secondary');
  });
});

describe('DRBD 9 status --json', () => {
  it('maps the JSON keys (peer_devices with an underscore)', () => {
    const r = parseStatusJson(sample('status.json')).get('1-single-0')!;
    expect(r.role).toBe('Secondary');
    expect(r.devices).toEqual([{ volume: 0, minor: 2, disk: 'UpToDate', client: false, quorum: true }]);
    expect(r.connections[0]).toMatchObject({ peer: 'SLE15-sp1-gm-drbd1145296-node1', connection: 'Connected', peerRole: 'Primary' });
    expect(r.connections[0]!.peerDevices[0]).toEqual({ volume: 0, replication: 'Established', peerDisk: 'UpToDate', peerClient: false, outOfSyncKiB: 0 });
  });
});

describe('DRBD 8.4 /proc/drbd', () => {
  it('reads the version and each minor, including unconfigured ones and gaps', () => {
    const p = parseProcDrbd(sample('proc-drbd-syncing.txt'));
    expect(p.version).toBe('8.4.11');
    expect(p.minors.get(0)).toEqual({ minor: 0, cs: 'SyncSource', role: 'Primary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'Inconsistent', oosKiB: 1024 });
    expect(p.minors.get(2)?.cs).toBe('Unconfigured');
    expect(p.minors.get(3)).toMatchObject({ cs: 'StandAlone', peerRole: 'Unknown', peerDisk: 'DUnknown' });
    expect(parseProcDrbd(sample('proc-drbd-83.txt')).minors.get(0)?.cs).toBe('Connected');
  });

  it('folds cs into connection + replication, as DRBD 9 reports them', () => {
    const p = parseProcDrbd(sample('proc-drbd-syncing.txt'));
    const syncing = resourceFrom84('r0', p, [0]);
    expect(syncing.role).toBe('Primary');
    expect(syncing.connections[0]).toMatchObject({ connection: 'Connected', peerRole: 'Secondary' });
    expect(syncing.connections[0]!.peerDevices[0]).toMatchObject({ replication: 'SyncSource', peerDisk: 'Inconsistent' });
    expect(resourceFrom84('r2', p, [2]).role).toBe('Unconfigured');
    expect(resourceFrom84('gap', p, [9]).role).toBe('Unconfigured');
    const alone = resourceFrom84('r3', p, [3]);
    expect(alone.connections[0]).toMatchObject({ connection: 'StandAlone', peerRole: 'Unknown' });
    expect(replicationProblem(alone)).toContain('StandAlone');
  });

  it('drbdadm --version and version comparison', () => {
    const v = parseDrbdadmVersion(sample('drbdadm-version.txt'));
    expect(v.DRBD_KERNEL_VERSION).toBe('9.1.4');
    expect(v.DRBDADM_BUILDTAG).toBe('GIT-hash: 9f2aa37c build by root@host, 2021-11-14 18:45:36');
    expect(compareVersions('8.4.11', '9.0.0')).toBeLessThan(0);
    expect(compareVersions('10.0.0', '9.99.99')).toBeGreaterThan(0);
    expect(compareVersions('8.4.11', '8.4.11')).toBe(0);
  });
});

describe('DRBD 8.4 captured in the lab (Debian 6.1 kernel, drbd-utils 9.22)', () => {
  const lab = (state: string) => {
    const p = parseProcDrbd(sample(`lab-84-${state}.txt`));
    expect(p.version).toBe('8.4.11');
    return p;
  };
  const r0 = (state: string) => resourceFrom84('r0', lab(state), [0]);

  it('reads every state the lab tests pass through', () => {
    expect(lab('sync-start').minors.get(0)).toEqual({ minor: 0, cs: 'WFBitMapS', role: 'Primary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'Inconsistent', oosKiB: 262100 });
    expect(lab('connected-secondary').minors.get(0)).toEqual({ minor: 0, cs: 'Connected', role: 'Secondary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'UpToDate', oosKiB: 0 });
    expect(lab('connected-primary').minors.get(0)).toMatchObject({ cs: 'Connected', role: 'Primary', peerRole: 'Secondary' });
    expect(lab('outdated-alone').minors.get(0)).toMatchObject({ cs: 'WFConnection', role: 'Secondary', peerRole: 'Unknown', disk: 'Outdated', peerDisk: 'DUnknown' });
    // StandAlone has no protocol letter: two blanks before the flags.
    expect(lab('standalone-primary').minors.get(0)).toMatchObject({ cs: 'StandAlone', role: 'Primary', disk: 'UpToDate', peerDisk: 'DUnknown' });
    expect(lab('down').minors.size).toBe(0);
  });

  it('maps them to resource states, scores and problems', () => {
    expect(r0('down').role).toBe('Unconfigured');
    expect(promotionScore(r0('down'), T)).toMatchObject({ kind: 'remove' });
    expect(promotionScore(r0('connected-secondary'), T)).toMatchObject({ kind: 'set', score: 10000 });
    expect(replicationProblem(r0('connected-secondary'))).toBeUndefined();
    expect(promotionScore(r0('connected-primary'), T)).toMatchObject({ kind: 'set', score: 10000 });
    // Bitmap exchange before a sync counts as connected, replicating.
    expect(r0('sync-start').connections[0]).toMatchObject({ connection: 'Connected' });
    expect(r0('sync-start').connections[0]!.peerDevices[0]).toMatchObject({ replication: 'WFBitMapS', peerDisk: 'Inconsistent' });
    const outdated = r0('outdated-alone');
    expect(outdated.connections[0]).toMatchObject({ connection: 'Connecting' });
    expect(promotionScore(outdated, T)).toMatchObject({ kind: 'remove' });
    expect(replicationProblem(outdated)).toContain('is down (Connecting)');
    expect(replicationProblem(r0('standalone-primary'))).toContain('is StandAlone');
  });

  it('drbdadm --version of drbd-utils 9.22 with the 8.4 module: the kernel version only as a code', () => {
    const v = parseDrbdadmVersion(sample('lab-84-drbdadm-version.txt'));
    expect(v.DRBDADM_VERSION).toBe('9.22.0');
    expect(v.DRBD_KERNEL_VERSION_CODE).toBe('0x08040b');
    expect(v.DRBD_KERNEL_VERSION).toBeUndefined();
    expect(v.DRBDADM_BUILDTAG).toContain('reproducible build, 2023-01-09');
  });
});

const T: ScoreTable = parseScores('0 10 1000 10000')!;

describe('promotion score table', () => {
  it.each(SCORE_CASES.map(([name, r, want]) => ({ name, r, want })))('$name → $want', ({ r, want }) => {
    const d = promotionScore(r, T);
    if (typeof want === 'number') expect(d).toMatchObject({ kind: 'set', score: want });
    else expect(d.kind).toBe(want);
  });

  it('adjust_master_score: four non-decreasing integers', () => {
    expect(parseScores('0 10 1000 10000')).toEqual({ consistent: 0, peerUpToDate: 10, unknownPeer: 1000, upToDate: 10000 });
    expect(parseScores('0 5 5 20')).toBeDefined();
    for (const bad of ['0 10 1000', '0 10 1000 10000 5', '10 0 1000 10000', '0 10 x 10000', '0;10 1000 10000 1', '']) expect(parseScores(bad)).toBeUndefined();
  });

  it('replication problems in words', () => {
    expect(replicationProblem(res('Primary', ['UpToDate'], { disks: ['UpToDate'] }))).toBeUndefined();
    expect(replicationProblem(res('Primary', ['UpToDate'], { role: 'Primary' }))).toContain('split brain');
    expect(replicationProblem(res('Secondary', ['UpToDate'], { connection: 'Connecting', disks: ['DUnknown'] }))).toContain('replication link of r0 is down (Connecting)');
  });

  it('which score writes an action may leave out', () => {
    // Start and probes always write; nothing known about the last write: write.
    expect(scoreWriteNeeded('always', 'set 10000', 'set 10000')).toBe(true);
    expect(scoreWriteNeeded('changed', undefined, 'set 10000')).toBe(true);
    expect(scoreWriteNeeded('promotable', undefined, 'set 1000')).toBe(true);
    // The same value again: no crm_attribute.
    expect(scoreWriteNeeded('changed', 'set 10000', 'set 10000')).toBe(false);
    expect(scoreWriteNeeded('changed', 'set 10000', 'set 1000')).toBe(true);
    // A peer that left: positive to positive waits for the monitor; anything else is written (0 may still be promoted).
    expect(scoreWriteNeeded('promotable', 'set 10000', 'set 1000')).toBe(false);
    expect(scoreWriteNeeded('promotable', 'set 10', 'set 0')).toBe(true);
    expect(scoreWriteNeeded('promotable', 'set 10000', 'remove')).toBe(true);
    expect(scoreWriteNeeded('promotable', 'remove', 'set 1000')).toBe(true);
    expect(scoreWriteNeeded('promotable', 'set 0', 'remove')).toBe(true);
    // Recurring monitors: a change at once; the same value again only once the last write is SCORE_REFRESH_MS old.
    expect(scoreWriteNeeded('refresh', undefined, 'set 10000')).toBe(true);
    expect(scoreWriteNeeded('refresh', 'set 10000', 'set 1000', 1000)).toBe(true);
    expect(scoreWriteNeeded('refresh', 'set 10000', 'remove', 1000)).toBe(true);
    expect(scoreWriteNeeded('refresh', 'set 10000', 'set 10000', 1000)).toBe(false);
    expect(scoreWriteNeeded('refresh', 'set 10000', 'set 10000', SCORE_REFRESH_MS)).toBe(true);
    expect(scoreWriteNeeded('refresh', 'set 10000', 'set 10000', Number.POSITIVE_INFINITY)).toBe(true);
  });
});
