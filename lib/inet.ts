/** Address arithmetic for IPv4 and IPv6, strict about what it accepts: no zone ids, no octal. */

export type Family = 4 | 6;

export function parseIPv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    // A leading zero would be octal to inet_aton but decimal to us: refuse the ambiguity.
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

export function parseIPv6(s: string): Uint8Array | undefined {
  if (!/^[0-9A-Fa-f:.]{2,45}$/.test(s)) return undefined;
  let text = s;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    // An embedded IPv4 tail (::ffff:192.0.2.1) is two more 16-bit groups.
    const v4 = parseIPv4(tail);
    if (!v4) return undefined;
    const hi = ((v4[0]! << 8) | v4[1]!).toString(16);
    const lo = ((v4[2]! << 8) | v4[3]!).toString(16);
    text = `${s.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (x: string) => (x === '' ? [] : x.split(':'));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  if (![...left, ...right].every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
  const given = left.length + right.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const words = [...left, ...Array<string>(8 - given).fill('0'), ...right].map((g) => parseInt(g, 16));
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

export function familyOf(s: string): Family | undefined {
  if (parseIPv4(s)) return 4;
  if (s.includes(':') && parseIPv6(s)) return 6;
  return undefined;
}

export function parseAddress(s: string): { family: Family; bytes: Uint8Array } | undefined {
  const v4 = parseIPv4(s);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = s.includes(':') ? parseIPv6(s) : undefined;
  return v6 ? { family: 6, bytes: v6 } : undefined;
}

/** Same address, whatever the spelling (`fd00::1` and `FD00:0:0::1`). */
export function sameAddress(a: string, b: string): boolean {
  const x = parseAddress(a);
  const y = parseAddress(b);
  if (!x || !y || x.family !== y.family) return false;
  return x.bytes.every((v, i) => v === y.bytes[i]);
}

export function maxPrefix(f: Family): number {
  return f === 4 ? 32 : 128;
}

/** A dotted IPv4 netmask (255.255.255.0) as a prefix length, if its bits are contiguous. */
export function netmaskToPrefix(mask: string): number | undefined {
  const b = parseIPv4(mask);
  if (!b) return undefined;
  const bits = b.reduce((acc, x) => acc + x.toString(2).padStart(8, '0'), '');
  if (!/^1*0*$/.test(bits)) return undefined;
  return bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
}

/** Whether `addr` lies in `net/len`. */
export function inPrefix(addr: string, net: string, len: number): boolean {
  const a = parseAddress(addr);
  const n = parseAddress(net);
  if (!a || !n || a.family !== n.family || len < 0 || len > maxPrefix(a.family)) return false;
  for (let bit = 0; bit < len; bit++) {
    const i = bit >> 3;
    const m = 0x80 >> (bit & 7);
    if ((a.bytes[i]! & m) !== (n.bytes[i]! & m)) return false;
  }
  return true;
}

/** Host bits all zero (the network address) or, for IPv4, all one (broadcast): not a usable host. */
export function isNetworkOrBroadcast(addr: string, len: number): boolean {
  const a = parseAddress(addr);
  if (!a) return false;
  const max = maxPrefix(a.family);
  if (len >= max - (a.family === 4 ? 1 : 0)) return false;
  let zero = true;
  let one = true;
  for (let bit = len; bit < max; bit++) {
    const set = (a.bytes[bit >> 3]! & (0x80 >> (bit & 7))) !== 0;
    if (set) zero = false;
    else one = false;
  }
  return zero || (a.family === 4 && one);
}

/** Whether ADDR is configured on an interface of this host (ADDRS: the addresses `os.networkInterfaces()` lists). */
export function isLocalAddress(addr: string, addrs: readonly string[]): boolean {
  return addrs.some((a) => sameAddress(a, addr));
}
