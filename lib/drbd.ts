/**
 * DRBD: one resource state read from either generation, and the drbdadm/drbdsetup argv the agent
 * needs. DRBD 9 speaks `drbdsetup events2 --now` (and `status --json`); the 8.4 module in Debian's
 * kernel speaks /proc/drbd, which names minors, not resources (`drbdadm sh-minor` maps them).
 * No policy here: the promotion score table lives in the agent.
 */
import { type MinorsCache, configFingerprint } from './drbd-minors-cache';
import { readFileSync } from 'node:fs';
import { type RunResult, type Runner, describe } from './run';

export interface DrbdDevice {
  readonly volume: number;
  readonly minor: number;
  /** Diskless Attaching Detaching Failed Negotiating Inconsistent Outdated DUnknown Consistent UpToDate */
  readonly disk: string;
  /** Intentionally diskless (DRBD 9 `client:yes`). */
  readonly client: boolean;
  readonly quorum: boolean;
}

export interface DrbdPeerDevice {
  readonly volume: number;
  /** Off Established SyncSource SyncTarget PausedSyncS … */
  readonly replication: string;
  readonly peerDisk: string;
  readonly peerClient: boolean;
  /** KiB this node knows differ from the peer (events2 --statistics, status --json, /proc/drbd oos). */
  readonly outOfSyncKiB?: number;
}

export interface DrbdConnection {
  readonly peer: string;
  /** StandAlone Disconnecting Unconnected Timeout BrokenPipe NetworkFailure ProtocolError TearDown Connecting Connected */
  readonly connection: string;
  readonly peerRole: string;
  readonly peerDevices: DrbdPeerDevice[];
}

export interface DrbdResource {
  readonly name: string;
  /** Primary, Secondary, or Unconfigured (down). */
  readonly role: string;
  readonly suspended: boolean;
  /** Why I/O is suspended, in DRBD's word (user, no-data, fencing, quorum); 8.4 only says that it is. */
  readonly suspension?: string;
  readonly devices: DrbdDevice[];
  readonly connections: DrbdConnection[];
}

/** Splits `key:value` pairs at the first colon: values hold colons and slashes (backing_dev:/dev/vg/lv). */
function pairs(words: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    const i = w.indexOf(':');
    if (i > 0) out[w.slice(0, i)] = w.slice(i + 1);
  }
  return out;
}

const yes = (v: string | undefined) => v !== undefined && v !== 'no' && v !== 'false';

/**
 * `drbdsetup events2 --now [res]`: `exists|create|change|destroy OBJECT key:value…` lines up to
 * `exists -`. With `--diff` a value reads `old->new`: the new one counts. Unknown keys are ignored.
 * `stream`: the output of `events2` without `--now`, its changes applied past the `exists -`.
 */
export function parseEvents2(text: string, opts: { readonly stream?: boolean } = {}): Map<string, DrbdResource> {
  type Mut = { name: string; role: string; suspended: boolean; suspension?: string; devices: Map<number, DrbdDevice>; conns: Map<string, { c: Omit<DrbdConnection, 'peerDevices'>; pd: Map<number, DrbdPeerDevice> }> };
  const res = new Map<string, Mut>();
  const get = (name: string): Mut => {
    let r = res.get(name);
    if (!r) {
      r = { name, role: 'Unknown', suspended: false, devices: new Map(), conns: new Map() };
      res.set(name, r);
    }
    return r;
  };
  for (const raw of text.split('\n')) {
    const words = raw.trim().split(/\s+/);
    // An optional leading timestamp (--timestamps).
    if (/^\d{4}-\d\d-\d\dT/.test(words[0] ?? '')) words.shift();
    const [action, object] = words;
    if (!action || !object) continue;
    if (object === '-') {
      if (opts.stream) continue;
      break;
    }
    const kv = Object.fromEntries(Object.entries(pairs(words.slice(2))).map(([k, v]) => [k, v.includes('->') ? v.slice(v.lastIndexOf('->') + 2) : v]));
    const name = kv.name;
    if (!name) continue;
    if (action === 'destroy' && object === 'resource') {
      res.delete(name);
      continue;
    }
    const r = get(name);
    const peer = kv['conn-name'] ?? kv['peer-node-id'] ?? 'peer';
    switch (object) {
      case 'resource':
        if (kv.role) r.role = kv.role;
        if (kv.suspended !== undefined) {
          r.suspended = yes(kv.suspended);
          r.suspension = r.suspended ? kv.suspended : undefined;
        }
        break;
      case 'device': {
        const volume = Number(kv.volume ?? 0);
        if (action === 'destroy') {
          r.devices.delete(volume);
          break;
        }
        const old = r.devices.get(volume);
        r.devices.set(volume, {
          volume,
          minor: Number(kv.minor ?? old?.minor ?? -1),
          disk: kv.disk ?? old?.disk ?? 'DUnknown',
          client: kv.client !== undefined ? yes(kv.client) : (old?.client ?? false),
          quorum: kv.quorum !== undefined ? yes(kv.quorum) : (old?.quorum ?? true),
        });
        break;
      }
      case 'connection': {
        if (action === 'destroy') {
          r.conns.delete(peer);
          break;
        }
        const old = r.conns.get(peer);
        r.conns.set(peer, {
          c: { peer, connection: kv.connection ?? old?.c.connection ?? 'Unknown', peerRole: kv.role ?? old?.c.peerRole ?? 'Unknown' },
          pd: old?.pd ?? new Map(),
        });
        break;
      }
      case 'peer-device': {
        let c = r.conns.get(peer);
        if (!c) {
          c = { c: { peer, connection: 'Unknown', peerRole: 'Unknown' }, pd: new Map() };
          r.conns.set(peer, c);
        }
        const volume = Number(kv.volume ?? 0);
        if (action === 'destroy') {
          c.pd.delete(volume);
          break;
        }
        const old = c.pd.get(volume);
        const oos = kv['out-of-sync'] !== undefined && /^\d+$/.test(kv['out-of-sync']) ? Number(kv['out-of-sync']) : old?.outOfSyncKiB;
        c.pd.set(volume, {
          volume,
          replication: kv.replication ?? old?.replication ?? 'Off',
          peerDisk: kv['peer-disk'] ?? old?.peerDisk ?? 'DUnknown',
          peerClient: kv['peer-client'] !== undefined ? yes(kv['peer-client']) : (old?.peerClient ?? false),
          ...(oos !== undefined ? { outOfSyncKiB: oos } : {}),
        });
        break;
      }
    }
  }
  const out = new Map<string, DrbdResource>();
  for (const [name, r] of res) {
    out.set(name, {
      name,
      role: r.role,
      suspended: r.suspended,
      ...(r.suspension ? { suspension: r.suspension } : {}),
      devices: [...r.devices.values()].sort((a, b) => a.volume - b.volume),
      connections: [...r.conns.values()].map(({ c, pd }) => ({ ...c, peerDevices: [...pd.values()].sort((a, b) => a.volume - b.volume) })),
    });
  }
  return out;
}

function obj(x: unknown): Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const bool = (x: unknown) => x === true || (typeof x === 'string' && yes(x));

/** `drbdsetup status --json`: an array of resources (note `peer_devices` with an underscore). */
export function parseStatusJson(text: string): Map<string, DrbdResource> {
  const out = new Map<string, DrbdResource>();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error('drbdsetup status --json: output is not JSON');
  }
  for (const rr of arr(data)) {
    const r = obj(rr);
    const name = String(r.name ?? '');
    const suspension = ['user', 'no-data', 'fencing', 'quorum'].filter((k) => bool(r[`suspended-${k}`])).join(',');
    out.set(name, {
      name,
      role: String(r.role ?? 'Unknown'),
      suspended: bool(r.suspended),
      ...(suspension ? { suspension } : {}),
      devices: arr(r.devices).map((dd) => {
        const d = obj(dd);
        return { volume: Number(d.volume ?? 0), minor: Number(d.minor ?? -1), disk: String(d['disk-state'] ?? 'DUnknown'), client: bool(d.client), quorum: d.quorum === undefined ? true : bool(d.quorum) };
      }),
      connections: arr(r.connections).map((cc) => {
        const c = obj(cc);
        return {
          peer: String(c.name ?? c['peer-node-id'] ?? 'peer'),
          connection: String(c['connection-state'] ?? 'Unknown'),
          peerRole: String(c['peer-role'] ?? 'Unknown'),
          peerDevices: arr(c.peer_devices).map((pp) => {
            const p = obj(pp);
            const oos = typeof p['out-of-sync'] === 'number' ? { outOfSyncKiB: p['out-of-sync'] } : {};
            return { volume: Number(p.volume ?? 0), replication: String(p['replication-state'] ?? 'Off'), peerDisk: String(p['peer-disk-state'] ?? 'DUnknown'), peerClient: bool(p['peer-client']), ...oos };
          }),
        };
      }),
    });
  }
  return out;
}

export interface ProcDrbdMinor {
  readonly minor: number;
  /** 8.4 connection state: Connected, WFConnection, StandAlone, SyncSource, … or Unconfigured */
  readonly cs: string;
  readonly role: string;
  readonly peerRole: string;
  readonly disk: string;
  readonly peerDisk: string;
  /** KiB out of sync (the `oos:` of the line below), when printed. */
  readonly oosKiB?: number;
  /** I/O suspended: `s` in the first place of the flags after the protocol (`C s-----`). */
  readonly suspended?: boolean;
}

export interface ProcDrbd {
  /** "8.4.11", "9.2.12" */
  readonly version: string;
  readonly minors: Map<number, ProcDrbdMinor>;
}

/** /proc/drbd: the version banner, and for 8.4 one line per minor (`0: cs:… ro:A/B ds:C/D …`). */
export function parseProcDrbd(text: string): ProcDrbd {
  const version = /^version:\s*(\d+\.\d+\.\d+)/m.exec(text)?.[1] ?? '';
  const minors = new Map<number, ProcDrbdMinor>();
  for (const m of text.matchAll(/^\s*(\d+):\s+cs:(\S+)(?:\s+ro:(\S+?)\/(\S+))?(?:\s+ds:(\S+?)\/(\S+))?(?:\s+[A-C]\s+([rs])\S*)?[^\n]*(?:\n\s+ns:[^\n]*?\boos:(\d+))?/gm)) {
    const minor = Number(m[1]);
    minors.set(minor, {
      ...(m[8] !== undefined ? { oosKiB: Number(m[8]) } : {}),
      ...(m[7] === 's' ? { suspended: true } : {}),
      minor,
      cs: m[2]!,
      role: m[3] ?? 'Unconfigured',
      peerRole: m[4] ?? 'Unknown',
      disk: m[5] ?? 'Diskless',
      peerDisk: m[6] ?? 'DUnknown',
    });
  }
  return { version, minors };
}

/** 8.4 folds connection and replication into one `cs`: split it the DRBD 9 way. */
const NOT_CONNECTED_84: Record<string, string> = {
  StandAlone: 'StandAlone',
  Disconnecting: 'Disconnecting',
  Unconnected: 'Unconnected',
  Timeout: 'Timeout',
  BrokenPipe: 'BrokenPipe',
  NetworkFailure: 'NetworkFailure',
  ProtocolError: 'ProtocolError',
  TearDown: 'TearDown',
  WFConnection: 'Connecting',
  WFReportParams: 'Connecting',
};

/** /proc/drbd of the loaded module; undefined when no DRBD module is loaded. */
export function readProcDrbd(): ProcDrbd | undefined {
  try {
    return parseProcDrbd(readFileSync('/proc/drbd', 'utf8'));
  } catch {
    return undefined;
  }
}

/** An 8.4 resource from its minors' /proc/drbd lines. */
export function resourceFrom84(name: string, proc: ProcDrbd, minors: readonly number[]): DrbdResource {
  const lines = minors.map((m, volume) => ({ volume, line: proc.minors.get(m) ?? { minor: m, cs: 'Unconfigured', role: 'Unconfigured', peerRole: 'Unknown', disk: 'Diskless', peerDisk: 'DUnknown' } }));
  const first = lines[0]?.line;
  if (!first || lines.every(({ line }) => line.cs === 'Unconfigured')) {
    return { name, role: 'Unconfigured', suspended: false, devices: [], connections: [] };
  }
  const role = lines.some(({ line }) => line.role === 'Primary') ? 'Primary' : 'Secondary';
  const connection = NOT_CONNECTED_84[first.cs] ?? 'Connected';
  const suspended = lines.some(({ line }) => line.suspended === true);
  return {
    name,
    role,
    suspended,
    devices: lines.map(({ volume, line }) => ({ volume, minor: line.minor, disk: line.disk, client: false, quorum: true })),
    connections: [
      {
        peer: 'peer',
        connection,
        peerRole: connection === 'Connected' ? first.peerRole : 'Unknown',
        peerDevices: lines.map(({ volume, line }) => ({
          volume,
          replication: connection !== 'Connected' ? 'Off' : line.cs === 'Connected' ? 'Established' : line.cs,
          peerDisk: connection === 'Connected' ? line.peerDisk : 'DUnknown',
          peerClient: false,
          ...(line.oosKiB !== undefined ? { outOfSyncKiB: line.oosKiB } : {}),
        })),
      },
    ],
  };
}

/** `drbdadm --version`: shell assignments (values shell-escaped). */
export function parseDrbdadmVersion(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
  }
  return out;
}

/** "8.4.11" → [8,4,11] compared lexicographically. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** The characters DRBD allows in a resource name (drbd-utils' own check). */
export const RESOURCE_NAME = /^[-%+./0-9:=@A-Z_a-z]{1,128}$/;

/** Where `DrbdAdm.minors` keeps its answers between actions, and whether this action may use them. */
export interface MinorsKeeping {
  readonly cache: MinorsCache;
  /** Monitors reuse a kept answer; actions that change state read afresh and keep what they read. */
  readonly reuse: boolean;
}

export class DrbdAdm {
  constructor(
    private readonly run: Runner,
    private readonly conf: string,
    private readonly keeping?: MinorsKeeping,
  ) {}

  argv(...args: string[]): string[] {
    return ['drbdadm', '-c', this.conf, ...args];
  }

  exec(args: string[], timeoutMs?: number) {
    return this.run(this.argv(...args), { timeoutMs });
  }

  /** The command as an exit reason names it: `-c FILE` only repeats the drbdconf parameter. */
  describe(r: RunResult): string {
    const shown = r.argv[0] === 'drbdadm' && r.argv[1] === '-c' && r.argv[2] === this.conf ? ['drbdadm', ...r.argv.slice(3)] : r.argv;
    return describe(r, shown);
  }

  private readonly minorsRead = new Map<string, number[]>();
  /** Why the last `minors` found nothing, in drbdadm's words. */
  private readonly minorsFailed = new Map<string, RunResult>();

  /**
   * The minors of `res` per the configuration; undefined when the configuration does not name it.
   * Read once per instance (one action): the configuration does not change under an action, and
   * each `drbdadm sh-minor` parses the whole of it (0.25–0.5 s in a slow guest). With `keeping`,
   * also kept across actions while the configuration files are unchanged (lib/drbd-minors-cache.ts).
   */
  async minors(res: string): Promise<number[] | undefined> {
    const known = this.minorsRead.get(res);
    if (known) return known;
    if (this.minorsFailed.has(res)) return undefined;
    // Taken before sh-minor reads the files: a change made meanwhile makes the kept answer unused.
    const fingerprint = this.keeping ? configFingerprint(this.conf) : undefined;
    if (fingerprint && this.keeping?.reuse) {
      const kept = this.keeping.cache.get(this.conf, res, fingerprint);
      if (kept) {
        this.minorsRead.set(res, kept);
        return kept;
      }
    }
    const r = await this.exec(['sh-minor', res], 10_000);
    const minors = r.code === 0 ? r.stdout.split(/\s+/).filter((w) => /^\d+$/.test(w)).map(Number) : [];
    if (minors.length === 0) {
      this.minorsFailed.set(res, r);
      this.keeping?.cache.forget(res);
      return undefined;
    }
    this.minorsRead.set(res, minors);
    if (fingerprint) this.keeping?.cache.put(this.conf, res, fingerprint, minors);
    return minors;
  }

  /**
   * Why `res` is not configured on this node, naming the file read; the same words on 8.4 and 9.
   * Call after `minors` returned undefined.
   */
  notConfigured(res: string): string {
    const r = this.minorsFailed.get(res);
    return `resource ${res} is not configured on this node in ${this.conf}${r ? `: ${this.describe(r)}` : ''}`;
  }

  /**
   * Why the last `minors` found nothing: `absent`, the configuration was read and does not give
   * `res` to this host (drbdadm's usage exit 1: "not defined in your config", "ignored, since this
   * host … is not mentioned", "no resources defined"); `no-file`, there is no configuration to read;
   * `unreadable`, it could not be read (a parse error exits 10, a timeout): then nothing in it says
   * whether the resource is up.
   */
  whyNoMinors(res: string): 'absent' | 'no-file' | 'unreadable' {
    const r = this.minorsFailed.get(res);
    if (!r) return 'absent';
    if (/^Can not open /m.test(r.stderr)) return 'no-file';
    if (r.code === 1 && /not defined in your config|ignored, since this host|no resources defined/.test(r.stderr)) return 'absent';
    return 'unreadable';
  }

  /** `drbdadm dump RES`: the resource's configuration as drbdadm reads it (lib/drbd-config.ts parses it). */
  async dump(res: string): Promise<RunResult> {
    return this.exec(['dump', res], 10_000);
  }
}

/** DRBD 9's view of one resource (with --statistics: out-of-sync amounts too); undefined when it is down. */
export async function events2Now(run: Runner, res: string, statistics = false): Promise<DrbdResource | undefined> {
  const r = await run(['drbdsetup', 'events2', '--now', ...(statistics ? ['--statistics'] : []), res], { timeoutMs: 10_000 });
  if (r.code !== 0 && !/No such resource|not defined/i.test(r.stderr)) throw new Error(`drbdsetup events2 failed: ${describe(r)}`);
  return parseEvents2(r.stdout).get(res);
}

/** The module's generation from its version: 9 speaks events2, 8 (8.4) only /proc/drbd. */
export function generation(version: string): 8 | 9 {
  return compareVersions(version, '9.0.0') >= 0 ? 9 : 8;
}

/**
 * One resource's state from whichever generation is loaded (`proc` is /proc/drbd): events2 on
 * DRBD 9, the minors' /proc/drbd lines on 8.4. A resource that is down reads as Unconfigured;
 * undefined when this node's configuration does not name it (on 9 asked only of a resource that is
 * down: no sh-minor on the way of every monitor).
 */
export async function resourceState(run: Runner, adm: DrbdAdm, res: string, proc: ProcDrbd, statistics = false): Promise<DrbdResource | undefined> {
  if (generation(proc.version) === 9) {
    const r = await events2Now(run, res, statistics);
    if (r) return r;
    if (!(await adm.minors(res))) return undefined;
    return { name: res, role: 'Unconfigured', suspended: false, devices: [], connections: [] };
  }
  const minors = await adm.minors(res);
  return minors ? resourceFrom84(res, proc, minors) : undefined;
}
