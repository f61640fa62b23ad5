/**
 * When DRBD's replication link went, and what the peer's role was then, from the kernel log: DRBD
 * logs each connection change as it happens (`conn( Connected -> NetworkFailure ) peer( Primary ->
 * Unknown )`). A record written by monitors knows neither the moment (it notices at its next
 * interval) nor a role the peer took less than one interval before.
 *   DRBD 9: `drbd r0 node2: conn( … ) peer( … )`, every line of one connection named by its peer.
 *   DRBD 8.4: `drbd r0: peer( … ) conn( … )` for the connection, `block drbd0: peer( … )` for a role
 *   change seen on a minor (one peer, unnamed).
 */
import { type KernelMessage, kernelTimeToDate } from './kernel-log';

export interface LinkLoss {
  /** Kernel time of the change, seconds since boot. */
  readonly time: number;
  /** The peer's role just before the link went: Primary, Secondary, or Unknown when the log does not say. */
  readonly peerRole: string;
  /** The connection state it went to (NetworkFailure, BrokenPipe, Timeout, TearDown …). */
  readonly to: string;
}

/** States with no link to the peer (both generations' names). */
const UNCONNECTED = new Set(['StandAlone', 'Disconnecting', 'Unconnected', 'Timeout', 'BrokenPipe', 'NetworkFailure', 'ProtocolError', 'TearDown', 'Connecting', 'WFConnection', 'WFReportParams']);

const CHANGE = (what: string) => new RegExp(`\\b${what}\\( (\\S+) -> (\\S+) \\)`);
const CONN = CHANGE('conn');
const PEER = CHANGE('peer');

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The last time the link of RESOURCE to PEER went down with no reconnect logged since; undefined
 * when it is up as far as the log knows, or the log holds nothing of it. MINORS: the resource's
 * devices, whose 8.4 lines carry the peer's role changes.
 */
export function lastLinkLoss(messages: readonly KernelMessage[], resource: string, minors: readonly number[], peer?: string): LinkLoss | undefined {
  const r = escape(resource);
  const connection = new RegExp(`^drbd ${r}(?: ${peer === undefined ? '[^\\s/:]+' : escape(peer)})?: `);
  const device = new RegExp(`^block drbd(${minors.join('|') || 'NONE'}): `);
  let peerRole = 'Unknown';
  let loss: LinkLoss | undefined;
  for (const { time, msg } of messages) {
    if (!connection.test(msg) && !device.test(msg)) continue;
    const p = PEER.exec(msg);
    const c = CONN.exec(msg);
    if (c && !UNCONNECTED.has(c[1]!) && UNCONNECTED.has(c[2]!)) loss = { time, peerRole: p ? p[1]! : peerRole, to: c[2]! };
    else if (c && !UNCONNECTED.has(c[2]!)) loss = undefined;
    if (p) peerRole = p[2]!;
  }
  return loss;
}

/** The moment the link went, as records and reports write it: ISO time to the second. */
export interface LinkWentAt {
  readonly at: string;
  /** The peer's role just before (Unknown when the log does not say). */
  readonly peerRole: string;
  /** The connection state DRBD went to (NetworkFailure, Timeout, BrokenPipe …). */
  readonly to: string;
}

/** lastLinkLoss with its kernel time made a wall-clock moment (undefined when either is unknown). */
export function linkWentAt(messages: readonly KernelMessage[], resource: string, minors: readonly number[], peer?: string, now = new Date()): LinkWentAt | undefined {
  const loss = lastLinkLoss(messages, resource, minors, peer);
  const at = loss && kernelTimeToDate(loss.time, now);
  return loss && at ? { at: at.toISOString().replace(/\.\d+Z$/, 'Z'), peerRole: loss.peerRole, to: loss.to } : undefined;
}
