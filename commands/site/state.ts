/**
 * What `ocfkit site` knows about a service at this site: whether this cluster holds its ticket
 * (the CIB's status section, or booth's view), DRBD here from machine output, the peer as this
 * node last saw it (drbd-promote's record), and where Pacemaker runs the service's stack.
 */
import { readFileSync } from 'node:fs';
import { CRM_MON_XML, type FailedAction, type Placement, parseCrmMon, parseFailures, parseResult } from '../../lib/cluster';
import { type DrbdConnection, DrbdAdm, type DrbdResource, parseProcDrbd, resourceState } from '../../lib/drbd';
import { linkWentAt } from '../../lib/drbd-link-log';
import { type LinkWentAt, type PeerRecord, type PeerSeen, peerRecordNow, readPeerRecord } from '../../lib/drbd-peer';
import { kernelMessages } from '../../lib/kernel-log';
import { type RunResult, type Runner, describe } from '../../lib/run';
import { findAll, parseXml } from '../../lib/xml';
import { type Service, type Stack, ids } from '../stack/model';
import { type BoothTicket, boothList } from './booth';
import { type SalvageRecord, readSalvageRecord } from './salvage-record';

export interface TicketHere {
  readonly granted: boolean;
  readonly standby: boolean;
  /** Seconds since the epoch, as Pacemaker records it. */
  readonly lastGranted?: number;
}

export interface ServiceState {
  readonly service: Service;
  readonly site: string;
  readonly ticket: TicketHere;
  /** Booth's view when the deployment uses booth. */
  readonly booth?: BoothTicket;
  /** Why booth's view could not be read (boothd not answering), when the deployment uses booth. */
  readonly boothUnreadable?: string;
  /** undefined: the DRBD module is not loaded here. */
  readonly drbd?: DrbdResource;
  /** The replication link to the other site's peer (the only one, or the one named after its nodes). */
  readonly link?: DrbdConnection;
  readonly record?: PeerSeen;
  /** While the link is down: when it went and the peer's role then, as DRBD logged it here. */
  readonly linkLoss?: LinkWent;
  /** The node here where DRBD is promoted, and whether every resource placed with it runs there. */
  readonly promotedOn?: string;
  /** Every part runs where DRBD is promoted: the mount, the export and address, the application. */
  readonly stackRunning: boolean;
  readonly stackParts: ReadonlyArray<StackPart>;
  /** Parts the cluster does not know (not in crm_mon at all): the plan is not applied here. */
  readonly missing?: readonly string[];
  /** Failed actions crm_mon reports for the service's resources: why a part does not run. */
  readonly failures?: readonly FailedAction[];
  /** A `site salvage` under way here: this side's copy mounted read-only, the DRBD clone in maintenance. */
  readonly salvage?: SalvageRecord;
}

export interface StackPart {
  readonly resource: string;
  readonly on: readonly string[];
}

/** What crm_mon says: where resources run, and the failed actions. */
export interface ClusterView {
  readonly placements: readonly Placement[];
  readonly failures: readonly FailedAction[];
}

export type LinkWent = LinkWentAt;

/**
 * When the link to the other site went, from the kernel log; undefined when the log does not say
 * (rebooted since, or its ring buffer moved on) or cannot be read: the record's window stands then.
 */
export async function linkWent(run: Runner, r: DrbdResource, link: DrbdConnection): Promise<LinkWent | undefined> {
  try {
    return linkWentAt(await kernelMessages(run), r.name, r.devices.map((d) => d.minor), link.peer);
  } catch {
    return undefined;
  }
}

/** Ticket states from the CIB's status section (`cibadmin -Q --scope status`). */
export function parseTicketStates(xml: string): Map<string, TicketHere> {
  const out = new Map<string, TicketHere>();
  for (const t of findAll(parseXml(xml), 'ticket_state')) {
    const lg = Number(t.attrs['last-granted']);
    out.set(t.attrs.id ?? '', { granted: t.attrs.granted === 'true', standby: t.attrs.standby === 'true', ...(Number.isFinite(lg) && lg > 0 ? { lastGranted: lg } : {}) });
  }
  return out;
}

/**
 * The cluster did not answer a reading (a tool timed out or failed): a wait reads again, a one-shot
 * command reports it. A busy node can be slow to answer (a Pacemaker restart, a loaded machine);
 * what the reading would have shown has not changed meanwhile.
 */
export class ReadingError extends Error {}

/** Longest a reading of the CIB or of crm_mon may take: on a loaded node a few seconds is common. */
export const READING_MS = 30_000;

export async function ticketStates(run: Runner): Promise<Map<string, TicketHere>> {
  const r = await run(['cibadmin', '-Q', '--scope', 'status'], { timeoutMs: READING_MS });
  if (r.code !== 0) throw new ReadingError(`reading the cluster's ticket states: ${describe(r)}`);
  return parseTicketStates(r.stdout);
}

/** The connection to the other site: named after one of its nodes, else the only one. */
export function linkToOtherSite(r: DrbdResource | undefined, otherNodes: readonly string[]): DrbdConnection | undefined {
  if (!r) return undefined;
  return r.connections.find((c) => otherNodes.includes(c.peer)) ?? (r.connections.length === 1 ? r.connections[0] : undefined);
}

export function recordFor(rec: PeerRecord | undefined, link: DrbdConnection | undefined, otherNodes: readonly string[]): PeerSeen | undefined {
  if (!rec) return undefined;
  if (link && rec.peers[link.peer]) return rec.peers[link.peer];
  const names = Object.keys(rec.peers);
  const named = names.find((n) => otherNodes.includes(n));
  return named ? rec.peers[named] : names.length === 1 ? rec.peers[names[0]!] : undefined;
}

/** Where the service's stack runs here, from crm_mon's placements. */
export function stackPlacement(s: Service, placements: readonly Placement[]) {
  const id = ids(s);
  const where = (rsc: string) => placements.filter((p) => p.resource === rsc || p.resource.startsWith(`${rsc}:`));
  const promotedOn = where(id.drbd).find((p) => (p.role === 'Promoted' || p.role === 'Master') && p.nodes.length)?.nodes[0];
  const names = [...(s.nfs ? [id.fs, id.export, id.ip] : [id.fs]), ...(s.application ? [id.app] : [])];
  const parts = names.map((resource) => ({ resource, on: where(resource).filter((p) => p.role === 'Started' && !p.failed).flatMap((p) => p.nodes) }));
  const stackRunning = promotedOn !== undefined && parts.every((p) => p.on.length === 1 && p.on[0] === promotedOn);
  const missing = [id.drbd, ...names].filter((r) => where(r).length === 0);
  return { promotedOn, stackRunning, parts, missing };
}

/** The failed actions of the service's own resources. */
export function serviceFailures(s: Service, failures: readonly FailedAction[]): FailedAction[] {
  const id = ids(s);
  const mine = [id.drbd, id.fs, id.export, id.ip, id.app];
  return failures.filter((f) => mine.some((r) => f.opKey.startsWith(`${r}_`) || f.opKey.startsWith(`${r}:`)));
}

/** Where resources run and what failed, from one crm_mon reading. */
export async function clusterView(run: Runner): Promise<ClusterView> {
  const r = await run([...CRM_MON_XML], { timeoutMs: READING_MS });
  const placed = placementsOf(r);
  return { placements: placed, failures: parseFailures(r.stdout) };
}

function placementsOf(r: RunResult): Placement[] {
  if (r.code !== 0 || !r.stdout.trim().startsWith('<')) throw new ReadingError(`asking Pacemaker where resources run: ${describe(r)}`);
  // crm_mon 2.1 and later exit 0 when they cannot reach the CIB, with an <error> and no resources:
  // read as "nothing runs", a wait would take it for the stack stopped.
  const result = parseResult(r.stdout);
  if (result.errors.length > 0 || (result.code !== 0 && result.code !== -1)) {
    throw new ReadingError(`asking Pacemaker where resources run: crm_mon answered ${result.message || `status ${result.code}`}${result.errors.length ? `: ${result.errors.join('; ')}` : ''}`);
  }
  return parseCrmMon(r.stdout);
}

export interface Sources {
  readonly run: Runner;
  readonly drbdconf: string;
  readonly stateDir: string;
  /** /proc/drbd's text, or undefined when the module is not loaded (tests pass it in). */
  readonly procDrbd: () => string | undefined;
}

export function procDrbdFile(): string | undefined {
  try {
    return readFileSync('/proc/drbd', 'utf8');
  } catch {
    return undefined;
  }
}

/** DRBD here with out-of-sync amounts (events2 --statistics on DRBD 9, /proc/drbd's oos on 8.4). */
export async function drbdHere(src: Sources, res: string): Promise<DrbdResource | undefined> {
  const text = src.procDrbd();
  if (text === undefined) return undefined;
  const r = await resourceState(src.run, new DrbdAdm(src.run, src.drbdconf), res, parseProcDrbd(text), true);
  if (!r) throw new Error(`DRBD resource ${res} is not in ${src.drbdconf}`);
  return r;
}

function otherSiteNodes(stack: Stack): string[] {
  return stack.site!.sites.filter((s) => s.name !== stack.site!.name).flatMap((s) => s.nodes);
}

export async function serviceState(src: Sources, stack: Stack, s: Service, tickets: Map<string, TicketHere>, cluster: ClusterView, booth?: BoothView): Promise<ServiceState> {
  const where = cluster.placements;
  const failures = serviceFailures(s, cluster.failures);
  const drbd = await drbdHere(src, s.drbd_resource);
  const other = otherSiteNodes(stack);
  const link = linkToOtherSite(drbd, other);
  const p = stackPlacement(s, where);
  const bt = booth?.tickets.get(s.ticket);
  const record = recordFor(peerRecordNow(readPeerRecord(src.stateDir, s.drbd_resource), drbd, new Date()), link, other);
  // The kernel log here, else what drbd-promote's monitor read from it when it noticed (the log may have moved on since, or the node rebooted).
  const loss = (drbd && link && link.connection !== 'Connected' ? await linkWent(src.run, drbd, link) : undefined) ?? record?.lost?.went;
  const salvage = readSalvageRecord(src.stateDir, s.name);
  return {
    service: s,
    site: stack.site!.name,
    ticket: tickets.get(s.ticket) ?? { granted: false, standby: false },
    ...(bt ? { booth: bt } : {}),
    ...(booth?.error ? { boothUnreadable: booth.error } : {}),
    ...(drbd ? { drbd } : {}),
    ...(link ? { link } : {}),
    ...(record ? { record } : {}),
    ...(loss ? { linkLoss: loss } : {}),
    ...(p.promotedOn ? { promotedOn: p.promotedOn } : {}),
    stackRunning: p.stackRunning,
    stackParts: p.parts,
    ...(p.missing.length ? { missing: p.missing } : {}),
    ...(failures.length ? { failures } : {}),
    ...(salvage ? { salvage } : {}),
  };
}

/** Every named service's state at this site (all when `names` is empty). */
export async function siteStates(src: Sources, stack: Stack, names: readonly string[]): Promise<ServiceState[]> {
  const services = pick(stack, names);
  const tickets = await ticketStates(src.run);
  const where = await clusterView(src.run);
  const booth = stack.site?.booth ? await boothView(src.run) : undefined;
  const out: ServiceState[] = [];
  for (const s of services) out.push(await serviceState(src, stack, s, tickets, where, booth));
  return out;
}

export interface BoothView {
  readonly tickets: Map<string, BoothTicket>;
  /** Why `booth list` gave nothing: said by `site status`, never taken for "no leader". */
  readonly error?: string;
}

/** Booth's view; when boothd does not answer, none and why: the rest of the state still counts. */
export async function boothView(run: Runner): Promise<BoothView> {
  try {
    return { tickets: await boothList(run) };
  } catch (e) {
    return { tickets: new Map(), error: (e as Error).message };
  }
}

export class SiteError extends Error {}

export function pick(stack: Stack, names: readonly string[]): Service[] {
  if (names.length === 0) return [...stack.services];
  return names.map((n) => {
    const s = stack.services.find((x) => x.name === n);
    if (!s) throw new SiteError(`no service ${n} in the configuration (${stack.services.map((x) => x.name).join(', ')})`);
    return s;
  });
}
