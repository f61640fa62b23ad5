/**
 * The HA NFS stack as data: nodes, fencing, and one or more services, each a DRBD resource, the
 * filesystem on it and, for an NFS service, its export and its floating address. Read from a JSON
 * file or from flags; every value is checked with the same checks the agents use.
 *
 * A configuration with `sites` describes two Pacemaker clusters, one per site, replicating each
 * service between them (one DRBD peer per site); `siteStack` cuts out the stack of one site, whose
 * services are each bound to a ticket, so only the site holding it promotes.
 */
import { RESOURCE_NAME } from '../../lib/drbd';
import { clientSpecProblem } from '../../lib/exportfs';
import { familyOf, parseAddress } from '../../lib/inet';

export interface Service {
  /** Prefix of the resource ids: <name>-drbd, <name>-fs, <name>-export, <name>-ip. */
  readonly name: string;
  readonly drbd_resource: string;
  readonly device: string;
  readonly directory: string;
  readonly fstype: string;
  /** Absent with `clients`: DRBD and the mount only (an etcd member's data directory). */
  readonly nfs?: NfsPart;
  /** The Pacemaker ticket that lets a site promote this service (sites only). */
  readonly ticket: string;
  /** What runs on the mounted data (etcd, a database): started after the mount, stopped before it. */
  readonly application?: Application;
}

/**
 * An application Pacemaker runs on the service's node: a systemd unit (`systemd:NAME`) or an OCF
 * resource agent (`ocf:PROVIDER:TYPE`) with its parameters.
 */
export interface Application {
  readonly agent: string;
  /** The OCF agent's parameters (a systemd unit takes none). */
  readonly options: Readonly<Record<string, string>>;
}

export interface NfsPart {
  readonly ip: string;
  readonly cidr_netmask: number;
  readonly nic?: string;
  readonly clients: readonly string[];
  readonly export_options: string;
  readonly fsid?: string;
  readonly nfs_shared_infodir?: string;
  /** NFSv4 lease and grace seconds for the server the export starts (shorter failovers). */
  readonly nfsv4_lease_time?: number;
}

export interface Fencing {
  /** A fence agent (fence_ipmilan …) with its options; one device per node, pcmk_host_list set. */
  readonly agent: string;
  readonly options: Readonly<Record<string, string>>;
  /** Options that differ per node (ip=… of each BMC), keyed by node name. */
  readonly per_node?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface Stack {
  /** Two nodes for a one-cluster stack; one or more for a site. */
  readonly nodes: readonly string[];
  /** null: fencing deliberately off (stonith-enabled=false); `check` warns. */
  readonly fencing: Fencing | null;
  readonly services: readonly Service[];
  /** Set when this stack is one site of a two-site deployment. */
  readonly site?: SiteOf;
}

export interface Booth {
  /** Each site's booth address (the booth-site resource's floating address) and the arbitrator's. */
  readonly sites: Readonly<Record<string, string>>;
  readonly arbitrator: string;
  readonly port: number;
  /** Seconds a granted ticket lasts without renewal: how long after losing a site the other takes over. */
  readonly expire: number;
  /** The address the booth-site resource brings up at each site, with its prefix length. */
  readonly cidr_netmask: number;
  readonly nic?: string;
}

export interface Site {
  readonly name: string;
  readonly nodes: readonly string[];
  readonly fencing: Fencing | null;
}

export interface SiteOf {
  readonly name: string;
  /** Both sites, this one included, in the configuration's order. */
  readonly sites: readonly Site[];
  readonly booth?: Booth;
}

/** A whole configuration: one cluster (`stack`), or two sites (`sites`, `siteStack` cuts one out). */
export interface Deployment {
  readonly stack?: Stack;
  readonly sites?: readonly Site[];
  readonly services: readonly Service[];
  readonly booth?: Booth;
}

export class StackError extends Error {}

const NAME = /^[a-z][a-z0-9-]{0,30}$/;
const NODE = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;
const PATH = /^\/[\w.\/-]*$/;
const OPTS = /^[A-Za-z0-9_=:./@+-]+(,[A-Za-z0-9_=:./@+-]+)*$/;
const FSTYPES = new Set(['ext4', 'xfs', 'ext3', 'btrfs']);
const KEY = /^[a-z][a-z0-9_]{0,40}$/;
const VALUE = /^[\w.:\/@+=,-]{0,200}$/;
/** Pacemaker ticket ids are XML ids; booth also limits them to 63 characters. */
const TICKET = /^[A-Za-z_][\w.-]{0,62}$/;

function str(o: Record<string, unknown>, key: string, where: string, ok: RegExp, optional = false): string | undefined {
  const v = o[key];
  if (v === undefined || v === '') {
    if (optional) return undefined;
    throw new StackError(`${where}: ${key} is required`);
  }
  if (typeof v !== 'string' || !ok.test(v)) throw new StackError(`${where}: ${key} ${JSON.stringify(v)} is not valid`);
  return v;
}

function options(o: unknown, where: string): Record<string, string> {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new StackError(`${where} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (!KEY.test(k) || typeof v !== 'string' || !VALUE.test(v)) throw new StackError(`${where}: ${k}=${JSON.stringify(v)} is not a plain option`);
    out[k] = v;
  }
  return out;
}

function leaseTime(v: unknown, where: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'string' && /^\d{1,4}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 10 || n > 3600) throw new StackError(`${where}: nfsv4_lease_time ${JSON.stringify(v)} is not 10 to 3600 seconds`);
  return n;
}

function nfsPart(o: Record<string, unknown>, where: string): NfsPart | undefined {
  if ((o.ip === undefined || o.ip === '') && o.clients === undefined) return undefined;
  const ipFull = str(o, 'ip', where, /^[0-9A-Fa-f:.]+(\/\d{1,3})?$/)!;
  const [ip, len] = ipFull.split('/');
  const fam = familyOf(ip!);
  if (!fam) throw new StackError(`${where}: ip ${JSON.stringify(ipFull)} is not an address`);
  const cidr = o.cidr_netmask ?? (len !== undefined ? Number(len) : undefined);
  if (typeof cidr !== 'number' || !Number.isInteger(cidr) || cidr < 1 || cidr > (fam === 4 ? 32 : 128)) {
    throw new StackError(`${where}: give the prefix length (ip 192.0.2.10/24 or cidr_netmask)`);
  }
  const clients = o.clients;
  if (!Array.isArray(clients) || clients.length === 0) throw new StackError(`${where}: clients must list at least one client spec`);
  for (const c of clients) {
    if (typeof c !== 'string' || clientSpecProblem(c)) throw new StackError(`${where}: client ${JSON.stringify(c)} is not a client spec`);
  }
  return {
    ip: ip!,
    cidr_netmask: cidr,
    nic: str(o, 'nic', where, /^[A-Za-z0-9_.@+-]{1,15}$/, true),
    clients: clients as string[],
    export_options: str(o, 'export_options', where, OPTS, true) ?? 'rw,sync,no_subtree_check',
    fsid: str(o, 'fsid', where, /^(\d{1,10}|root|[0-9a-fA-F-]{32,36})$/, true),
    nfs_shared_infodir: str(o, 'nfs_shared_infodir', where, PATH, true),
    nfsv4_lease_time: leaseTime(o.nfsv4_lease_time, where),
  };
}

const SYSTEMD_UNIT = /^systemd:[A-Za-z0-9:_.\\@-]{1,200}$/;
const OCF_AGENT = /^ocf:[A-Za-z0-9_.-]{1,64}:[A-Za-z0-9_.-]{1,64}$/;

/** "systemd:etcd", "ocf:heartbeat:pgsql", or {"agent": …, "options": {…}} for an OCF agent's parameters. */
function applicationOf(raw: unknown, where: string): Application | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const o = (typeof raw === 'string' ? { agent: raw } : raw) as Record<string, unknown>;
  if (typeof o !== 'object' || Array.isArray(o)) throw new StackError(`${where}: application must be "systemd:UNIT", "ocf:PROVIDER:TYPE" or {"agent": …, "options": {…}}`);
  const agent = o.agent;
  if (typeof agent !== 'string' || !(SYSTEMD_UNIT.test(agent) || OCF_AGENT.test(agent))) {
    throw new StackError(`${where}: application agent ${JSON.stringify(agent)} is neither systemd:UNIT nor ocf:PROVIDER:TYPE`);
  }
  const opts = options(o.options, `${where}.application.options`);
  // Pacemaker passes a systemd unit no parameters: options there would be silently dropped.
  if (agent.startsWith('systemd:') && Object.keys(opts).length) throw new StackError(`${where}: a systemd application takes no options (configure the unit itself)`);
  return { agent, options: opts };
}

function service(raw: unknown, i: number): Service {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new StackError(`services[${i}] must be an object`);
  const o = raw as Record<string, unknown>;
  const where = `services[${i}]`;
  const name = str(o, 'name', where, NAME)!;
  const nfs = nfsPart(o, where);
  const fstype = str(o, 'fstype', where, /^[a-z0-9]+$/)!;
  if (!FSTYPES.has(fstype)) throw new StackError(`${where}: fstype ${fstype} is not one of ${[...FSTYPES].join(', ')}`);
  const application = applicationOf(o.application, where);
  return {
    name,
    drbd_resource: str(o, 'drbd_resource', where, RESOURCE_NAME)!,
    device: str(o, 'device', where, /^\/dev\/[\w\/.-]+$/)!,
    directory: str(o, 'directory', where, PATH)!,
    fstype,
    ...(nfs ? { nfs } : {}),
    ticket: str(o, 'ticket', where, TICKET, true) ?? `ticket-${name}`,
    ...(application ? { application } : {}),
  };
}

function fencingOf(raw: unknown, nodes: readonly string[], where: string): Fencing | null {
  if (raw === null || raw === 'none') return null;
  const f = raw as Record<string, unknown> | undefined;
  if (!f || typeof f !== 'object') throw new StackError(`${where} must be {"agent": "fence_…", "options": {…}} or "none"`);
  const agent = str(f, 'agent', where, /^fence_[a-z0-9_]+$/)!;
  const per = f.per_node as Record<string, unknown> | undefined;
  const perNode: Record<string, Record<string, string>> = {};
  for (const [n, opts] of Object.entries(per ?? {})) {
    if (!nodes.includes(n)) throw new StackError(`${where}.per_node: ${n} is not one of the nodes`);
    perNode[n] = options(opts, `${where}.per_node.${n}`);
  }
  return { agent, options: options(f.options, `${where}.options`), per_node: perNode };
}

function servicesOf(raw: unknown): Service[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new StackError('services must list at least one service');
  const parsed = raw.map(service);
  const keys: Array<(s: Service) => string | undefined> = [(s) => s.name, (s) => s.drbd_resource, (s) => s.device, (s) => s.directory, (s) => s.nfs?.ip, (s) => s.ticket];
  const names = ['name', 'drbd_resource', 'device', 'directory', 'ip', 'ticket'];
  keys.forEach((key, k) => {
    const seen = new Set<string>();
    for (const s of parsed) {
      const v = key(s);
      if (v === undefined) continue;
      if (seen.has(v)) throw new StackError(`two services share ${names[k]} ${v}`);
      seen.add(v);
    }
  });
  if (parsed.some((s) => s.nfs && !parseAddress(s.nfs.ip))) throw new StackError('an address does not parse');
  return parsed;
}

function nodesOf(raw: unknown, where: string, exactlyTwo: boolean): string[] {
  const ok = Array.isArray(raw) && raw.every((n) => typeof n === 'string' && NODE.test(n)) && new Set(raw).size === raw.length;
  if (exactlyTwo && (!ok || (raw as string[]).length !== 2)) throw new StackError('nodes must name the two cluster nodes, as corosync knows them');
  if (!ok || (raw as string[]).length === 0) throw new StackError(`${where}: nodes must name the site's cluster nodes, as corosync knows them`);
  return raw as string[];
}

function address(v: unknown, where: string): string {
  if (typeof v !== 'string' || !parseAddress(v)) throw new StackError(`${where} ${JSON.stringify(v)} is not an address`);
  return v;
}

function boothOf(raw: unknown, sites: readonly Site[]): Booth | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new StackError('booth must be an object');
  const o = raw as Record<string, unknown>;
  const addrs = (o.sites ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const s of sites) out[s.name] = address(addrs[s.name], `booth.sites.${s.name}`);
  for (const k of Object.keys(addrs)) if (!sites.some((s) => s.name === k)) throw new StackError(`booth.sites: ${k} is not one of the sites`);
  const int = (k: string, d: number, lo: number, hi: number) => {
    const v = o[k] ?? d;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new StackError(`booth.${k} ${JSON.stringify(v)} is not ${lo} to ${hi}`);
    return v;
  };
  const all = [...Object.values(out), address(o.arbitrator, 'booth.arbitrator')];
  if (new Set(all).size !== all.length) throw new StackError('booth: the sites and the arbitrator need one address each');
  return {
    sites: out,
    arbitrator: all[all.length - 1]!,
    port: int('port', 9929, 1, 65535),
    expire: int('expire', 600, 30, 86400),
    cidr_netmask: int('cidr_netmask', 24, 1, 128),
    nic: str(o, 'nic', 'booth', /^[A-Za-z0-9_.@+-]{1,15}$/, true),
  };
}

/** Checks and normalizes a configuration read from JSON (or built from flags). */
export function parseDeployment(raw: unknown): Deployment {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new StackError('the stack must be a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.sites === undefined) {
    if (o.booth !== undefined) throw new StackError('booth needs sites');
    const nodes = nodesOf(o.nodes, 'stack', true);
    const stack: Stack = { nodes, fencing: fencingOf(o.fencing, nodes, 'fencing'), services: servicesOf(o.services) };
    return { stack, services: stack.services };
  }
  if (o.nodes !== undefined || o.fencing !== undefined) throw new StackError('with sites, nodes and fencing belong to each site');
  const rawSites = o.sites;
  if (rawSites === null || typeof rawSites !== 'object' || Array.isArray(rawSites)) throw new StackError('sites must be an object: {"a": {"nodes": […], "fencing": …}, "b": {…}}');
  const sites = Object.entries(rawSites as Record<string, unknown>).map(([name, v]): Site => {
    if (!NAME.test(name)) throw new StackError(`site name ${JSON.stringify(name)} is not valid`);
    const so = (v ?? {}) as Record<string, unknown>;
    const nodes = nodesOf(so.nodes, `sites.${name}`, false);
    return { name, nodes, fencing: fencingOf(so.fencing, nodes, `sites.${name}.fencing`) };
  });
  if (sites.length !== 2) throw new StackError('sites must name exactly two sites (one DRBD peer each)');
  const shared = sites[0]!.nodes.filter((n) => sites[1]!.nodes.includes(n));
  if (shared.length) throw new StackError(`node ${shared[0]} is in both sites: each site is its own cluster`);
  const services = servicesOf(o.services);
  return { sites, services, booth: boothOf(o.booth, sites) };
}

/** The stack of one cluster: the configuration's own, or the named site's. */
export function stackOf(d: Deployment, site?: string): Stack {
  if (d.stack) {
    if (site !== undefined) throw new StackError(`--site ${site}: this configuration has no sites`);
    return d.stack;
  }
  const names = d.sites!.map((s) => s.name);
  if (site === undefined) throw new StackError(`this configuration has sites: name one with --site ${names.join('|')}`);
  const s = d.sites!.find((x) => x.name === site);
  if (!s) throw new StackError(`--site ${site}: not one of ${names.join(', ')}`);
  return { nodes: s.nodes, fencing: s.fencing, services: d.services, site: { name: s.name, sites: d.sites!, ...(d.booth ? { booth: d.booth } : {}) } };
}

/** A one-cluster stack (the configuration without sites). */
export function parseStack(raw: unknown): Stack {
  return stackOf(parseDeployment(raw));
}

export const ids = (s: Service) => ({
  drbd: `${s.name}-drbd`,
  ticket: `${s.name}-ticket`,
  clone: `${s.name}-drbd-clone`,
  fs: `${s.name}-fs`,
  export: `${s.name}-export`,
  ip: `${s.name}-ip`,
  app: `${s.name}-app`,
});
