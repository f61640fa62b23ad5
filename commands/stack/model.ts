/**
 * The HA NFS stack as data: nodes, fencing, and one or more services, each a DRBD resource, the
 * filesystem on it, its export and its floating address. Read from a JSON file or from flags;
 * every value is checked with the same checks the agents use.
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
  readonly nodes: readonly [string, string];
  /** null: fencing deliberately off (stonith-enabled=false); `check` warns. */
  readonly fencing: Fencing | null;
  readonly services: readonly Service[];
}

export class StackError extends Error {}

const NAME = /^[a-z][a-z0-9-]{0,30}$/;
const NODE = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;
const PATH = /^\/[\w.\/-]*$/;
const OPTS = /^[A-Za-z0-9_=:./@+-]+(,[A-Za-z0-9_=:./@+-]+)*$/;
const FSTYPES = new Set(['ext4', 'xfs', 'ext3', 'btrfs']);
const KEY = /^[a-z][a-z0-9_]{0,40}$/;
const VALUE = /^[\w.:\/@+=,-]{0,200}$/;

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

function service(raw: unknown, i: number): Service {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new StackError(`services[${i}] must be an object`);
  const o = raw as Record<string, unknown>;
  const where = `services[${i}]`;
  const name = str(o, 'name', where, NAME)!;
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
  const fstype = str(o, 'fstype', where, /^[a-z0-9]+$/)!;
  if (!FSTYPES.has(fstype)) throw new StackError(`${where}: fstype ${fstype} is not one of ${[...FSTYPES].join(', ')}`);
  return {
    name,
    drbd_resource: str(o, 'drbd_resource', where, RESOURCE_NAME)!,
    device: str(o, 'device', where, /^\/dev\/[\w\/.-]+$/)!,
    directory: str(o, 'directory', where, PATH)!,
    fstype,
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

/** Checks and normalizes a stack read from JSON (or built from flags). */
export function parseStack(raw: unknown): Stack {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new StackError('the stack must be a JSON object');
  const o = raw as Record<string, unknown>;
  const nodes = o.nodes;
  if (!Array.isArray(nodes) || nodes.length !== 2 || !nodes.every((n) => typeof n === 'string' && NODE.test(n)) || nodes[0] === nodes[1]) {
    throw new StackError('nodes must name the two cluster nodes, as corosync knows them');
  }
  let fencing: Fencing | null = null;
  if (o.fencing !== null && o.fencing !== 'none') {
    const f = o.fencing as Record<string, unknown> | undefined;
    if (!f || typeof f !== 'object') throw new StackError('fencing must be {"agent": "fence_…", "options": {…}} or "none"');
    const agent = str(f, 'agent', 'fencing', /^fence_[a-z0-9_]+$/)!;
    const per = f.per_node as Record<string, unknown> | undefined;
    const perNode: Record<string, Record<string, string>> = {};
    for (const [n, opts] of Object.entries(per ?? {})) {
      if (!nodes.includes(n)) throw new StackError(`fencing.per_node: ${n} is not one of the nodes`);
      perNode[n] = options(opts, `fencing.per_node.${n}`);
    }
    fencing = { agent, options: options(f.options, 'fencing.options'), per_node: perNode };
  }
  const services = o.services;
  if (!Array.isArray(services) || services.length === 0) throw new StackError('services must list at least one service');
  const parsed = services.map(service);
  for (const key of ['name', 'drbd_resource', 'device', 'directory', 'ip'] as const) {
    const seen = new Set<string>();
    for (const s of parsed) {
      if (seen.has(s[key])) throw new StackError(`two services share ${key} ${s[key]}`);
      seen.add(s[key]);
    }
  }
  if (parsed.some((s) => !parseAddress(s.ip))) throw new StackError('an address does not parse');
  return { nodes: [nodes[0], nodes[1]], fencing, services: parsed };
}

export const ids = (s: Service) => ({
  drbd: `${s.name}-drbd`,
  clone: `${s.name}-drbd-clone`,
  fs: `${s.name}-fs`,
  export: `${s.name}-export`,
  ip: `${s.name}-ip`,
});
