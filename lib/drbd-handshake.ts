/**
 * DRBD's last sync handshake with its peer, from the kernel log. After a refused handshake (a split
 * brain) the peer's generation identifiers and its count of changed blocks exist nowhere else:
 * `drbdadm get-gi` shows this side's only, and events2 and /proc/drbd show neither. Both 8.4
 * (`block drbd0: self …`) and 9 (`drbd r0/0 drbd0 node2: self …`) log the pair in the same form:
 * `self|peer CURRENT:BITMAP:HISTORY1:HISTORY2 bits:N flags:F`.
 */

export interface HandshakeSide {
  /** The data generation this side writes under. */
  readonly current: string;
  /** The generation both sides last agreed on, while this side keeps a bitmap of what changed since ("0…0": none). */
  readonly bitmap: string;
  readonly history: readonly string[];
  /** Blocks (4 KiB) marked changed in this side's bitmap. */
  readonly bits: number;
}

export interface Handshake {
  readonly self: HandshakeSide;
  readonly peer: HandshakeSide;
  /** DRBD logged that it dropped the connection over a split brain after this handshake. */
  readonly splitBrain: boolean;
}

const GI_LINE = /\bdrbd(\d+)(?: (\S+))?: (self|peer) ([0-9A-F]{16}):([0-9A-F]{16}):([0-9A-F]{16}):([0-9A-F]{16}) bits:(\d+) flags:/;
const SPLIT_BRAIN = /\bdrbd(\d+)(?: (\S+))?: Split-Brain detected but unresolved/;

/**
 * The last self/peer pair logged for MINOR, with whether a split brain followed it. DRBD 9 names the
 * peer in each line: with PEER, only that connection's lines count (with several peers their
 * handshakes interleave); 8.4 has one peer and names none.
 */
export function lastHandshake(messages: readonly string[], minor: number, peer?: string): Handshake | undefined {
  let self: HandshakeSide | undefined;
  let found: { self: HandshakeSide; peer: HandshakeSide; splitBrain: boolean } | undefined;
  const ours = (m: RegExpExecArray) => Number(m[1]) === minor && (peer === undefined || m[2] === undefined || m[2] === peer);
  for (const msg of messages) {
    const m = GI_LINE.exec(msg);
    if (m && ours(m)) {
      const side = { current: m[4]!, bitmap: m[5]!, history: [m[6]!, m[7]!], bits: Number(m[8]) };
      if (m[3] === 'self') self = side;
      else if (self) {
        found = { self, peer: side, splitBrain: false };
        self = undefined;
      }
      continue;
    }
    const sb = SPLIT_BRAIN.exec(msg);
    if (sb && found && ours(sb)) found.splitBrain = true;
  }
  return found;
}

const ZERO = '0000000000000000';
/** DRBD compares generations without their lowest bit (it marks "written while Primary"). */
const sameGeneration = (a: string, b: string) => (BigInt(`0x${a}`) | 1n) === (BigInt(`0x${b}`) | 1n);

/** What each side wrote since they last agreed, in words, for a split-brain report. */
export function describeHandshake(h: Handshake): string {
  const kib = (s: HandshakeSide) => `${s.bits * 4} KiB`;
  const since = (s: HandshakeSide) => (s.bitmap === ZERO ? 'no bitmap' : `since generation ${s.bitmap}`);
  const common = h.self.bitmap !== ZERO && sameGeneration(h.self.bitmap, h.peer.bitmap) ? ` Both moved on from generation ${h.self.bitmap}, the last they shared.` : '';
  return `At DRBD's last handshake this site was at generation ${h.self.current} with ${kib(h.self)} changed (${since(h.self)}), the other site at ${h.peer.current} with ${kib(h.peer)} changed (${since(h.peer)}).${common}`;
}
