/** iproute2's `ip -j`: argv builders and parsers of its JSON. No policy lives here. */
import type { Family } from './inet';
import { sameAddress } from './inet';
import { type RunResult, type Runner, describe } from './run';

export interface IpAddr {
  readonly family: 'inet' | 'inet6';
  readonly local: string;
  readonly prefixlen: number;
  readonly label?: string;
  readonly broadcast?: string;
  readonly tentative: boolean;
  readonly dadfailed: boolean;
  readonly deprecated: boolean;
  readonly secondary: boolean;
}

export interface IpLink {
  readonly ifindex: number;
  readonly ifname: string;
  readonly flags: readonly string[];
  readonly operstate: string;
  readonly addrs: readonly IpAddr[];
}

export interface IpRoute {
  readonly dst: string;
  readonly dev: string;
  readonly gateway?: string;
  readonly prefsrc?: string;
  readonly protocol?: string;
}

export class IpError extends Error {
  constructor(
    message: string,
    readonly result?: RunResult,
  ) {
    super(message);
  }
}

function asObject(x: unknown): Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}

function jsonArray(stdout: string, what: string): unknown[] {
  const text = stdout.trim();
  if (text === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new IpError(`ip ${what}: output is not JSON`);
  }
  if (!Array.isArray(v)) throw new IpError(`ip ${what}: output is not a JSON array`);
  return v;
}

export function parseAddrJson(stdout: string): IpLink[] {
  return jsonArray(stdout, 'addr').map((raw) => {
    const o = asObject(raw);
    const addrs = (Array.isArray(o.addr_info) ? o.addr_info : []).map((ra): IpAddr => {
      const a = asObject(ra);
      return {
        family: a.family === 'inet6' ? 'inet6' : 'inet',
        local: String(a.local ?? ''),
        prefixlen: Number(a.prefixlen ?? -1),
        label: typeof a.label === 'string' ? a.label : undefined,
        broadcast: typeof a.broadcast === 'string' ? a.broadcast : undefined,
        tentative: a.tentative === true,
        dadfailed: a.dadfailed === true,
        deprecated: a.deprecated === true,
        secondary: a.secondary === true,
      };
    });
    return {
      ifindex: Number(o.ifindex ?? -1),
      ifname: String(o.ifname ?? ''),
      flags: Array.isArray(o.flags) ? o.flags.map(String) : [],
      operstate: String(o.operstate ?? 'UNKNOWN'),
      addrs,
    };
  });
}

export function parseRouteJson(stdout: string): IpRoute[] {
  return jsonArray(stdout, 'route').map((raw) => {
    const o = asObject(raw);
    return {
      dst: String(o.dst ?? ''),
      dev: String(o.dev ?? ''),
      gateway: typeof o.gateway === 'string' ? o.gateway : undefined,
      prefsrc: typeof o.prefsrc === 'string' ? o.prefsrc : undefined,
      protocol: typeof o.protocol === 'string' ? o.protocol : undefined,
    };
  });
}

/**
 * Whether a link can carry traffic: administratively up and with carrier. An address on a link
 * that is down answers nobody, whatever `ip addr` shows.
 */
export function linkProblem(link: IpLink): string | undefined {
  if (!link.flags.includes('UP')) return `interface ${link.ifname} is administratively down`;
  if (link.flags.includes('NO-CARRIER') || !link.flags.includes('LOWER_UP')) return `interface ${link.ifname} has no carrier (state ${link.operstate})`;
  if (['DOWN', 'LOWERLAYERDOWN', 'NOTPRESENT', 'DORMANT'].includes(link.operstate)) return `interface ${link.ifname} is ${link.operstate}`;
  return undefined;
}

export interface Placement {
  readonly link: IpLink;
  readonly addr: IpAddr;
}

/** Every place `address` is configured on this host. */
export function findAddress(links: readonly IpLink[], address: string): Placement[] {
  const out: Placement[] = [];
  for (const link of links) for (const addr of link.addrs) if (sameAddress(addr.local, address)) out.push({ link, addr });
  return out;
}

const fam = (f: Family) => (f === 4 ? '-4' : '-6');

export async function showAddresses(run: Runner, family?: Family): Promise<IpLink[]> {
  const r = await run(['ip', '-j', ...(family ? [fam(family)] : []), 'addr', 'show']);
  if (r.code !== 0) throw new IpError(describe(r), r);
  return parseAddrJson(r.stdout);
}

/** On-link routes whose destination contains `address`: what findif does, as JSON. */
export async function onLinkRoutes(run: Runner, family: Family, address: string): Promise<IpRoute[]> {
  const argv = ['ip', '-j', fam(family), 'route', 'show', 'table', 'main', 'match', address];
  const r = await run(argv);
  if (r.code !== 0) throw new IpError(describe(r), r);
  return parseRouteJson(r.stdout).filter((rt) => rt.dst !== 'default' && !rt.gateway && rt.dev !== '');
}

export interface AddSpec {
  readonly family: Family;
  readonly address: string;
  readonly prefix: number;
  readonly dev: string;
  /** IPv4 only: an address, or "+" for the host bits set. */
  readonly broadcast?: string;
  readonly label?: string;
  readonly preferredLft?: string;
  readonly nodad?: boolean;
  readonly noprefixroute?: boolean;
}

export function addArgv(s: AddSpec): string[] {
  const argv = ['ip', fam(s.family), 'addr', 'add', `${s.address}/${s.prefix}`];
  if (s.family === 4 && s.broadcast) argv.push('broadcast', s.broadcast);
  argv.push('dev', s.dev);
  if (s.label) argv.push('label', s.label);
  if (s.preferredLft) argv.push('preferred_lft', s.preferredLft);
  if (s.nodad && s.family === 6) argv.push('nodad');
  if (s.noprefixroute) argv.push('noprefixroute');
  return argv;
}

export function delArgv(family: Family, address: string, prefix: number, dev: string): string[] {
  return ['ip', fam(family), 'addr', 'del', `${address}/${prefix}`, 'dev', dev];
}
