/**
 * `ocfkit site salvage SERVICE [--mount-at DIR]` at a returning site in split brain: this side's
 * diverged data read-only where the operator can copy from it, before `rejoin --discard-local`
 * throws it away; `--done` puts everything back as it was.
 *
 * The cluster must neither act on the Primary salvage makes nor promote it: the DRBD clone goes into
 * maintenance (Pacemaker cancels its monitors and runs no action on it, whatever the ticket does),
 * DRBD is promoted by hand only while StandAlone (it takes no connection until told to), and the
 * filesystem is mounted read-only, away from the service's directory (where fs-mount's probe would
 * take it for its own). The mount replays the filesystem's journal unless told not to: a site that
 * died while writing has its last acknowledged writes only there (an fsync commits the journal,
 * not the inode's final place), and those are the writes an operator salvages for. The replay
 * writes to this side's diverged copy only, the copy `rejoin --discard-local` overwrites. The
 * serving site is never touched: nothing here connects. A record on disk says what salvage
 * changed, so that a second run goes on where the first stopped and `--done` restores the clone's
 * maintenance setting as it found it.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { CRM_MON_XML } from '../../lib/cluster';
import { DrbdAdm } from '../../lib/drbd';
import { lastHandshake } from '../../lib/drbd-handshake';
import { kernelMessages } from '../../lib/kernel-log';
import { isBelow, mountAt, readMountinfo } from '../../lib/mounts';
import { describe } from '../../lib/run';
import { findAll, parseXml } from '../../lib/xml';
import { type Service, ids } from '../stack/model';
import { EXIT, decideSalvage } from './decide';
import { type SalvageRecord, readSalvageRecord, removeSalvageRecord, writeSalvageRecord } from './salvage-record';
import { READING_MS, type ServiceState, SiteError } from './state';
import { type SiteCtx, stateOf } from './steps';

/** Where salvage mounts when the operator names no directory. */
export const SALVAGE_ROOT = '/run/ocfkit/salvage';
/** How long Pacemaker gets to take the clone out of its hands (or back) after the CIB change. */
const MAINTENANCE_MS = 30_000;
const CALL_MS = 30_000;

/**
 * Read-only; with REPLAY false also without the journal replay (for a journal that will not replay):
 * the copy then stays bit for bit as the split left it, and writes still only in the journal are not shown.
 */
export function salvageMountOptions(fstype: string, replay: boolean): string {
  if (replay) return 'ro';
  if (fstype === 'xfs') return 'ro,norecovery';
  if (fstype === 'btrfs') return 'ro,rescue=nologreplay';
  return 'ro,noload';
}

/** The clone's maintenance meta attribute in the CIB (null: not set). */
async function maintenanceOf(ctx: SiteCtx, clone: string): Promise<string | null> {
  const r = await ctx.src.run(['cibadmin', '-Q', '--scope', 'resources'], { timeoutMs: READING_MS });
  if (r.code !== 0) throw new Error(`reading the cluster's resources: ${describe(r)}`);
  const el = findAll(parseXml(r.stdout), 'clone').find((c) => c.attrs.id === clone);
  if (!el) throw new Error(`${clone} is not in this cluster's configuration`);
  const meta = el.children.filter((c) => c.name === 'meta_attributes').flatMap((m) => m.children);
  return meta.find((n) => n.name === 'nvpair' && n.attrs.name === 'maintenance')?.attrs.value ?? null;
}

async function setMaintenance(ctx: SiteCtx, clone: string, value: string | null): Promise<void> {
  const argv =
    value === null
      ? ['crm_resource', '--resource', clone, '--meta', '--delete-parameter', 'maintenance']
      : ['crm_resource', '--resource', clone, '--meta', '--set-parameter', 'maintenance', '--parameter-value', value];
  const r = await ctx.src.run(argv, { timeoutMs: CALL_MS });
  if (r.code !== 0) throw new Error(`${value === null ? 'removing' : 'setting'} ${clone}'s maintenance: ${describe(r)}`);
}

/** Whether crm_mon shows every instance of the DRBD resource as managed (false: none is). */
async function drbdManaged(ctx: SiteCtx, s: Service): Promise<boolean | undefined> {
  const r = await ctx.src.run([...CRM_MON_XML], { timeoutMs: READING_MS });
  if (r.code !== 0) return undefined;
  const id = ids(s).drbd;
  const mine = findAll(parseXml(r.stdout), 'resource').filter((x) => x.attrs.id === id || x.attrs.id?.startsWith(`${id}:`));
  if (mine.length === 0) return undefined;
  if (mine.every((x) => x.attrs.managed === 'false')) return false;
  if (mine.every((x) => x.attrs.managed !== 'false')) return true;
  return undefined;
}

/** Polls crm_mon until the clone is (un)managed as asked; false when MAINTENANCE_MS ran out. */
async function untilManaged(ctx: SiteCtx, s: Service, managed: boolean): Promise<boolean> {
  const stopAt = performance.now() + Math.min(MAINTENANCE_MS, ctx.deadline.remaining());
  for (;;) {
    if ((await drbdManaged(ctx, s)) === managed) return true;
    if (performance.now() >= stopAt) return false;
    await ctx.deadline.sleep(1000);
  }
}

const mountedFrom = (dir: string, device: string) => {
  const m = mountAt(readMountinfo(), dir);
  if (!m) return undefined;
  let dev = device;
  try {
    dev = realpathSync(device);
  } catch {
    // a device that is gone: compare the names as given
  }
  return { entry: m, ours: m.source === device || m.source === dev };
};

async function splitBrainSeen(ctx: SiteCtx, st: ServiceState): Promise<boolean> {
  const minor = st.drbd?.devices[0]?.minor;
  if (minor === undefined) return false;
  try {
    return !!lastHandshake((await kernelMessages(ctx.src.run)).map((m) => m.msg), minor, st.link?.peer)?.splitBrain;
  } catch {
    return false;
  }
}

/** The directory to mount at: the one named, else one per service under SALVAGE_ROOT; never the service's own. */
export function salvageDir(s: Service, named: string | undefined): string {
  const dir = named ?? join(SALVAGE_ROOT, s.name);
  if (!dir.startsWith('/')) throw new SiteError(`--mount-at ${dir}: give an absolute path`);
  if (isBelow(dir, s.directory) || isBelow(s.directory, dir)) {
    throw new SiteError(`--mount-at ${dir}: not in or above ${s.directory}, the service's own mount point (fs-mount's probe would take a mount there for its own)`);
  }
  return dir;
}

export async function salvage(ctx: SiteCtx, s: Service, mountAtDir: string | undefined, replay = true): Promise<number> {
  const say = (l: string) => ctx.say(`${ctx.clock()} ${l}`);
  const rec = readSalvageRecord(ctx.src.stateDir, s.name);
  const dir = rec?.mountAt ?? salvageDir(s, mountAtDir);
  if (rec && mountAtDir !== undefined && mountAtDir !== rec.mountAt) {
    say(`REFUSED ${s.name}: a salvage here is already under way at ${rec.mountAt}; finish it with \`ocfkit site salvage ${s.name} --done\` first`);
    return EXIT.WRONG_STEP;
  }
  const st = await stateOf(ctx, s);
  const d = decideSalvage(st, rec, await splitBrainSeen(ctx, st));
  if (d.kind !== 'act') {
    say(`${d.kind === 'done' ? 'ok  ' : 'REFUSED'} ${d.say}`);
    return d.kind === 'refuse' ? d.code : EXIT.OK;
  }
  for (const w of d.warnings) say(`WARNING ${w}`);
  const already = mountedFrom(dir, s.device);
  if (already && !already.ours) {
    say(`REFUSED ${s.name}: ${dir} already has ${already.entry.source} mounted: name another directory with --mount-at`);
    return EXIT.WRONG_STEP;
  }
  say(d.say);
  const clone = ids(s).clone;
  const record: SalvageRecord = rec ?? { service: s.name, drbd_resource: s.drbd_resource, mountAt: dir, maintenanceBefore: await maintenanceOf(ctx, clone), at: new Date().toISOString() };
  if (!rec) writeSalvageRecord(ctx.src.stateDir, record);
  const back = `put back with \`ocfkit site salvage ${s.name} --done\``;
  if ((await maintenanceOf(ctx, clone)) !== 'true') {
    await setMaintenance(ctx, clone, 'true');
    say(`${s.name}: ${clone} in maintenance: Pacemaker runs no action on it (no monitor, no promote) until --done`);
  }
  if (!(await untilManaged(ctx, s, false))) {
    say(`TIMEOUT ${s.name}: crm_mon does not show ${ids(s).drbd} unmanaged after ${MAINTENANCE_MS / 1000}s: DRBD is left as it is (Secondary); ${back}`);
    return EXIT.TIMEOUT;
  }
  // What was decided on may have changed while the cluster let go: read again before promoting.
  const now = await stateOf(ctx, s);
  const again = decideSalvage(now, record, true);
  if (again.kind !== 'act') {
    say(`REFUSED ${again.say}; ${back}`);
    return again.kind === 'refuse' ? again.code : EXIT.ERROR;
  }
  const adm = new DrbdAdm(ctx.src.run, ctx.src.drbdconf);
  if (now.drbd?.role !== 'Primary') {
    // Never --force: DRBD promotes only data it holds for whole (UpToDate), as it would for the cluster.
    const r = await adm.exec(['primary', s.drbd_resource], CALL_MS);
    if (r.code !== 0) {
      say(`FAILED ${s.name}: DRBD would not promote this side: ${adm.describe(r)}; ${back}`);
      return EXIT.ERROR;
    }
    const after = await stateOf(ctx, s);
    if (after.drbd?.role !== 'Primary' || after.link?.connection !== 'StandAlone') {
      say(`FAILED ${s.name}: after drbdadm primary DRBD is ${after.drbd?.role ?? 'down'}, ${after.link?.connection ?? 'no link'}; ${back}`);
      return EXIT.ERROR;
    }
    say(`${s.name}: DRBD ${s.drbd_resource} Primary here, StandAlone: the other site does not see it`);
  }
  const options = salvageMountOptions(s.fstype, replay);
  if (!already) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const r = await ctx.src.run(['mount', '-t', s.fstype, '-o', options, s.device, dir], { timeoutMs: 60_000 });
    if (r.code !== 0) {
      const hint = replay ? ` (a journal that will not replay: run it again with --no-replay)` : '';
      say(`FAILED ${s.name}: ${describe(r)}${hint}; ${back}`);
      return EXIT.ERROR;
    }
  }
  const how = replay
    ? `${options}: the filesystem replayed its journal first, as any mount does, so every write it had committed here is there; the replay wrote to this side's copy only`
    : `${options}: its journal is not replayed, so writes still only in the journal are not shown; where they matter, copy the device (dd if=${s.device}) while salvage holds it and mount that copy`;
  say(`ok   ${s.name}: this site's copy is mounted read-only at ${dir} (${how}). Copy what you need from it (the other site serves the live data: bring the records over through the application there), then run \`ocfkit site salvage ${s.name} --done\` and \`ocfkit site rejoin ${s.name} --discard-local\``);
  return EXIT.OK;
}

/** `--done`: unmount, demote, the clone's maintenance as it was, the record gone. Each step only if needed. */
export async function salvageDone(ctx: SiteCtx, s: Service): Promise<number> {
  const say = (l: string) => ctx.say(`${ctx.clock()} ${l}`);
  const rec = readSalvageRecord(ctx.src.stateDir, s.name);
  const st = await stateOf(ctx, s);
  if (!rec) {
    const primaryHere = st.drbd?.role === 'Primary' && !st.promotedOn;
    say(primaryHere ? `REFUSED ${s.name}: no salvage was begun here, and DRBD is Primary outside Pacemaker: salvage did not do that, and --done leaves it alone` : `ok   ${s.name}: no salvage under way here`);
    return primaryHere ? EXIT.WRONG_STEP : EXIT.OK;
  }
  const m = mountedFrom(rec.mountAt, s.device);
  if (m?.ours) {
    const r = await ctx.src.run(['umount', rec.mountAt], { timeoutMs: 60_000 });
    if (r.code !== 0) {
      say(`FAILED ${s.name}: ${describe(r)}: something still uses ${rec.mountAt} (\`fuser -vm ${rec.mountAt}\` names it); close it and run --done again`);
      return EXIT.ERROR;
    }
    say(`${s.name}: unmounted ${rec.mountAt}`);
  }
  if (st.drbd?.role === 'Primary') {
    const adm = new DrbdAdm(ctx.src.run, ctx.src.drbdconf);
    const r = await adm.exec(['secondary', s.drbd_resource], CALL_MS);
    const after = await stateOf(ctx, s);
    if (r.code !== 0 || after.drbd?.role !== 'Secondary') {
      say(`FAILED ${s.name}: DRBD stays ${after.drbd?.role ?? 'down'}: ${r.code !== 0 ? adm.describe(r) : 'drbdadm secondary answered 0'}; the clone stays in maintenance so that Pacemaker does not act on it`);
      return EXIT.ERROR;
    }
    say(`${s.name}: DRBD ${s.drbd_resource} Secondary`);
  }
  const clone = ids(s).clone;
  if ((await maintenanceOf(ctx, clone)) !== rec.maintenanceBefore) await setMaintenance(ctx, clone, rec.maintenanceBefore);
  if (rec.maintenanceBefore !== 'true' && !(await untilManaged(ctx, s, true))) {
    say(`WARNING ${s.name}: crm_mon does not show ${ids(s).drbd} managed again after ${MAINTENANCE_MS / 1000}s; \`crm_mon -1\` shows when it is`);
  }
  removeSalvageRecord(ctx.src.stateDir, s.name);
  say(`ok   ${s.name}: salvage undone (unmounted, Secondary, ${clone}'s maintenance ${rec.maintenanceBefore === null ? 'unset' : `back to ${rec.maintenanceBefore}`}); now \`ocfkit site rejoin ${s.name} --discard-local\` throws this side's split-brain writes away and resyncs it from the serving site`);
  return EXIT.OK;
}
