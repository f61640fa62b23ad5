/**
 * The DRBD peer as this node last saw it, kept in a small file that outlives the peer, the link and
 * a reboot (so under /var/lib, not /run): after a site is lost, whether its last state was Primary
 * decides whether taking over can lose acknowledged writes. drbd-promote updates it from each
 * monitor, writing only when something changed; `ocfkit site` reads it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DrbdResource } from './drbd';
import type { LinkWentAt } from './drbd-link-log';
import { writeDurably } from './durable-file';

export type { LinkWentAt };

export const PEER_STATE_DIR = '/var/lib/ocfkit/drbd';

export interface PeerSeen {
  /** DRBD's connection state: Connected, Connecting, StandAlone … */
  readonly connection: string;
  readonly peerRole: string;
  /** Per volume, joined with "/". */
  readonly peerDisk: string;
  readonly localRole: string;
  /** Since when the connection has been in this state (as far as this node's monitors saw). */
  readonly since: string;
  /** While connected: unset. Once the link went: the peer's and this node's roles as last recorded while connected. */
  readonly lost?: {
    /** The last record made while connected: the link was up at least until then. */
    readonly lastRecordedConnected: string;
    /** The first monitor that found it down: the link went before then. */
    readonly noticedDown: string;
    readonly peerRole: string;
    readonly peerDisk: string;
    readonly localRole: string;
    /**
     * The moment itself, from DRBD's kernel log, read by the monitor that noticed: the kernel's ring
     * buffer moves on and a reboot empties it, this record stays.
     */
    readonly went?: LinkWentAt;
  };
  /** The last record made while the link was up (unset: never seen connected). */
  readonly lastConnected?: string;
}

export interface PeerRecord {
  readonly resource: string;
  /** By connection name (the peer's host name in DRBD 9, "peer" for 8.4). */
  readonly peers: Readonly<Record<string, PeerSeen>>;
}

export function peerRecordPath(dir: string, resource: string): string {
  return join(dir, `${resource}.peer.json`);
}

export function readPeerRecord(dir: string, resource: string): PeerRecord | undefined {
  let text: string;
  try {
    text = readFileSync(peerRecordPath(dir, resource), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const r = JSON.parse(text) as PeerRecord;
    return r && typeof r === 'object' && r.peers && typeof r.peers === 'object' ? r : undefined;
  } catch {
    return undefined; // torn by hand or a full disk: the next monitor writes a fresh one
  }
}

/**
 * The record after observing `r` at `now`, or undefined when nothing worth writing changed: the same
 * connection state, roles and disks keep the file as it is, so a steady monitor never writes.
 */
export function nextPeerRecord(prev: PeerRecord | undefined, r: DrbdResource, now: Date): PeerRecord | undefined {
  const at = now.toISOString();
  const peers: Record<string, PeerSeen> = {};
  let changed = prev === undefined || Object.keys(prev.peers).length !== r.connections.length;
  for (const c of r.connections) {
    const old = prev?.peers[c.peer];
    const connected = c.connection === 'Connected';
    const peerDisk = c.peerDevices.map((p) => p.peerDisk).join('/') || 'DUnknown';
    if (old && old.connection === c.connection && old.peerRole === c.peerRole && old.peerDisk === peerDisk && old.localRole === r.role) {
      peers[c.peer] = old;
      continue;
    }
    changed = true;
    const wasConnected = old?.connection === 'Connected';
    let lost = old?.lost;
    if (connected) lost = undefined;
    else if (wasConnected) {
      lost = { lastRecordedConnected: old.lastConnected ?? old.since, noticedDown: at, peerRole: old.peerRole, peerDisk: old.peerDisk, localRole: old.localRole };
    }
    const lastConnected = connected ? at : old?.lastConnected;
    peers[c.peer] = {
      connection: c.connection,
      peerRole: c.peerRole,
      peerDisk,
      localRole: r.role,
      since: old && old.connection === c.connection ? old.since : at,
      ...(lost ? { lost } : {}),
      ...(lastConnected ? { lastConnected } : {}),
    };
  }
  return changed ? { resource: r.name, peers } : undefined;
}

/**
 * The record as it stands now: the stored one with the live state folded in, without writing it.
 * A reader between two monitors (the link went a second ago) must see the loss, and which role the
 * peer had then, before drbd-promote's next monitor records it. A resource that is down has no
 * connections to observe: the stored record stands.
 */
export function peerRecordNow(stored: PeerRecord | undefined, r: DrbdResource | undefined, now: Date): PeerRecord | undefined {
  if (!r || r.connections.length === 0) return stored;
  return nextPeerRecord(stored, r, now) ?? stored;
}

/** Peers whose loss this record notes for the first time (at `now`), without the moment yet. */
export function lossesNoticedAt(rec: PeerRecord, now: Date): string[] {
  const at = now.toISOString();
  return Object.entries(rec.peers).filter(([, p]) => p.lost && p.lost.noticedDown === at && !p.lost.went).map(([peer]) => peer);
}

/** The record with the moment the link to PEER went. */
export function withLinkWent(rec: PeerRecord, peer: string, went: LinkWentAt): PeerRecord {
  const p = rec.peers[peer];
  if (!p?.lost) return rec;
  return { ...rec, peers: { ...rec.peers, [peer]: { ...p, lost: { ...p.lost, went } } } };
}

/** Writes the record atomically: a reader (or a crash) sees the old file or the new one, never half. */
export function writePeerRecord(dir: string, rec: PeerRecord): void {
  writeDurably(peerRecordPath(dir, rec.resource), `${JSON.stringify(rec, null, 1)}\n`);
}
