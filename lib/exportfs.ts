/**
 * nfs-utils' exportfs and the kernel's export cache: argv builders and parsers. `exportfs -s`
 * is the form to read (one line per export, paths octal-escaped); `-v` wraps lines and prints
 * paths raw, and is parsed only for tools that lack -s.
 */
import { familyOf, netmaskToPrefix, parseAddress } from './inet';
import { decodeMountField } from './mounts';

export interface Export {
  readonly dir: string;
  /** As exportfs prints it: `*` for the world (`<world>` in -v), IPv6 without brackets. */
  readonly client: string;
  readonly options: readonly string[];
}

function splitClient(token: string): { client: string; options: string[] } {
  const m = /^(.*?)\(([^()]*)\)$/.exec(token);
  if (!m) return { client: token, options: [] };
  return { client: m[1]!, options: m[2]!.split(',').filter(Boolean) };
}

/** `exportfs -s`, `/var/lib/nfs/etab` and `/proc/net/rpc/nfsd.export/content`: `path client(opts)` per line. */
export function parseExportLines(text: string): Export[] {
  const out: Export[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const fields = t.split(/\s+/);
    if (fields.length < 2) continue;
    const { client, options } = splitClient(fields[fields.length - 1]!);
    out.push({ dir: decodeMountField(fields.slice(0, -1).join(' ')), client: client === '<world>' ? '*' : client, options });
  }
  return out;
}

/**
 * `exportfs -v`: `path<TAB>client(opts)`, or the path alone on a line and the client on the next,
 * indented, when either is long. Paths are printed raw, so one with spaces is read as it stands.
 */
export function parseExportfsV(text: string): Export[] {
  const out: Export[] = [];
  let pending: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line) && pending !== undefined) {
      const { client, options } = splitClient(line.trim());
      out.push({ dir: pending, client: client === '<world>' ? '*' : client, options });
      pending = undefined;
      continue;
    }
    const tab = line.lastIndexOf('\t');
    const tail = tab >= 0 ? line.slice(tab + 1).trim() : '';
    if (tab >= 0 && tail.includes('(')) {
      const { client, options } = splitClient(tail);
      out.push({ dir: line.slice(0, tab).trimEnd(), client: client === '<world>' ? '*' : client, options });
    } else {
      pending = line.replace(/\s+$/, '');
    }
  }
  return out;
}

/** A client spec the way exportfs prints it, for comparison: brackets off, netmask kept as written. */
export function normalizeClient(spec: string): string {
  let s = spec.trim();
  if (s === '<world>') return '*';
  const m = /^\[([^\]]+)\](\/\d+)?$/.exec(s);
  if (m) s = `${m[1]}${m[2] ?? ''}`;
  return s.toLowerCase();
}

/** What is wrong with a client spec, or undefined: host, `*`, wildcard, `@netgroup`, address[/prefix|/netmask], IPv6 with or without brackets. */
export function clientSpecProblem(spec: string): string | undefined {
  const bad = `${JSON.stringify(spec)} is not a client spec (host, *, *.domain, @netgroup, address, address/prefix)`;
  if (spec === '*') return undefined;
  if (spec.startsWith('@')) return /^@[A-Za-z0-9_.-]{1,64}$/.test(spec) ? undefined : bad;
  const bracket = /^\[([0-9A-Fa-f:.]+)\](?:\/(\d{1,3}))?$/.exec(spec);
  const [addr, len] = bracket ? [bracket[1]!, bracket[2]] : spec.split('/', 2);
  if (addr !== undefined && parseAddress(addr)) {
    const fam = familyOf(addr)!;
    if (len === undefined) return undefined;
    if (/^\d{1,3}$/.test(len) && Number(len) <= (fam === 4 ? 32 : 128)) return undefined;
    if (fam === 4 && netmaskToPrefix(len) !== undefined) return undefined;
    return `${JSON.stringify(spec)}: ${len} is not a prefix length or netmask for IPv${fam}`;
  }
  if (spec.includes('/') || bracket) return bad;
  // Host names and wildcards (*.example.com, node?.lab): DNS characters plus * and ?.
  return /^[A-Za-z0-9*?]([A-Za-z0-9*?._-]{0,252})$/.test(spec) ? undefined : bad;
}

/** The `client:dir` argument; IPv6 clients go in brackets so the colon split stays unambiguous. */
export function target(client: string, dir: string): string {
  const c = client.trim();
  const bare = c.replace(/\/\d+$/, '');
  return c.includes(':') && !c.startsWith('[') ? `[${bare}]${c.slice(bare.length)}:${dir}` : `${c}:${dir}`;
}

export function exportArgv(client: string, dir: string, options: string): string[] {
  return ['exportfs', '-v', ...(options ? ['-o', options] : []), target(client, dir)];
}

export function unexportArgv(client: string, dir: string): string[] {
  return ['exportfs', '-v', '-u', target(client, dir)];
}

export const LIST_ARGV = ['exportfs', '-s'] as const;
/** exportfs's table of what is exported now (nfs-utils' default state directory). */
export const ETAB = '/var/lib/nfs/etab';
export const FLUSH_ARGV = ['exportfs', '-f'] as const;
export const EXPORT_CACHE = '/proc/net/rpc/nfsd.export/content';

/** The export of `dir` to `client`, if exportfs lists one. */
export function findExport(list: readonly Export[], dir: string, client: string): Export | undefined {
  const want = normalizeClient(client);
  return list.find((e) => e.dir === dir && normalizeClient(e.client) === want);
}

/** The value of fsid= in an option string, if any. */
export function fsidOption(options: string): string | undefined {
  return /(?:^|,)fsid=([^,]*)/.exec(options)?.[1];
}
