/**
 * drbd-promote: a promotable DRBD resource that never promotes stale data. Parameter names and
 * the promotion-score table follow ocf:linbit:drbd, so the failover policy is the one operators
 * know; what differs is how it reads state (machine output only), that every cluster call is
 * bounded, and that missing notifications degrade instead of failing.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { noteAgeMs, readNote, removeNote, stateDir, writeNote } from '../lib/background';
import { MinorsCache } from '../lib/drbd-minors-cache';
import { PromotionScores, promotedOn, promotionScoreCalls } from '../lib/cluster';
import { DrbdAdm, type DrbdResource, RESOURCE_NAME, compareVersions, generation, readProcDrbd, resourceState } from '../lib/drbd';
import { configFindings, drbdConfigFacts } from '../lib/drbd-config';
import { PEER_STATE_DIR, lossesNoticedAt, nextPeerRecord, readPeerRecord, withLinkWent, writePeerRecord } from '../lib/drbd-peer';
import { linkWentAt } from '../lib/drbd-link-log';
import { kernelMessages } from '../lib/kernel-log';
import { readMountinfo } from '../lib/mounts';
import { type Ctx, defineAgent } from '../lib/ocf/agent';
import { OCF, type OcfCode, OcfError, fail } from '../lib/ocf/codes';
import type { Logger } from '../lib/ocf/log';
import { param } from '../lib/ocf/params';
import { type RunResult, describe } from '../lib/run';

export interface ScoreTable {
  /** Only Consistent data: 0 by default, i.e. never promote such a node. */
  readonly consistent: number;
  /** Local data not UpToDate, but a peer has UpToDate data. */
  readonly peerUpToDate: number;
  /** Local UpToDate, Secondary, with a peer's disk state unknown (the peer may have died). */
  readonly unknownPeer: number;
  /** Local UpToDate, and Primary or every peer known. */
  readonly upToDate: number;
}

export type ScoreDecision =
  | { readonly kind: 'set'; readonly score: number; readonly why: string }
  | { readonly kind: 'remove'; readonly why: string }
  | { readonly kind: 'keep'; readonly why: string };

const TRANSITIONAL = new Set(['Attaching', 'Negotiating', 'Detaching']);

export function parseScores(v: string): ScoreTable | undefined {
  const n = v.trim().split(/\s+/);
  if (n.length !== 4 || !n.every((x) => /^-?\d{1,9}$/.test(x))) return undefined;
  const [a, b, c, d] = n.map(Number) as [number, number, number, number];
  if (!(a <= b && b <= c && c <= d)) return undefined;
  return { consistent: a, peerUpToDate: b, unknownPeer: c, upToDate: d };
}

/**
 * The promotion score for a resource state: the table of ocf:linbit:drbd (drbd_update_master_score).
 * Never a positive score on Consistent-only, Outdated or Inconsistent data; none without quorum.
 */
export function promotionScore(r: DrbdResource, t: ScoreTable): ScoreDecision {
  return positiveOnly(tableScore(r, t));
}

function tableScore(r: DrbdResource, t: ScoreTable): ScoreDecision {
  if (r.role === 'Unconfigured' || r.devices.length === 0) return { kind: 'remove', why: 'the resource is down' };
  if (r.devices.some((d) => !d.quorum)) return { kind: 'remove', why: 'no quorum' };
  const primary = r.role === 'Primary';
  const peerAllUpToDate = r.connections.some((c) => c.peerDevices.length > 0 && c.peerDevices.every((p) => p.peerDisk === 'UpToDate'));
  const peerUnknown = r.connections.length === 0 || r.connections.some((c) => c.peerDevices.length === 0 || c.peerDevices.some((p) => p.peerDisk === 'DUnknown'));
  if (r.devices.every((d) => d.client)) {
    const allPeersUpToDate = r.connections.length > 0 && r.connections.every((c) => c.peerDevices.every((p) => p.peerDisk === 'UpToDate'));
    if ((primary && peerAllUpToDate) || allPeersUpToDate) return { kind: 'set', score: t.upToDate - 1, why: 'diskless client, peers UpToDate' };
    if (peerAllUpToDate) return { kind: 'set', score: t.unknownPeer - 1, why: 'diskless client, a peer UpToDate' };
    return { kind: 'remove', why: 'diskless client without UpToDate peers' };
  }
  if (r.devices.every((d) => d.disk === 'UpToDate')) {
    if (primary) return { kind: 'set', score: t.upToDate, why: 'Primary with UpToDate data' };
    if (peerUnknown) return { kind: 'set', score: t.unknownPeer, why: 'UpToDate, peer disk state unknown' };
    return { kind: 'set', score: t.upToDate, why: 'UpToDate, peer known' };
  }
  if (peerAllUpToDate) return { kind: 'set', score: t.peerUpToDate, why: 'local data not UpToDate, a peer has UpToDate data' };
  if (r.devices.some((d) => TRANSITIONAL.has(d.disk))) return { kind: 'keep', why: `disk ${r.devices.map((d) => d.disk).join('/')} (transitional)` };
  if (r.devices.every((d) => d.disk === 'Consistent')) {
    return { kind: 'set', score: t.consistent, why: 'only Consistent: unclear whether the data is the most recent copy' };
  }
  return { kind: 'remove', why: `disk ${r.devices.map((d) => d.disk).join('/')}: not promotable` };
}

/**
 * Pacemaker promotes an instance whose score is 0 when nothing better exists (only a missing score
 * keeps it Unpromoted: crm_simulate shows it), so a score of 0 or less is written as none, as the
 * reference's set_master_score does.
 */
function positiveOnly(d: ScoreDecision): ScoreDecision {
  return d.kind === 'set' && d.score <= 0 ? { kind: 'remove', why: `${d.why} (score ${d.score}: none written, Pacemaker would promote on 0)` } : d;
}

function checkVersion(v: string): string | undefined {
  return v === '' || /^\d+\.\d+\.\d+$/.test(v) ? undefined : `${JSON.stringify(v)} is not a version x.y.z`;
}

const params = {
  drbd_resource: param.string({
    required: true,
    unique: true,
    shortdesc: 'DRBD resource name',
    longdesc: 'The name of the resource in the DRBD configuration (resource r0 { … }).',
    check: (v) => (RESOURCE_NAME.test(v) ? undefined : `${JSON.stringify(v)} has characters DRBD does not allow in a resource name`),
    maxLength: 128,
  }),
  drbdconf: param.string({
    default: '/etc/drbd.conf',
    shortdesc: 'DRBD configuration file',
    longdesc: 'Path of the DRBD configuration (drbdadm -c).',
    check: (v) => (v.startsWith('/') && RESOURCE_NAME.test(v) ? undefined : `${JSON.stringify(v)} is not an absolute path of plain characters`),
  }),
  adjust_master_score: param.string({
    default: '0 10 1000 10000',
    shortdesc: 'Four promotion scores',
    longdesc:
      'Four non-decreasing scores: only Consistent data; local data not UpToDate but a peer UpToDate; local UpToDate as Secondary with the peer disk state unknown; local UpToDate and Primary or the peer known. A score of 0 or less is written as no score at all (Pacemaker promotes an instance whose score is 0 when nothing better exists). The first should stay 0: a node with only Consistent data may hold an old copy.',
    check: (v) => (parseScores(v) ? undefined : `${JSON.stringify(v)} is not four non-decreasing integers`),
  }),
  wfc_timeout: param.integer({
    default: 5,
    min: 0,
    max: 3600,
    shortdesc: 'Seconds start waits for the peer',
    longdesc: 'How long start waits for the replication link to come up; 0 does not wait. Start succeeds without the peer either way (it may be down), with the score for an unknown peer.',
  }),
  stop_outdates_secondary: param.boolean({
    default: false,
    shortdesc: 'Mark own data Outdated on stop while a peer is Primary',
    longdesc: 'When stopping a Secondary while the notifications name another Primary, run drbdadm outdate so this node cannot be promoted later with the stale copy. Leave false unless you know why you need it.',
  }),
  remove_master_score_if_peer_primary: param.select({
    default: 'false',
    options: ['false', 'true', 'unexpected'] as const,
    shortdesc: 'No score while connected to a Primary peer',
    longdesc: 'true: no promotion score while connected to a healthy Primary. unexpected: only when Pacemaker does not know that Primary (crm_mon shows the clone promoted nowhere; when crm_mon cannot say, the score stays).',
  }),
  fail_promote_early_if_peer_primary: param.boolean({
    default: false,
    shortdesc: 'Give up promoting at once when a peer is Primary',
    longdesc: 'Fail promote after the first refused attempt when a peer is Primary, instead of retrying until the timeout.',
  }),
  unfence_if_all_uptodate: param.boolean({
    default: false,
    shortdesc: 'Clear fencing constraints once everything is UpToDate',
    longdesc: 'As Primary with every disk UpToDate, run drbdadm unfence-peer, which removes a fencing constraint a fence-peer handler left behind.',
  }),
  require_drbd_module_version_ge: param.string({
    default: '8.0.0',
    shortdesc: 'Lowest DRBD kernel module version accepted',
    longdesc: 'x.y.z; start and monitor fail (exit 5) with an older module. Empty: no check.',
    check: checkVersion,
    maxLength: 16,
  }),
  require_drbd_module_version_lt: param.string({
    default: '10.0.0',
    shortdesc: 'DRBD kernel module versions from this one on are refused',
    longdesc: 'x.y.z; start and monitor fail (exit 5) with this or a newer module. Empty: no check.',
    check: checkVersion,
    maxLength: 16,
  }),
  peer_state_dir: param.string({
    default: PEER_STATE_DIR,
    shortdesc: 'Where the peer as last seen is recorded',
    longdesc: 'Directory of <drbd_resource>.peer.json: the peer\'s role, disk and connection as this node last saw them, and its role when the link went away. Written by start, promote, demote, notifications and monitor, only when they change; read by `ocfkit site`. Keep it on persistent storage so it survives a reboot.',
    check: (v) => (/^\/[\w.\/-]*$/.test(v) ? undefined : `${JSON.stringify(v)} is not an absolute path of plain characters`),
  }),
  ignore_missing_notifications: param.boolean({
    default: false,
    shortdesc: 'Do not warn when the clone lacks notify=true',
    longdesc: 'Without notify=true on the clone the agent still works, but cannot reconnect when a peer starts or learn about peers between monitors; it logs a warning on start unless this is true.',
  }),
};

type P = typeof params;
type DrbdCtx = Ctx<P>;

interface Status {
  readonly version: string;
  readonly res: DrbdResource;
}

/**
 * The resource's state, or `undefined` when the module is not loaded. A resource this node's
 * configuration does not name is "not installed here" (5) on both generations: 9 would otherwise
 * only see it down and let `drbdadm up` fail (1), which Pacemaker would retry on this node.
 */
async function status(ctx: DrbdCtx, adm: DrbdAdm): Promise<Status | undefined> {
  const proc = readProcDrbd();
  if (!proc) return undefined;
  const res = ctx.params.drbd_resource;
  const r = await resourceState(ctx.run, adm, res, proc);
  if (!r) {
    // Not "not installed" when the configuration cannot say: a probe answering that would tell
    // Pacemaker a running Primary is stopped. Without a configuration file, 8.4 minors that are up
    // could be this resource's (only the file maps names to minors there).
    const why = adm.whyNoMinors(res);
    const minorsUp = generation(proc.version) === 8 && [...proc.minors.values()].some((m) => m.cs !== 'Unconfigured');
    if (why === 'unreadable' || (why === 'no-file' && minorsUp)) {
      throw fail.generic(`cannot tell whether ${res} is up: ${adm.notConfigured(res).replace(/^resource \S+ is not configured on this node in /, 'the DRBD configuration could not be read, ')}`);
    }
    throw fail.installed(adm.notConfigured(res));
  }
  return { version: proc.version, res: r };
}

/** The resource is not named by this node's configuration (as opposed to: its state could not be read). */
function notConfiguredHere(e: unknown): boolean {
  return e instanceof OcfError && e.code === OCF.ERR_INSTALLED;
}

/**
 * drbdadm for this action. Monitors and notifications reuse the minors an earlier action read
 * while the configuration files are unchanged; start, stop, promote, demote and validate read them
 * afresh and keep what they read.
 */
function drbdadm(ctx: DrbdCtx, reuse = false): DrbdAdm {
  return new DrbdAdm(ctx.run, ctx.params.drbdconf, { cache: new MinorsCache(stateDir(ctx.env)), reuse });
}

function checkModuleVersion(ctx: DrbdCtx, version: string): void {
  const { require_drbd_module_version_ge: ge, require_drbd_module_version_lt: lt } = ctx.params;
  if (ge && compareVersions(version, ge) < 0) throw fail.installed(`DRBD module ${version} is older than ${ge} (require_drbd_module_version_ge)`);
  if (lt && compareVersions(version, lt) >= 0) throw fail.installed(`DRBD module ${version} is not older than ${lt} (require_drbd_module_version_lt)`);
}

function scores(ctx: DrbdCtx): PromotionScores {
  return new PromotionScores(ctx.run, promotionScoreCalls(ctx.env.OCF_RESOURCE_INSTANCE));
}

/** What is wrong with replication, in words for the log and the exit reason; undefined when healthy. */
export function replicationProblem(r: DrbdResource): string | undefined {
  if (r.role === 'Unconfigured') return undefined;
  const problems = [r.suspended ? suspendedIo(r) : undefined, diskProblem(r), linkProblem(r)].filter((p) => p !== undefined);
  return problems.length ? problems.join('; ') : undefined;
}

/**
 * A disk gone from under the resource (on-io-error detach after I/O errors, or by hand): DRBD goes on
 * through the peer, so nothing else fails, and redundancy is gone until it is back.
 */
function diskProblem(r: DrbdResource): string | undefined {
  const lost = unattached(r);
  if (lost.length) {
    return `the local disk of ${r.name} (volume ${lost.join(', ')}) is ${r.devices.find((d) => d.volume === lost[0])!.disk}: DRBD detached it (I/O errors with on-io-error detach, or by hand) and ${r.role === 'Primary' ? 'serves reads and writes through the peer; the promotion score moves Primary to a node with UpToDate data' : 'holds no copy here'}`;
  }
  for (const c of r.connections) {
    const gone = c.peerDevices.filter((p) => !p.peerClient && (p.peerDisk === 'Diskless' || p.peerDisk === 'Failed')).map((p) => p.volume);
    if (c.connection === 'Connected' && gone.length) return `the disk of ${r.name} on ${c.peer} (volume ${gone.join(', ')}) is detached: the data is on this node only`;
  }
  return undefined;
}

function linkProblem(r: DrbdResource): string | undefined {
  for (const c of r.connections) {
    if (c.connection === 'StandAlone') {
      return `replication link of ${r.name} is StandAlone: DRBD will not reconnect by itself (after a split brain it refuses to); check the kernel log and resolve it by hand, nothing is discarded automatically`;
    }
    if (c.connection !== 'Connected') return `replication link of ${r.name} is down (${c.connection}); the peer's data is not being updated`;
    if (r.role === 'Primary' && c.peerRole === 'Primary') return `split brain: ${r.name} is Primary here and on ${c.peer}`;
  }
  if (r.connections.length === 0) return `${r.name} has no replication link configured or connected`;
  return undefined;
}

const SUSPENSION_CAUSE: Record<string, string> = {
  fencing: 'the fence-peer handler has not answered yet',
  quorum: 'quorum is lost (on-no-quorum suspend-io)',
  'no-data': 'no UpToDate data is reachable (on-no-data-accessible suspend-io); attach a disk or connect a peer with UpToDate data',
  user: 'drbdadm suspend-io was run; drbdadm resume-io ends it',
};

/**
 * The suspension nothing in DRBD ends and no operator chose: no UpToDate data reachable. One by hand
 * (user: `drbdadm suspend-io`, e.g. around a snapshot) is the operator's, who resumes it; a
 * recovery meanwhile would hang its unmount on the frozen device and fence the node.
 */
const STUCK_SUSPENSIONS = new Set(['no-data']);

/**
 * The monitor's code for a resource that is up. A Primary whose I/O DRBD holds while it protects
 * the data (fencing: the fence-peer handler has not answered; quorum: lost, with on-no-quorum
 * suspend-io) is still the promoted instance: DRBD resumes by itself, or the other side fences this
 * node, and a recovery by Pacemaker meanwhile would be a demote and a stop that hang on the frozen
 * device, ending in a fence of the node that may hold the newest data. The reason says it is
 * suspended; so is one held by hand (`drbdadm suspend-io`), which its operator resumes. Without any
 * UpToDate data to write to, the Primary cannot serve until someone acts: it has failed (9), for
 * Pacemaker to recover where the scores allow. 8.4's /proc/drbd
 * says only that I/O is suspended, not why: taken as DRBD's own suspension.
 */
export function monitorCode(r: DrbdResource): OcfCode {
  if (r.role !== 'Primary') return OCF.SUCCESS;
  const causes = (r.suspension ?? '').split(',');
  return r.suspended && causes.some((c) => STUCK_SUSPENSIONS.has(c)) ? OCF.FAILED_PROMOTED : OCF.RUNNING_PROMOTED;
}

/** Writes to a suspended device hang: the applications above it stop, with no error of their own. */
function suspendedIo(r: DrbdResource): string {
  const causes = (r.suspension ?? '').split(',').filter(Boolean).map((k) => SUSPENSION_CAUSE[k] ?? k);
  return `I/O on ${r.name} is suspended${causes.length ? `: ${causes.join('; ')}` : ''}; writes wait until DRBD resumes it`;
}

/**
 * When the score is written. `always`: start and probes (a probe also runs when Pacemaker restarts
 * under a running DRBD, whose attribute attrd lost). `refresh`: recurring monitors: when it differs
 * from what this node last wrote, or that write is SCORE_REFRESH_MS old, which repairs an attribute
 * removed behind the agent's back (a node that leaves and rejoins gets its attributes back from its
 * own attrd). Every write starts crm_attribute, a CIB client: on every 10 s monitor that is most of
 * the monitor's work. `changed`: only when it differs from what this node last wrote.
 * `promotable`: not when a positive score only becomes another positive one: for a peer that left,
 * whose lower score (10000 to 1000) would only abort the transition that is about to promote this
 * node; the next monitor writes it anyway.
 */
export type ScoreWrite = 'always' | 'refresh' | 'changed' | 'promotable';

export const SCORE_REFRESH_MS = 300_000;

/** The decision as the score note keeps it: `set N` or `remove`. */
function scoreNote(d: Exclude<ScoreDecision, { kind: 'keep' }>): string {
  return d.kind === 'set' ? `set ${d.score}` : 'remove';
}

function positiveNote(note: string): boolean {
  const m = /^set (-?\d+)$/.exec(note);
  return m !== null && Number(m[1]) > 0;
}

/**
 * Whether a write of NEXT is needed, given the note of the last one (undefined: none known) and how
 * long ago that was written.
 */
export function scoreWriteNeeded(write: ScoreWrite, last: string | undefined, next: string, lastAgeMs = 0): boolean {
  if (write === 'always' || last === undefined) return true;
  if (write === 'refresh') return last !== next || lastAgeMs >= SCORE_REFRESH_MS;
  if (last === next) return false;
  return write === 'changed' || !(positiveNote(last) && positiveNote(next));
}

function scoreFile(ctx: DrbdCtx): string {
  return `${stateDir(ctx.env)}/drbd-promote-${ctx.instance.replace(/[^\w.:-]/g, '_')}.score`;
}

async function applyScore(ctx: DrbdCtx, s: Status, write: ScoreWrite = 'always'): Promise<void> {
  const table = parseScores(ctx.params.adjust_master_score)!;
  let d = promotionScore(s.res, table);
  const peerPrimary = s.res.connections.find((c) => c.connection === 'Connected' && c.peerRole === 'Primary' && c.peerDevices.every((p) => p.peerDisk === 'UpToDate'));
  const mode = ctx.params.remove_master_score_if_peer_primary;
  if (d.kind === 'set' && peerPrimary && s.res.role !== 'Primary' && mode !== 'false') {
    // unexpected: only when Pacemaker promoted it nowhere; a failed lookup keeps the score.
    const promoted = mode === 'unexpected' ? await promotedOn(ctx.run, ctx.env.OCF_RESOURCE_INSTANCE?.replace(/:\d+$/, '') ?? '') : [];
    if (promoted === undefined) d = { kind: 'keep', why: `peer ${peerPrimary.peer} is Primary and crm_mon could not say whether Pacemaker promoted it` };
    else if (promoted.length === 0) d = { kind: 'remove', why: `peer ${peerPrimary.peer} is Primary${mode === 'unexpected' ? ' without Pacemaker knowing' : ''}` };
  }
  if (ctx.params.unfence_if_all_uptodate && s.res.role === 'Primary' && s.res.devices.every((x) => x.disk === 'UpToDate') && s.res.connections.every((c) => c.peerDevices.every((p) => p.peerDisk === 'UpToDate'))) {
    // Clears a fencing constraint a fence-peer handler left behind once the peer caught up.
    const adm = drbdadm(ctx);
    const r = await adm.exec(['unfence-peer', s.res.name], 10_000);
    if (r.code !== 0) ctx.log.warn(`unfence-peer ${s.res.name}: ${describe(r)}`);
  }
  const shown = d.kind === 'set' ? String(d.score) : d.kind;
  if (d.kind === 'keep') {
    ctx.log.debug(`promotion score: keep (${d.why})`);
    return;
  }
  const file = scoreFile(ctx);
  const last = readNote(file);
  const next = scoreNote(d);
  if (!scoreWriteNeeded(write, last, next, last === undefined ? 0 : noteAgeMs(file))) {
    ctx.log.debug(`promotion score: ${shown} (${d.why}) not written: ${last === next ? 'unchanged' : `${last} stays until the next monitor`}`);
    return;
  }
  const sc = scores(ctx);
  try {
    if (d.kind === 'set') await sc.set(d.score);
    else await sc.remove();
    writeNote(file, next);
    ctx.log.debug(`promotion score: ${shown} (${d.why})`);
  } catch (e) {
    removeNote(file);
    // A CIB that does not answer must not turn into a failed monitor and a recovery.
    ctx.log.warn(`could not update the promotion score (${shown}, ${d.why}): ${(e as Error).message}`);
  }
}

function devicePath(minor: number): string {
  return `/dev/drbd${minor}`;
}

/** Who keeps a DRBD device open: mounts of it, processes with it open, stacked devices. */
export function deviceHolders(minors: readonly number[]): string[] {
  const out: string[] = [];
  const paths = new Set(minors.map(devicePath));
  for (const m of readMountinfo()) if (m.major === 147 && minors.includes(m.minor)) out.push(`mounted on ${m.target}`);
  for (const minor of minors) {
    try {
      for (const h of readdirSync(`/sys/block/drbd${minor}/holders`)) out.push(`held by ${h} (device mapper or md)`);
    } catch {
      // no sysfs entry
    }
  }
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    // no /proc
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (paths.has(target) || [...paths].some((p) => existsSync(p) && target === realpathSync(p))) {
        let comm = '?';
        try {
          comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          // exited
        }
        out.push(`pid ${pid} (${comm}) has ${target} open`);
        break;
      }
    }
  }
  return out;
}

/**
 * Keeps the peer's last seen state for `ocfkit site`; a failure to write never fails the monitor.
 * When it notes a lost link, it also notes the moment from DRBD's kernel log, which a later reader
 * may no longer find there.
 */
async function recordPeer(ctx: DrbdCtx, r: DrbdResource): Promise<void> {
  const dir = ctx.params.peer_state_dir;
  try {
    const now = new Date();
    let next = nextPeerRecord(readPeerRecord(dir, r.name), r, now);
    if (!next) return;
    const fresh = lossesNoticedAt(next, now);
    if (fresh.length > 0) {
      try {
        // dmesg runs under the action's deadline, as every command does (lib/run).
        const messages = await kernelMessages(ctx.run);
        for (const peer of fresh) {
          const went = linkWentAt(messages, r.name, r.devices.map((d) => d.minor), peer, now);
          if (went) next = withLinkWent(next, peer, went);
        }
      } catch (e) {
        ctx.log.warn(`could not read when the link went from the kernel log: ${(e as Error).message}`);
      }
    }
    writePeerRecord(dir, next);
  } catch (e) {
    ctx.log.warn(`could not record the peer's state in ${dir}: ${(e as Error).message}`);
  }
}

function notifyEnabled(ctx: DrbdCtx): boolean {
  return /^(true|yes|1)$/i.test(ctx.env.OCF_RESKEY_CRM_meta_notify ?? '');
}

/** Volumes up without the backing disk they are configured with (a client is diskless on purpose). */
function unattached(r: DrbdResource): number[] {
  return r.devices.filter((d) => !d.client && (d.disk === 'Diskless' || d.disk === 'Failed')).map((d) => d.volume);
}

/**
 * DRBD 8.4 has no `client` flag: a node meant to be diskless says `disk none` in its `on` section.
 * Asked only when a volume came up without a disk.
 */
async function disklessByConfiguration(adm: DrbdAdm, res: string, version: string): Promise<boolean> {
  if (generation(version) === 9) return false;
  const dump = await adm.dump(res);
  const facts = dump.code === 0 ? drbdConfigFacts(dump.stdout, res) : undefined;
  return facts?.hosts.find((h) => h.name === hostname())?.diskless ?? false;
}

function isConnected(r: DrbdResource): boolean {
  return r.connections.length > 0 && r.connections.every((c) => c.connection === 'Connected');
}

function problemFile(ctx: DrbdCtx): string {
  return `${stateDir(ctx.env)}/drbd-promote-${ctx.instance.replace(/[^\w.:-]/g, '_')}.problem`;
}

/**
 * Logs a replication problem when it appears or changes, and its end, not on every monitor: a
 * degraded Primary is monitored every 10 s for as long as the peer is away, and a warning per
 * interval buries the lines that matter. The last problem logged is kept in the run directory.
 */
export function logProblemChange(log: Logger, file: string, problem: string | undefined): void {
  const last = readNote(file);
  if (problem === last) return;
  if (problem === undefined) {
    log.info(`replication healthy again (was: ${last})`);
    removeNote(file);
    return;
  }
  log.warn(problem);
  // Without the record the warning only repeats on the next monitor.
  writeNote(file, problem);
}

async function monitor(ctx: DrbdCtx) {
  const adm = drbdadm(ctx, true);
  let s: Status | undefined;
  try {
    s = await status(ctx, adm);
  } catch (e) {
    // Only "this node's configuration does not name it" means stopped; a state that cannot be read
    // (events2 failing or hanging, a configuration that does not parse) is an error, never 7.
    if (ctx.probe && notConfiguredHere(e)) return OCF.NOT_RUNNING;
    throw e;
  }
  if (!s) return OCF.NOT_RUNNING; // no module loaded: nothing can be running
  checkModuleVersion(ctx, s.version);
  // A probe that finds it stopped sets no score: a stale high score from a probe delays promotion.
  if (s.res.role === 'Unconfigured') {
    removeNote(problemFile(ctx));
    return OCF.NOT_RUNNING;
  }
  await applyScore(ctx, s, ctx.probe ? 'always' : 'refresh');
  await recordPeer(ctx, s.res);
  const code = monitorCode(s.res);
  const problem = replicationProblem(s.res);
  if (!ctx.probe) logProblemChange(ctx.log, problemFile(ctx), problem);
  return problem ? { code, reason: problem } : code;
}

async function start(ctx: DrbdCtx) {
  const adm = drbdadm(ctx);
  if (!readProcDrbd()) {
    const r = await ctx.run(['modprobe', '-s', 'drbd'], { timeoutMs: 30_000 });
    if (!readProcDrbd()) throw fail.installed(`the DRBD kernel module is not available: ${describe(r)}`);
  }
  if (!notifyEnabled(ctx) && !ctx.params.ignore_missing_notifications) {
    ctx.log.warn('the clone has no notify=true: peers starting will not trigger a reconnect; set notify=true (pcs resource update <clone> meta notify=true)');
  }
  let s = await status(ctx, adm);
  if (!s) throw fail.installed('the DRBD kernel module is not available');
  checkModuleVersion(ctx, s.version);
  const res = ctx.params.drbd_resource;
  const first = await adm.exec(s.res.role === 'Unconfigured' ? ['up', res] : ['adjust', res], ctx.deadline.remaining() - 1000);
  s = (await status(ctx, adm))!;
  if (s.res.role === 'Unconfigured') throw fail.generic(`bringing ${res} up failed: ${adm.describe(first)}`);
  if (unattached(s.res).length > 0 && !(await disklessByConfiguration(adm, res, s.version))) {
    // As the reference: a second attach, then fail. Up without its disk the node serves from the
    // peer and replication is silently gone.
    ctx.log.warn(`${res}: volume ${unattached(s.res).join(', ')} did not attach its backing disk (${adm.describe(first)}); trying once more`);
    const again = await adm.exec(['adjust', res], Math.max(1000, ctx.deadline.remaining() - 1000));
    s = (await status(ctx, adm))!;
    const still = unattached(s.res);
    if (still.length > 0) throw fail.generic(`${res}: the backing disk of volume ${still.join(', ')} did not attach: ${adm.describe(again.code !== 0 ? again : first)}`);
  }
  if (first.code !== 0) ctx.log.warn(`drbdadm reported a problem but ${res} is up: ${adm.describe(first)}`);
  const waitMs = Math.min(ctx.params.wfc_timeout * 1000, Math.max(0, ctx.deadline.remaining() - 3000));
  if (waitMs > 0 && !isConnected(s.res)) {
    const connected = await ctx.deadline
      .poll('waiting for the peer', 250, async () => {
        const now = await status(ctx, adm);
        return now && isConnected(now.res) ? now : undefined;
      }, waitMs)
      .catch(() => undefined);
    if (connected) s = connected;
    else ctx.log.info(`${res}: the peer did not connect within ${waitMs / 1000}s; starting without it`);
  }
  if (s.res.role === 'Primary') {
    // start leaves the unpromoted role; Pacemaker promotes.
    const r = await adm.exec(['secondary', res], 30_000);
    if (r.code !== 0) throw fail.generic(`${res} was Primary and could not be made Secondary: ${adm.describe(r)}`);
    s = (await status(ctx, adm))!;
  }
  await applyScore(ctx, s);
  await recordPeer(ctx, s.res);
  return OCF.SUCCESS;
}

/** A refused promotion is retried no sooner than this after the attempt began, so Pacemaker does not spin. */
const PROMOTE_BACKOFF_MS = 5_000;

async function promote(ctx: DrbdCtx) {
  const adm = drbdadm(ctx);
  const res = ctx.params.drbd_resource;
  const began = performance.now();
  let s = await status(ctx, adm);
  if (!s || s.res.role === 'Unconfigured') throw fail.generic(`cannot promote ${res}: it is not started`);
  if (s.res.role === 'Primary') return OCF.SUCCESS;
  for (;;) {
    // Never --force: DRBD itself refuses when no UpToDate data is reachable, and that is the point.
    const r = await adm.exec(['primary', res], Math.max(1000, ctx.deadline.remaining() - 1000));
    s = (await status(ctx, adm))!;
    if (s.res.role === 'Primary') {
      await applyScore(ctx, s, 'changed');
      await recordPeer(ctx, s.res);
      return OCF.SUCCESS;
    }
    const noData = r.code === 17 || /UpToDate data|Need access to UpToDate/i.test(r.stderr);
    const peerPrimary = s.res.connections.some((c) => c.peerRole === 'Primary');
    if (noData || (peerPrimary && ctx.params.fail_promote_early_if_peer_primary) || ctx.deadline.remaining() < 3000) {
      const wait = PROMOTE_BACKOFF_MS - (performance.now() - began);
      if (wait > 0) await ctx.deadline.sleep(Math.min(wait, ctx.deadline.remaining() - 500));
      if (noData) throw fail.generic(`refusing to promote ${res} to Primary without access to UpToDate data (disk ${s.res.devices.map((d) => d.disk).join('/')}): ${adm.describe(r)}`);
      throw fail.generic(`promoting ${res} failed${peerPrimary ? ' (a peer is Primary)' : ''}: ${adm.describe(r)}`);
    }
    await ctx.deadline.sleep(1000);
  }
}

/**
 * How long demote and stop try again while DRBD refuses because the device is held open. What opens
 * a block device for a moment lets go by itself: udev probing it once the filesystem on it is
 * unmounted, blkid, a monitoring agent (in the lab under systemd a demote right after the unmount
 * was refused so, with no process holding the device by the time the refusal was read). A holder
 * that stays is named when this runs out; the reference agent tries again until the timeout.
 */
const HELD_OPEN_WAIT_MS = 10_000;

/** DRBD refused a state change because the device is open (drbdsetup's exit 11, "(-12) Device is held open"). */
const heldOpen = (r: RunResult | undefined) => r !== undefined && r.code === 11 && /held open/i.test(`${r.stderr}${r.stdout}`);

/** Whether to try again after a held-open refusal: within HELD_OPEN_WAIT_MS of the first, leaving time for the rest of the action. */
async function waitForHolder(ctx: DrbdCtx, began: number, reason: string, attempt: number): Promise<boolean> {
  if (performance.now() - began >= HELD_OPEN_WAIT_MS || ctx.deadline.remaining() < 5000) return false;
  if (attempt === 1) ctx.log.info(`${reason}: trying again for up to ${HELD_OPEN_WAIT_MS / 1000}s (what opens a device for a moment, as udev does after an unmount, lets go by itself)`);
  await ctx.deadline.sleep(1000);
  return true;
}

async function demote(ctx: DrbdCtx) {
  const adm = drbdadm(ctx);
  const res = ctx.params.drbd_resource;
  let s = await status(ctx, adm);
  if (!s || s.res.role === 'Unconfigured') return OCF.NOT_RUNNING;
  if (s.res.role !== 'Primary') return OCF.SUCCESS;
  const began = performance.now();
  for (let attempt = 1; ; attempt++) {
    // Half the time for drbdadm: the rest is for drbdsetup, should drbdadm not get it done.
    const r = await adm.exec(['secondary', res], Math.max(1000, (ctx.deadline.remaining() - 1000) / 2));
    s = (await status(ctx, adm))!;
    if (s.res.role !== 'Primary') break;
    // drbdadm needs a configuration that parses, drbdsetup does not; it refuses a device held open
    // as drbdadm does, and its refusal is DRBD's own word, so it leads the reason (Pacemaker keeps
    // 128 characters), drbdadm's failure after it when that was a different one, then the holders.
    const direct = await drbdsetupSecondary(ctx, s);
    const before = s;
    s = (await status(ctx, adm))!;
    if (s.res.role !== 'Primary') {
      ctx.log.warn(`${res}: drbdadm could not demote it (${adm.describe(r)}); drbdsetup secondary did`);
      break;
    }
    const holders = deviceHolders(before.res.devices.map((d) => d.minor));
    const first = direct ? describe(direct) : 'drbdsetup is not installed';
    const reason = `${res} cannot be demoted: ${first}${direct?.code !== r.code ? `; before it ${adm.describe(r)}` : ''}${holders.length ? `; ${holders.join('; ')}` : ''}`;
    if (heldOpen(direct ?? r) && (await waitForHolder(ctx, began, reason, attempt))) continue;
    throw fail.generic(reason);
  }
  await applyScore(ctx, s, 'changed');
  await recordPeer(ctx, s.res);
  return OCF.SUCCESS;
}

/**
 * `drbdsetup secondary`, which needs no configuration: by resource name on DRBD 9, by minor on 8.4
 * (drbdsetup-84 knows a role only per minor; the minors are those the state was read with). The
 * first refusal ends it; undefined when drbdsetup is not installed.
 */
async function drbdsetupSecondary(ctx: DrbdCtx, s: Status): Promise<RunResult | undefined> {
  if (!ctx.haveBinary('drbdsetup')) return undefined;
  const objects = generation(s.version) === 9 ? [s.res.name] : s.res.devices.map((d) => String(d.minor));
  let last: RunResult | undefined;
  for (const o of objects) {
    last = await ctx.run(['drbdsetup', 'secondary', o], { timeoutMs: Math.max(1000, ctx.deadline.remaining() - 1000) });
    if (last.code !== 0) break;
  }
  return last;
}

/**
 * `drbdsetup down RES`, which needs no configuration and answers 0 for a resource the kernel does
 * not know (drbd-utils marks it missing_ok on 8.4 and 9): its 0 is DRBD's own word that RES is
 * down. Anything else fails the stop, with WHY first: Pacemaker fences rather than start the peer
 * beside a Primary nobody could take down.
 */
async function drbdsetupDown(ctx: DrbdCtx, res: string, why: string, routine = false): Promise<void> {
  if (!ctx.haveBinary('drbdsetup')) throw fail.generic(`${why}; drbdsetup is not installed, so ${res} cannot be taken down`);
  const r = await ctx.run(['drbdsetup', 'down', res], { timeoutMs: Math.max(1000, ctx.deadline.remaining() - 1000) });
  if (r.code !== 0) throw fail.generic(`${why}; \`drbdsetup down ${res}\` did not take it down: ${describe(r)}`);
  if (routine) ctx.log.debug(`${why}: drbdsetup down ${res} answered 0`);
  else ctx.log.warn(`${why}; drbdsetup down ${res} answered 0: it is down`);
}

/**
 * The nodes promoted now other than this one and those being stopped with it, from the
 * notification variables: only such a node keeps a newer copy once this one is down.
 */
export function otherPromoted(env: NodeJS.ProcessEnv, self: string): string[] {
  const words = (v: string | undefined) => (v ?? '').split(/\s+/).filter(Boolean);
  const stopping = new Set(words(env.OCF_RESKEY_CRM_meta_notify_stop_uname));
  return words(env.OCF_RESKEY_CRM_meta_notify_promoted_uname ?? env.OCF_RESKEY_CRM_meta_notify_master_uname).filter((n) => n !== self && !stopping.has(n));
}

async function stop(ctx: DrbdCtx) {
  const adm = drbdadm(ctx);
  const res = ctx.params.drbd_resource;
  const sc = scores(ctx);
  let s: Status | undefined;
  /** `drbdsetup down` answered 0: DRBD itself says the resource is down. */
  let proven = false;
  try {
    s = await status(ctx, adm);
  } catch (e) {
    // Success only with proof that the resource is down; without a readable state, DRBD's own
    // answer to `drbdsetup down` is that proof (a Primary held open refuses it).
    const proc = readProcDrbd();
    const nothingUp = proc && [...proc.minors.values()].every((m) => m.cs === 'Unconfigured');
    if (!(notConfiguredHere(e) && (generation(proc?.version ?? '9.0.0') === 9 || nothingUp))) {
      await drbdsetupDown(ctx, res, `the state of ${res} could not be read (${(e as Error).message})`);
      proven = true;
    }
  }
  if (s && s.res.role !== 'Unconfigured') {
    if (s.res.role === 'Primary') {
      let r = await adm.exec(['secondary', res], 30_000);
      let after = await status(ctx, adm);
      const began = performance.now();
      for (let attempt = 1; after?.res.role === 'Primary' && heldOpen(r); attempt++) {
        if (!(await waitForHolder(ctx, began, `${res} cannot be stopped, still Primary: ${adm.describe(r)}`, attempt))) break;
        r = await adm.exec(['secondary', res], Math.max(1000, Math.min(30_000, ctx.deadline.remaining() - 3000)));
        after = await status(ctx, adm);
      }
      if (after?.res.role === 'Primary') {
        // drbdadm needs a configuration that parses, drbdsetup does not: it demotes and takes the
        // resource down, and refuses a device held open as drbdadm does.
        const holders = deviceHolders(s.res.devices.map((d) => d.minor));
        await drbdsetupDown(ctx, res, `${res} cannot be stopped, still Primary: ${adm.describe(r)}${holders.length ? `; ${holders.join('; ')}` : ''}`);
        proven = true;
      }
    }
    if (!proven) {
      const r = await adm.exec(['down', res], Math.max(1000, ctx.deadline.remaining() - 2000));
      const after = await status(ctx, adm);
      if (after && after.res.role !== 'Unconfigured') {
        await drbdsetupDown(ctx, res, `${res} is still up after drbdadm down: ${adm.describe(r)}`);
        proven = true;
      }
    }
    const newer = otherPromoted(ctx.env, ctx.env.OCF_RESKEY_CRM_meta_on_node || hostname());
    if (ctx.params.stop_outdates_secondary && newer.length > 0) {
      const o = await adm.exec(['outdate', res], 10_000);
      ctx.log.info(`marked ${res} Outdated (${newer.join(', ')} stays Primary): ${describe(o)}`);
    }
  }
  // 8.4 finds the resource's minors through the configuration file: one edited since start names
  // other minors, and the resource reads as down while it is up. drbdsetup knows it by name.
  if (!proven && s && generation(s.version) === 8) await drbdsetupDown(ctx, res, `${res} down by its minors in ${ctx.params.drbdconf}`, true);
  removeNote(scoreFile(ctx));
  try {
    await sc.remove();
  } catch (e) {
    ctx.log.warn(`could not remove the promotion score: ${(e as Error).message}`);
  }
  removeNote(problemFile(ctx));
  return OCF.SUCCESS;
}

async function notify(ctx: DrbdCtx) {
  const type = ctx.env.OCF_RESKEY_CRM_meta_notify_type ?? '';
  const op = ctx.env.OCF_RESKEY_CRM_meta_notify_operation ?? '';
  if (type === '' || op === '') return OCF.SUCCESS; // ocf-tester calls notify with nothing set
  // Only a peer's start needs anything before the fact; a move sends several pre-notifications.
  if (type === 'pre' && op !== 'start') return OCF.SUCCESS;
  try {
    const adm = drbdadm(ctx, true);
    const res = ctx.params.drbd_resource;
    let s = await status(ctx, adm);
    if (!s || s.res.role === 'Unconfigured') return OCF.SUCCESS;
    if (op === 'start' && !isConnected(s.res)) {
      // A peer is (re)starting: reconnect, so it can sync from us.
      const r = await adm.exec(['adjust', res], Math.max(1000, ctx.deadline.remaining() - 2000));
      if (r.code !== 0) ctx.log.warn(`reconnecting ${res} for a starting peer: ${describe(r)}`);
      s = (await status(ctx, adm)) ?? s;
    }
    if (type === 'post') {
      // A peer that stopped or demoted only lowers a positive score to another (10000 to 1000).
      await applyScore(ctx, s, op === 'stop' || op === 'demote' ? 'promotable' : 'changed');
      await recordPeer(ctx, s.res);
      logProblemChange(ctx.log, problemFile(ctx), replicationProblem(s.res));
    }
  } catch (e) {
    ctx.log.warn(`notify ${type}-${op}: ${(e as Error).message}`);
  }
  return OCF.SUCCESS;
}

export const drbdPromote = defineAgent({
  name: 'drbd-promote',
  version: '0.1.0',
  shortdesc: 'Promotable DRBD resource that never promotes stale data',
  longdesc:
    'Manages one DRBD resource as a promotable clone (promoted = Primary). The promotion score follows the table of ocf:linbit:drbd (adjust_master_score): never a positive score on Consistent-only, Outdated or Inconsistent data, none without quorum. Promotion never forces; a demote that drbdadm cannot do (a drbd.conf that does not parse) goes through drbdsetup. A Primary whose I/O is suspended for want of UpToDate data is reported failed (9); suspended while DRBD fences its peer, after losing quorum, or by hand (drbdadm suspend-io), it stays promoted (8) with the reason and a warning, so Pacemaker does not recover it mid-fence or mid-snapshot. State is read from drbdsetup events2 (DRBD 9) or /proc/drbd (8.4), cluster state from XML output, and every call to the cluster is bounded. Configure DRBD fencing (fencing resource-and-stonith with crm-fence-peer) or quorum, and keep drbd.service disabled: the agent cannot prevent a split brain alone.',
  examples: [
    {
      why: 'DRBD resource r0 as a promotable clone (pcs 0.11; with pcs 0.10 the roles are Master and Slave and the clone options master-max, master-node-max).',
      lines: [
        'pcs resource create nfs-drbd ocf:ocfkit:drbd-promote drbd_resource=r0 \\',
        '    op monitor interval=10s role=Promoted op monitor interval=20s role=Unpromoted \\',
        '    promotable promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true',
      ],
    },
  ],
  params,
  actions: {
    start: { meta: [{ timeout: 240 }], run: start },
    stop: { meta: [{ timeout: 100 }], run: stop },
    promote: { meta: [{ timeout: 90 }], run: promote },
    demote: { meta: [{ timeout: 90 }], run: demote },
    notify: { meta: [{ timeout: 90 }], run: notify },
    monitor: {
      meta: [
        { timeout: 20, interval: 10, role: 'Promoted' },
        { timeout: 20, interval: 20, role: 'Unpromoted' },
      ],
      run: monitor,
    },
  },
  validate(ctx) {
    if (ctx.action === 'stop') return;
    const num = (k: string, d: number) => {
      const v = ctx.env[`OCF_RESKEY_CRM_meta_${k}`];
      return v === undefined || v === '' ? d : Number(v);
    };
    if (num('clone_node_max', 1) !== 1) throw fail.configured('clone-node-max must be 1: one instance of a DRBD resource per node');
    const promotedNodeMax = num('promoted_node_max', num('master_node_max', 1));
    if (promotedNodeMax !== 1) throw fail.configured('promoted-node-max must be 1');
    const promotedMax = num('promoted_max', num('master_max', 1));
    if (promotedMax > 2) throw fail.configured('promoted-max must be 1 (or 2 with allow-two-primaries)');
  },
  async validateHost(ctx) {
    for (const bin of ['drbdadm', 'drbdsetup', 'crm_attribute']) if (!ctx.haveBinary(bin)) throw fail.installed(`${bin} is not installed on this node`);
    if (!existsSync(ctx.params.drbdconf)) throw fail.installed(`${ctx.params.drbdconf} does not exist on this node`);
    const adm = drbdadm(ctx);
    const res = ctx.params.drbd_resource;
    if (!(await adm.minors(res))) throw fail.installed(adm.notConfigured(res));
    // What the configuration gets wrong for the loaded module (auto-promote on 9 above all): warnings, not a failure.
    const proc = readProcDrbd();
    if (!proc) return;
    const dump = await adm.dump(res);
    const facts = dump.code === 0 ? drbdConfigFacts(dump.stdout, res) : undefined;
    if (!facts) {
      ctx.log.warn(`could not read the configuration of ${res}: ${adm.describe(dump)}`);
      return;
    }
    for (const f of configFindings(facts, generation(proc.version))) ctx.log.warn(f.text);
  },
  async stopWhenInvalid(ctx, problems) {
    // As the reference does: a plain `drbdsetup down`, which needs no configuration. A name DRBD
    // would refuse, or no module loaded, cannot be a resource that is up.
    const res = ctx.params.drbd_resource;
    if (!RESOURCE_NAME.test(res) || !readProcDrbd()) return OCF.SUCCESS;
    await drbdsetupDown(ctx, res, `stop with invalid parameters (${problems.map((p) => (p.param ? `${p.param}: ${p.message}` : p.message)).join('; ')})`);
    return OCF.SUCCESS;
  },
});
