/**
 * Tickle ACKs: the TCP connections clients hold to a floating address, read from /proc/net/tcp and
 * tcp6, recorded where the next node finds them, and handed to tickle_tcp (resource-agents) there.
 *
 * Why: a client whose server died keeps its connection and retransmits on TCP's exponential backoff
 * (0.2 s doubling: 25 s, 51 s, 102 s after the last answer). Once the address is up on the new node,
 * nothing reaches the client until its next retransmission. A tickle is an ACK from the address to the
 * client's port with sequence numbers it cannot accept: the client answers with its own ACK, the new
 * node's kernel has no such connection and resets it, and the client reconnects at once. The file
 * format (`local:port<TAB>remote:port` per line) and name (TICKLE_DIR/ADDRESS) are portblock's.
 */
import { readFileSync } from 'node:fs';
import { type Family, parseAddress, sameAddress } from './inet';

export const TICKLE_TCP = '/usr/libexec/heartbeat/tickle_tcp';
const PROC_NET_TCP = { 4: '/proc/net/tcp', 6: '/proc/net/tcp6' } as const;

/** This host's TCP tables, IPv4 then IPv6; an empty text for a family the kernel does not have. */
export function readProcNetTcp(): string[] {
  return [PROC_NET_TCP[4], PROC_NET_TCP[6]].map((f) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  });
}

/** TCP_ESTABLISHED in include/net/tcp_states.h, as /proc/net/tcp prints it. */
const ESTABLISHED = '01';

export interface Connection {
  readonly local: string;
  readonly localPort: number;
  readonly remote: string;
  readonly remotePort: number;
}

/** One address of /proc/net/tcp{,6}: 32-bit words in the kernel's (little-endian) order, v4-mapped IPv6 as IPv4. */
function decodeAddress(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{8}$|^[0-9A-Fa-f]{32}$/.test(hex)) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(hex.slice(w + b, w + b + 2), 16));
  }
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return compressIPv6(groups);
}

/** RFC 5952 text: the longest run of two or more zero groups becomes "::". */
function compressIPv6(groups: string[]): string {
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

function decodeEndpoint(field: string | undefined): { addr: string; port: number } | undefined {
  const m = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(field ?? '');
  const addr = m ? decodeAddress(m[1]!) : undefined;
  return addr ? { addr, port: parseInt(m![2]!, 16) } : undefined;
}

/** The established connections in the text of /proc/net/tcp or /proc/net/tcp6. */
export function parseProcNetTcp(text: string): Connection[] {
  const out: Connection[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] !== ESTABLISHED) continue;
    const l = decodeEndpoint(f[1]);
    const r = decodeEndpoint(f[2]);
    if (l && r) out.push({ local: l.addr, localPort: l.port, remote: r.addr, remotePort: r.port });
  }
  return out;
}

/** The record of the clients' connections to ADDRESS, one `local:port<TAB>remote:port` line each, sorted. */
export function tickleRecord(address: string, tables: readonly string[]): string {
  const lines = new Set<string>();
  for (const text of tables) {
    for (const c of parseProcNetTcp(text)) {
      if (sameAddress(c.local, address)) lines.add(`${c.local}:${c.localPort}\t${c.remote}:${c.remotePort}`);
    }
  }
  return [...lines].sort().map((l) => `${l}\n`).join('');
}

/**
 * The lines of a record that tickle_tcp may be given for ADDRESS: each from ADDRESS to a unicast
 * address of the same family. The record lives on shared storage; anything else in it is ignored.
 */
export function tickleLines(address: string, record: string): string[] {
  const family = parseAddress(address)?.family;
  const out: string[] = [];
  for (const line of record.split('\n')) {
    const m = /^(.+):(\d{1,5})\t(.+):(\d{1,5})$/.exec(line.trim());
    if (!m || !sameAddress(m[1]!, address) || !portOk(m[2]!) || !portOk(m[4]!)) continue;
    const remote = parseAddress(m[3]!);
    if (!remote || remote.family !== family || !unicast(remote.family, remote.bytes)) continue;
    out.push(`${address}:${Number(m[2])}\t${m[3]}:${Number(m[4])}`);
  }
  return out;
}

function portOk(p: string): boolean {
  const n = Number(p);
  return n >= 1 && n <= 65535;
}

function unicast(family: Family, b: Uint8Array): boolean {
  if (family === 4) return b[0] !== 0 && b[0] !== 127 && b[0]! < 224 && !b.every((x) => x === 255);
  return b[0] !== 0xff && !b.every((x, i) => x === 0 || (i === 15 && x === 1));
}

/** tickle_tcp sends COUNT tickles to each connection listed on its standard input. */
export function tickleArgv(count: number): string[] {
  return [TICKLE_TCP, '-n', String(count)];
}
