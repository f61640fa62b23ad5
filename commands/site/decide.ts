/**
 * The decisions of `ocfkit site takeover|handover|rejoin` on a service's state, without side
 * effects: what to do, or why not, with the exit code that says which refusal it was.
 */
import type { DrbdResource } from '../../lib/drbd';
import { type Handshake, describeHandshake } from '../../lib/drbd-handshake';
import type { SalvageRecord } from './salvage-record';
import type { ServiceState } from './state';

/** Exit codes of `ocfkit site` (docs/site-dr.md#exit-codes-of-ocfkit-site). */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  /** The peer is connected (takeover: use handover), or this step is for the other site. */
  WRONG_STEP: 3,
  /** This site's data is not UpToDate: promoting it would serve stale data. */
  NOT_UPTODATE: 4,
  /** The other site may hold acknowledged writes this one lacks: needs --accept-data-loss. */
  DATA_LOSS: 5,
  /** A bounded wait ran out. */
  TIMEOUT: 6,
  /** Split brain: needs --discard-local at the returning site. */
  SPLIT_BRAIN: 7,
} as const;

export type Decision =
  | { readonly kind: 'done'; readonly say: string }
  | { readonly kind: 'refuse'; readonly code: number; readonly say: string }
  | { readonly kind: 'act'; readonly say: string; readonly warnings: readonly string[] };

const disks = (r: DrbdResource) => r.devices.map((d) => d.disk).join('/') || 'none';
const allUpToDate = (r: DrbdResource) => r.devices.length > 0 && r.devices.every((d) => d.disk === 'UpToDate');
const connected = (s: ServiceState) => s.link?.connection === 'Connected';
const peerUpToDate = (s: ServiceState) => !!s.link && s.link.peerDevices.length > 0 && s.link.peerDevices.every((p) => p.peerDisk === 'UpToDate');

export function outOfSyncKiB(s: ServiceState): number | undefined {
  const v = s.link?.peerDevices.map((p) => p.outOfSyncKiB);
  if (!v || v.length === 0 || v.some((x) => x === undefined)) return undefined;
  return (v as number[]).reduce((a, b) => a + b, 0);
}

function serving(s: ServiceState): boolean {
  return s.ticket.granted && s.drbd?.role === 'Primary' && s.stackRunning;
}

/**
 * Why the service does not run here, part by part: not in the cluster, stopped, elsewhere, and
 * the failed actions crm_mon reports for it (the agent's exit reason). Empty when it runs.
 */
export function whyNotServed(s: ServiceState): string[] {
  const out: string[] = [];
  if (s.missing?.length) out.push(`${s.missing.join(', ')} not in this cluster's configuration (apply the plan here: ocfkit stack apply --live)`);
  if (!s.promotedOn) out.push(`${s.service.drbd_resource} is promoted on no node here`);
  for (const p of s.stackParts) {
    if (s.missing?.includes(p.resource)) continue;
    if (p.on.length === 0) out.push(`${p.resource} is stopped`);
    else if (s.promotedOn && (p.on.length !== 1 || p.on[0] !== s.promotedOn)) out.push(`${p.resource} runs on ${p.on.join(', ')}, not on ${s.promotedOn}`);
  }
  for (const f of s.failures ?? []) out.push(`${f.opKey} failed on ${f.node}: ${f.reason}${f.exitCode ? ` (rc ${f.exitCode})` : ''}`);
  return out;
}

/** The application's resource when it is not in this cluster (the plan with it was not applied here). */
function appMissing(s: ServiceState): string | undefined {
  const app = `${s.service.name}-app`;
  return s.service.application && s.missing?.includes(app) ? app : undefined;
}

/** Takeover and the receiving handover would grant a ticket that serves the data without its application. */
const appNotInCluster = (s: ServiceState, app: string) =>
  `${s.service.name}: the configuration names the application ${s.service.application!.agent}, and this cluster has no ${app}: apply the plan at site ${s.site} first (ocfkit stack apply --live), else the ticket would serve ${s.service.name}'s data with nothing running on it`;

/**
 * A salvage under way here: DRBD Primary outside the cluster with the diverged copy, its clone in
 * maintenance. A ticket granted or revoked meanwhile would have the cluster serve that copy.
 */
function salvaging(s: ServiceState): Decision | undefined {
  if (!s.salvage) return undefined;
  return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${s.service.name}: a salvage is under way here (this side's diverged copy mounted read-only at ${s.salvage.mountAt}, ${s.service.drbd_resource} Primary outside the cluster): finish it first with \`ocfkit site salvage ${s.service.name} --done\`` };
}

/** `site takeover`: the guarded promotion at the standby site after the other site is lost. */
export function decideTakeover(s: ServiceState, acceptDataLoss: boolean): Decision {
  const name = s.service.name;
  const salvage = salvaging(s);
  if (salvage) return salvage;
  if (serving(s)) return { kind: 'done', say: `${name}: already served at site ${s.site} (ticket ${s.service.ticket} granted, ${s.promotedOn} Primary, stack running${s.service.application ? `, the application ${s.service.application.agent} running there` : ''})` };
  if (!s.drbd) return { kind: 'refuse', code: EXIT.ERROR, say: `${name}: the DRBD module is not loaded on this node: run takeover on the node of site ${s.site} that runs ${s.service.drbd_resource}` };
  if (s.drbd.role === 'Unconfigured') return { kind: 'refuse', code: EXIT.ERROR, say: `${name}: DRBD ${s.service.drbd_resource} is down on this node: start the cluster (pcs cluster start) so drbd-promote brings it up, then run takeover again` };
  if (connected(s)) {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: the other site's DRBD peer ${s.link!.peer} is connected (${s.link!.peerRole}): this is not a disaster, use \`ocfkit site handover ${name} --to ${s.site}\`` };
  }
  const noApp = appMissing(s);
  if (noApp) return { kind: 'refuse', code: EXIT.ERROR, say: appNotInCluster(s, noApp) };
  if (!allUpToDate(s.drbd)) {
    return { kind: 'refuse', code: EXIT.NOT_UPTODATE, say: `${name}: data here is ${disks(s.drbd)}, not UpToDate: it is older than the other site's, or incomplete (a resync was cut). Promoting it would serve stale data; bring the other site back instead, or resync first` };
  }
  const warnings: string[] = [];
  /** Possible loss: refused, or served with --accept-data-loss and the reason kept as a warning. */
  const guard = (why: string, ask: string): Decision | undefined => {
    if (!acceptDataLoss) return { kind: 'refuse', code: EXIT.DATA_LOSS, say: `${why}. ${ask}` };
    warnings.push(`${why}; --accept-data-loss given`);
    return undefined;
  };
  const reallyGone = 'If the other site is really gone, pass --accept-data-loss to serve this copy';
  const lost = s.record?.lost;
  // DRBD's own log line is the moment and the role; the record's window (its monitors) is the
  // fallback, also when the log line does not say the role (Unknown is no evidence).
  const went = s.linkLoss && s.linkLoss.peerRole !== 'Unknown' ? s.linkLoss : undefined;
  const when = went ? `at ${went.at} (DRBD's kernel log here: ${went.to})` : lost ? `between ${lost.lastRecordedConnected} and ${lost.noticedDown}` : 'at a moment nothing here recorded';
  const roleThen = went?.peerRole ?? lost?.peerRole;
  let refused: Decision | undefined;
  if (!went && (!s.record || !s.record.lastConnected)) {
    refused = guard(`${name}: there is no record of the peer ever being connected (drbd-promote's monitor writes it; was it running here?): whether the other site wrote after this copy was made is unknown`, 'Pass --accept-data-loss to serve this copy anyway');
  } else if (roleThen === 'Primary') {
    // From here a site lost at that moment and a link cut before the site was lost look the same.
    refused = guard(
      `${name}: the other site (${s.link?.peer ?? 'peer'}) was Primary when the link went away, ${when}: what it acknowledged after that moment is not here. That is nothing if the site itself went down then (with DRBD protocol C; with A or B also the writes still in flight); if only the link went and the site served on, it is every write since`,
      `${reallyGone}. When it comes back, run \`ocfkit site rejoin ${name}\` there: if it wrote after the link went, DRBD refuses to reconnect (a split brain) and its writes are discarded only with --discard-local`,
    );
  } else if (!went) {
    // The record holds what this node's monitors saw, one interval apart, and the other site's
    // promotions reach it by no notification (another cluster): a peer promoted within the last
    // interval before the link went is recorded as it was before.
    refused = guard(
      `${name}: the other site (${s.link?.peer ?? 'peer'}) was ${roleThen ?? 'Unknown'} as drbd-promote's monitor here last recorded it while connected, and the link went ${when}; DRBD's kernel log here does not say its role at that moment (the node rebooted since, or the log moved on). Had it been promoted after that record, what it acknowledged from then on is not here`,
      reallyGone,
    );
  } else {
    // DRBD logged the role as the link went: Secondary then, it could only have written since by
    // being promoted after the link went, while its cluster still held the ticket.
    warnings.push(`${name}: the other site was ${roleThen} when the link went away, ${when}; had its cluster still held ${s.service.ticket}, it could have been promoted since and written alone: then \`site rejoin\` there reports a split brain`);
  }
  if (refused) return refused;
  if (s.ticket.standby) warnings.push(`${name}: ticket ${s.service.ticket} is in standby here: granting it does not clear standby (crm_ticket --ticket ${s.service.ticket} --activate)`);
  return { kind: 'act', say: `${name}: granting ${s.service.ticket} to site ${s.site}`, warnings };
}

/** `site handover --to OTHER`, run at the serving site: revoke, then wait until DRBD is Secondary and both disks UpToDate. */
export function decideRelease(s: ServiceState, to: string): Decision {
  const name = s.service.name;
  const salvage = salvaging(s);
  if (salvage) return salvage;
  if (!s.drbd || s.drbd.role === 'Unconfigured') return { kind: 'refuse', code: EXIT.ERROR, say: `${name}: DRBD ${s.service.drbd_resource} is not running on this node` };
  const app = appMissing(s);
  if (app && (s.ticket.granted || s.drbd.role === 'Primary')) {
    // Started by hand, the application holds the mount: fs-mount's stop would kill it (issue 35's drill).
    return {
      kind: 'refuse',
      code: EXIT.ERROR,
      say: `${name}: the configuration names the application ${s.service.application!.agent}, and this cluster has no ${app}: if it runs outside Pacemaker, the unmount that follows the revoke kills it as a holder of ${s.service.directory}. Apply the plan here (ocfkit stack apply --live) so Pacemaker stops it before the unmount, or stop it yourself, then hand over`,
    };
  }
  if (!s.ticket.granted && s.drbd.role !== 'Primary') {
    if (connected(s) && allUpToDate(s.drbd) && peerUpToDate(s)) return { kind: 'done', say: `${name}: released at site ${s.site} (no ticket, Secondary, both disks UpToDate): now run \`ocfkit site handover ${name} --to ${to}\` at site ${to}` };
  }
  if (!connected(s)) {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: the other site's peer is not connected (${s.link?.connection ?? 'no link'}): a handover needs both sites up and in sync; if site ${to} must serve without this one, run \`ocfkit site takeover ${name}\` there` };
  }
  if (!peerUpToDate(s)) {
    const oos = outOfSyncKiB(s);
    return { kind: 'refuse', code: EXIT.NOT_UPTODATE, say: `${name}: the peer's disk is ${s.link!.peerDevices.map((p) => p.peerDisk).join('/')}${oos !== undefined ? ` (${oos} KiB out of sync)` : ''}: wait for the resync to finish before handing over` };
  }
  return { kind: 'act', say: `${name}: revoking ${s.service.ticket} at site ${s.site}`, warnings: [] };
}

/** Whether a release has finished: this side Secondary, connected, both disks UpToDate. */
export function released(s: ServiceState): boolean {
  return !!s.drbd && s.drbd.role === 'Secondary' && !s.stackRunning && connected(s) && allUpToDate(s.drbd) && peerUpToDate(s);
}

/**
 * `site handover --to THIS`, run at the receiving site: grant once the other side has let go. By
 * hand neither site can read the other's ticket, and DRBD Secondary over there proves no release: a
 * cluster that still holds the ticket promotes again once the link drops, and both sites serve. So
 * the proof is the operator's, given only after the release step there said it was done
 * (`otherSiteReleased`); booth knows and refuses a grant itself.
 */
export function decideAcquire(s: ServiceState, otherSiteReleased = false, boothMode = false): Decision {
  const name = s.service.name;
  const salvage = salvaging(s);
  if (salvage) return salvage;
  if (serving(s)) return { kind: 'done', say: `${name}: already served at site ${s.site}` };
  if (!s.drbd || s.drbd.role === 'Unconfigured') return { kind: 'refuse', code: EXIT.ERROR, say: `${name}: DRBD ${s.service.drbd_resource} is not running on this node` };
  if (!connected(s)) {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: the other site's peer is not connected (${s.link?.connection ?? 'no link'}): a handover needs both sites; if the other site is lost, use \`ocfkit site takeover ${name}\`` };
  }
  if (s.link!.peerRole === 'Primary') {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: the other site is still Primary: run \`ocfkit site handover ${name} --to ${s.site}\` there first (it revokes the ticket and waits until it is Secondary)` };
  }
  if (!allUpToDate(s.drbd) || !peerUpToDate(s)) {
    return { kind: 'refuse', code: EXIT.NOT_UPTODATE, say: `${name}: disks here ${disks(s.drbd)}, peer ${s.link!.peerDevices.map((p) => p.peerDisk).join('/')}: wait until both are UpToDate` };
  }
  const noApp = appMissing(s);
  if (noApp) return { kind: 'refuse', code: EXIT.ERROR, say: appNotInCluster(s, noApp) };
  if (!boothMode && !otherSiteReleased) {
    return {
      kind: 'refuse',
      code: EXIT.WRONG_STEP,
      say: `${name}: this site cannot see whether the other site released ticket ${s.service.ticket}: its DRBD being Secondary is no proof (a cluster that still holds the ticket promotes again once the link drops, and both sites would serve). Run \`ocfkit site handover ${name} --to ${s.site}\` at the serving site first: it revokes the ticket there, waits until DRBD is Secondary and in sync, and prints the command for this site, with --other-site-released`,
    };
  }
  return { kind: 'act', say: `${name}: granting ${s.service.ticket} to site ${s.site}`, warnings: [] };
}

export type RejoinStep =
  | Decision
  | { readonly kind: 'wait'; readonly say: string }
  | { readonly kind: 'connect'; readonly say: string }
  | { readonly kind: 'discard'; readonly say: string };

/**
 * `site rejoin` at a site coming back after the other took over. It never promotes; it watches DRBD
 * reconnect as the sync target, and on a split brain says what each side has and resolves only with
 * --discard-local. `splitBrain` says DRBD refused the connection after a handshake (StandAlone again
 * after a connect).
 */
export function decideRejoin(s: ServiceState, discardLocal: boolean, splitBrain: boolean, handshake?: Handshake): RejoinStep {
  const name = s.service.name;
  if (s.ticket.granted) {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: this site still holds ticket ${s.service.ticket}, so it is not a returning site. If the other site serves now, revoke it here first (crm_ticket --ticket ${s.service.ticket} --revoke --force: the stack stops and DRBD demotes), then run rejoin` };
  }
  if (!s.drbd || s.drbd.role === 'Unconfigured') {
    return { kind: 'refuse', code: EXIT.ERROR, say: `${name}: DRBD ${s.service.drbd_resource} is not up on this node: start the cluster (pcs cluster start); without the ticket drbd-promote starts it Secondary` };
  }
  if (s.drbd.role === 'Primary') {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: DRBD is Primary here without the ticket: something outside Pacemaker promoted it (auto-promote, drbd.service, by hand); stop it (drbdadm secondary ${s.service.drbd_resource}) and run rejoin again` };
  }
  const link = s.link;
  const oos = outOfSyncKiB(s);
  if (link?.connection === 'Connected') {
    const repl = link.peerDevices.map((p) => p.replication).join('/');
    if (allUpToDate(s.drbd) && peerUpToDate(s)) return { kind: 'done', say: `${name}: connected to the other site, both disks UpToDate: rejoined (hand back with \`ocfkit site handover ${name} --to ${s.site}\`, first at the serving site)` };
    return { kind: 'wait', say: `${name}: connected, ${repl}, disk here ${disks(s.drbd)}${oos !== undefined ? `, ${oos} KiB to go` : ''}` };
  }
  if (link?.connection === 'StandAlone' || splitBrain) {
    // With --discard-local, straight to the discarding connect: a plain one would meet the peer's
    // connect and be refused again. (It discards only what a split brain puts against the peer.)
    if (!splitBrain && !discardLocal) return { kind: 'connect', say: `${name}: DRBD is StandAlone here: connecting (drbdadm connect ${s.service.drbd_resource})` };
    const wrote = `this site has ${oos ?? 'an unknown amount of'} KiB marked out of sync (written here, or not yet received, since the sites last agreed)`;
    const lost = s.record?.lost;
    // DRBD's own line for the moment, where this node's kernel log still has it; else the record's window.
    const when = s.linkLoss
      ? `; the link went at ${s.linkLoss.at} (DRBD's kernel log here: ${s.linkLoss.to}), the other site ${s.linkLoss.peerRole} then: what this site wrote after that moment is what --discard-local throws away`
      : lost
        ? `; the link went between ${lost.lastRecordedConnected} and ${lost.noticedDown}, this site was ${lost.localRole} then and the other ${lost.peerRole}`
        : '';
    const gis = handshake ? ` ${describeHandshake(handshake)}` : '';
    if (!discardLocal) {
      return {
        kind: 'refuse',
        code: EXIT.SPLIT_BRAIN,
        say: `${name}: split brain: both sites wrote to ${s.service.drbd_resource} while apart, DRBD refuses to connect (or the other site's DRBD gave up after refusing, and does not take the connection). ${wrote}${when}.${gis} The other site serves now: to keep its data and throw away this site's writes since the split, run \`ocfkit site rejoin ${name} --discard-local\` here (copy what you need from this side first: \`ocfkit site salvage ${name}\` mounts it read-only); DRBD at the serving site dropped the connection too: run \`drbdadm connect ${s.service.drbd_resource}\` on its node (that keeps its data)`,
      };
    }
    return { kind: 'discard', say: `${name}: split brain: discarding this site's writes (${wrote}).${gis} Running drbdadm connect --discard-my-data` };
  }
  return { kind: 'wait', say: `${name}: waiting for the other site's peer (${link?.connection ?? 'no link'})` };
}

/**
 * `site salvage SERVICE` at a returning site in split brain: whether this side's diverged data may be
 * brought up read-only. Only StandAlone (DRBD has given up the connection and takes none until told
 * to), never where this site serves or Pacemaker has it promoted, and only data that can hold writes
 * the other site lacks: Outdated data wrote nothing since, Inconsistent data is half a resync.
 * `salvaging` is the record of a salvage begun here: it alone explains DRBD Primary without Pacemaker.
 */
export function decideSalvage(s: ServiceState, salvaging: SalvageRecord | undefined, splitBrainSeen: boolean): Decision {
  const name = s.service.name;
  const res = s.service.drbd_resource;
  if (s.ticket.granted) {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: this site holds ticket ${s.service.ticket}: it is the serving site, and its data is the copy the service runs on. Salvage is for the returning site whose writes a split brain put aside` };
  }
  if (!s.drbd || s.drbd.role === 'Unconfigured') {
    return { kind: 'refuse', code: EXIT.ERROR, say: `${name}: DRBD ${res} is not up on this node: start the cluster (pcs cluster start; without the ticket drbd-promote starts it Secondary), run \`ocfkit site rejoin ${name}\` (it reports the split brain and leaves DRBD StandAlone), then salvage` };
  }
  // With salvage's record, a Promoted here is salvage's own Primary, seen by a probe under maintenance.
  if (s.promotedOn && !salvaging) {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: Pacemaker has ${res} promoted on ${s.promotedOn} at this site: salvage never works on data the cluster runs; revoke the ticket here first (this site should not serve: the other site does)` };
  }
  if (s.link?.connection === 'Connected') {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: DRBD is connected to the other site (${s.link.peerDevices.map((p) => p.replication).join('/')}): the sites agree on the data or are resyncing; there is no diverged copy here to salvage` };
  }
  if (s.link?.connection !== 'StandAlone') {
    return {
      kind: 'refuse',
      code: EXIT.WRONG_STEP,
      say: `${name}: DRBD here is ${s.link?.connection ?? 'without a link'}, not StandAlone: it may connect to the other site at any moment, and a Primary here would meet its Primary. Run \`ocfkit site rejoin ${name}\` first: on a split brain it stops and leaves DRBD StandAlone; then salvage`,
    };
  }
  if (s.drbd.role === 'Primary' && !salvaging) {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: DRBD is Primary here, and neither Pacemaker nor salvage promoted it: something else did (by hand, auto-promote, drbd.service). Find what holds ${s.service.device} open, stop it and run \`drbdadm secondary ${res}\`, then salvage` };
  }
  const disks = s.drbd.devices.map((d) => d.disk);
  if (disks.includes('Outdated')) {
    return { kind: 'refuse', code: EXIT.WRONG_STEP, say: `${name}: data here is Outdated: DRBD marked it older than the other site's, so nothing was written here that the other site lacks; there is nothing to salvage: \`ocfkit site rejoin ${name}\` resyncs it` };
  }
  if (disks.length === 0 || disks.some((d) => d !== 'UpToDate' && d !== 'Consistent')) {
    return { kind: 'refuse', code: EXIT.NOT_UPTODATE, say: `${name}: data here is ${disks.join('/') || 'none'}: not a whole copy (a resync was cut, or no disk is attached); DRBD would not serve it and neither does salvage` };
  }
  const warnings = splitBrainSeen
    ? []
    : [`${name}: this node's kernel log shows no refused handshake (a split brain): DRBD is StandAlone for another reason, or the log has moved on; this side may hold nothing the other site lacks`];
  return { kind: 'act', say: `${name}: bringing this site's copy of ${res} up read-only`, warnings };
}
