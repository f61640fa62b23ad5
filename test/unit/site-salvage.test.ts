import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, decideAcquire, decideRelease, decideSalvage, decideTakeover } from '../../commands/site/decide';
import type { SalvageRecord } from '../../commands/site/salvage-record';
import { salvageDir, salvageMountOptions } from '../../commands/site/salvage';
import { type ServiceState, linkToOtherSite } from '../../commands/site/state';
import { renderText, view } from '../../commands/site/status';
import { parseDeployment, stackOf } from '../../commands/stack/model';
import { type DrbdResource, parseEvents2 } from '../../lib/drbd';

const d9 = (f: string): DrbdResource => parseEvents2(readFileSync(join(__dirname, '..', 'samples', 'drbd9', f), 'utf8')).get('r0')!;
const stack = stackOf(
  parseDeployment({
    sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } },
    services: [{ name: 'kv', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/var/lib/kv', fstype: 'ext4' }],
  }),
  'b',
);
const svc = stack.services[0]!;
const rec: SalvageRecord = { service: 'kv', drbd_resource: 'r0', mountAt: '/run/ocfkit/salvage/kv', maintenanceBefore: null, at: '2026-12-01T22:00:00Z' };

function state(drbd: DrbdResource, o: { granted?: boolean; promotedOn?: string } = {}): ServiceState {
  const link = linkToOtherSite(drbd, ['node1']);
  return { service: svc, site: 'b', ticket: { granted: !!o.granted, standby: false }, drbd, ...(link ? { link } : {}), ...(o.promotedOn ? { promotedOn: o.promotedOn } : {}), stackRunning: false, stackParts: [] };
}
/** s07 (node2 after the split-brain handshake: StandAlone, UpToDate) as Pacemaker leaves a site without the ticket: Secondary. */
const splitSecondary = (): DrbdResource => ({ ...d9('s07-split-brain-standalone-node2-events2-now.txt'), role: 'Secondary' });

describe('site salvage decisions (DRBD 9 samples)', () => {
  it('acts on a StandAlone UpToDate copy without the ticket; warns when the kernel log shows no split brain', () => {
    expect(decideSalvage(state(splitSecondary()), undefined, true)).toEqual({ kind: 'act', say: "kv: bringing this site's copy of r0 up read-only", warnings: [] });
    const d = decideSalvage(state(splitSecondary()), undefined, false);
    expect(d.kind).toBe('act');
    expect(d.kind === 'act' && d.warnings[0]).toContain('shows no refused handshake');
  });

  it('a second run (Primary by salvage, its record here) goes on; the same Primary without the record is refused', () => {
    const primary = d9('s07-split-brain-standalone-node2-events2-now.txt');
    expect(decideSalvage(state(primary), rec, true).kind).toBe('act');
    expect(decideSalvage(state(primary, { promotedOn: 'node2' }), rec, true).kind).toBe('act');
    const d = decideSalvage(state(primary), undefined, true);
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.WRONG_STEP });
    expect(d.say).toContain('neither Pacemaker nor salvage promoted it');
  });

  const refused: Array<[string, () => ServiceState, number, string]> = [
    ['this site holds the ticket', () => state(splitSecondary(), { granted: true }), EXIT.WRONG_STEP, 'this site holds ticket ticket-kv'],
    ['Pacemaker has it promoted here', () => state(d9('s07-split-brain-standalone-node2-events2-now.txt'), { promotedOn: 'node2' }), EXIT.WRONG_STEP, 'Pacemaker has r0 promoted on node2'],
    ['connected', () => state(d9('s01-secondary-connected-node2-events2-now.txt')), EXIT.WRONG_STEP, 'DRBD is connected to the other site'],
    ['the link down but DRBD trying to connect', () => state(d9('s05b-link-down-primary-after-write-node2-events2-now.txt')), EXIT.WRONG_STEP, 'not StandAlone: it may connect to the other site at any moment'],
    ['StandAlone and Outdated (a graceful disconnect: nothing written here)', () => state(d9('s06-standalone-node2-events2-now.txt')), EXIT.WRONG_STEP, 'data here is Outdated'],
    ['DRBD down', () => state(d9('s10-down-on-node2-node2-events2-now.txt')), EXIT.ERROR, 'is not up on this node'],
  ];
  for (const [what, st, code, text] of refused) {
    it(`refused: ${what}`, () => {
      const d = decideSalvage(st(), undefined, true);
      expect(d, what).toMatchObject({ kind: 'refuse', code });
      expect(d.say).toContain(text);
    });
  }

  it('refused: a copy that is not whole (Inconsistent after a cut resync)', () => {
    const r = splitSecondary();
    const d = decideSalvage(state({ ...r, devices: r.devices.map((x) => ({ ...x, disk: 'Inconsistent' })) }), undefined, true);
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.NOT_UPTODATE });
  });

  it('takeover and both steps of a handover are refused while a salvage is under way here', () => {
    const under = { ...state(d9('s07-split-brain-standalone-node2-events2-now.txt')), salvage: rec };
    for (const d of [decideTakeover(under, true), decideAcquire(under, true), decideRelease(under, 'a')]) {
      expect(d).toMatchObject({ kind: 'refuse', code: EXIT.WRONG_STEP });
      expect((d as { say: string }).say).toContain('ocfkit site salvage kv --done');
    }
  });

  it('site status says a salvage is under way, and where', () => {
    const v = view({ ...state(d9('s07-split-brain-standalone-node2-events2-now.txt')), salvage: rec });
    expect(v.salvageMountedAt).toBe('/run/ocfkit/salvage/kv');
    expect(renderText([v])).toContain("  SALVAGE under way: this side's copy read-only at /run/ocfkit/salvage/kv, the DRBD clone in maintenance; `ocfkit site salvage kv --done` ends it");
    expect(view(state(splitSecondary())).salvageMountedAt).toBeUndefined();
  });

  it('mounts read-only (with the journal replay unless told not to), away from the service directory', () => {
    expect(salvageMountOptions('ext4', true)).toBe('ro');
    expect(salvageMountOptions('xfs', true)).toBe('ro');
    expect(salvageMountOptions('ext4', false)).toBe('ro,noload');
    expect(salvageMountOptions('xfs', false)).toBe('ro,norecovery');
    expect(salvageDir(svc, undefined)).toBe('/run/ocfkit/salvage/kv');
    expect(salvageDir(svc, '/srv/copy')).toBe('/srv/copy');
    expect(() => salvageDir(svc, '/var/lib/kv/old')).toThrow(/service's own mount point/);
    expect(() => salvageDir(svc, '/var/lib')).toThrow(/service's own mount point/);
    expect(() => salvageDir(svc, 'copy')).toThrow(/absolute path/);
  });
});
