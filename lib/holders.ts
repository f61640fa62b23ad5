/**
 * Which processes hold one particular mount: open files (by the mount id in fdinfo), working
 * directories, roots, executables and memory maps. Nothing here stats a path on a filesystem that
 * may not answer; but a read of /proc/PID/maps waits for that process's mmap lock, which a thread
 * stuck on such a filesystem can hold: agents run the search in a bounded child
 * (lib/holder-search.ts), never in their own process.
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { type MountEntry, devMajorMinor, mountContaining, parseMountinfo } from './mounts';

export { devMajorMinor };

export interface Holder {
  readonly pid: number;
  readonly comm: string;
  /** What ties it to the mount: "fd 3 /srv/x/file", "cwd /srv/x", "mmap /srv/x/lib.so", … */
  readonly uses: readonly string[];
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function link(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Filesystems whose getattr may go to a server: no stat of theirs in the holder search. */
const NETWORK = new Set(['nfs', 'nfs4', 'cifs', 'smb3', 'ceph', 'glusterfs', 'fuse.glusterfs', 'fuse.sshfs']);

function stripDeleted(p: string): string {
  return p.endsWith(' (deleted)') ? p.slice(0, -' (deleted)'.length) : p;
}

/** The chain from this process up to init: never signalled, whatever they hold. */
function ancestors(): Set<number> {
  const out = new Set<number>([1, process.pid]);
  let pid = process.pid;
  for (let i = 0; i < 64 && pid > 1; i++) {
    const stat = read(`/proc/${pid}/stat`);
    const ppid = stat ? Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) : 0;
    if (!ppid || out.has(ppid)) break;
    out.add(ppid);
    pid = ppid;
  }
  return out;
}

export interface HolderSearch {
  readonly holders: Holder[];
  /** Processes outside the namespace searched that map the same device: reported, never signalled. */
  readonly foreign: Holder[];
  /** Set when memory maps were not searched (why): holders that only map a file of the mount are missing. */
  readonly withoutMaps?: string;
}

/** The mount namespace a holder search looks in: its /proc/PID/ns/mnt link and its mounts. */
export interface HolderNamespace {
  readonly link: string;
  readonly mounts: readonly MountEntry[];
}

/**
 * Finds the holders of `target`, an entry of the mountinfo of `ns` (by default our own mount
 * namespace). A process in that namespace is matched by mount identity; a path is only
 * attributed to `target` when the mount that contains it, in that namespace, is `target`.
 */
export function findHolders(target: MountEntry, proc = '/proc', ns?: HolderNamespace, opts: { maps?: boolean } = {}): HolderSearch {
  const ownNs = ns?.link ?? link(`${proc}/self/ns/mnt`);
  const mounts = ns?.mounts ?? parseMountinfo(read(`${proc}/self/mountinfo`) ?? '');
  const skip = ancestors();
  const devHex = `${target.major.toString(16).padStart(2, '0')}:${target.minor.toString(16).padStart(2, '0')}`;
  // A path alone cannot tell the mount's root from the directory it covers: a process that
  // entered the mount point before the mount reads the same cwd. Stat of /proc/PID/cwd reaches
  // the inode it holds without a path walk; for a local filesystem that needs no I/O.
  // A FUSE filesystem's getattr goes to its daemon, which may have stopped answering.
  const network = NETWORK.has(target.fstype) || target.fstype === 'fuse' || target.fstype.startsWith('fuse.');
  const sameDevice = (procLink: string) => {
    if (network) return true;
    try {
      const [major, minor] = devMajorMinor(statSync(procLink).dev);
      return major === target.major && minor === target.minor;
    } catch {
      return false;
    }
  };
  const holders: Holder[] = [];
  const foreign: Holder[] = [];
  let pids: number[] = [];
  try {
    pids = readdirSync(proc)
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return { holders, foreign };
  }
  for (const pid of pids) {
    if (skip.has(pid)) continue;
    const base = `${proc}/${pid}`;
    // Kernel threads have no executable: never ours to signal.
    const exe = link(`${base}/exe`);
    if (exe === undefined) continue;
    const comm = (read(`${base}/comm`) ?? '?').trim();
    const sameNs = link(`${base}/ns/mnt`) === ownNs;
    const uses: string[] = [];
    const onTarget = (p: string | undefined) => p !== undefined && p.startsWith('/') && mountContaining(mounts, stripDeleted(p))?.id === target.id;

    let fds: string[] = [];
    try {
      fds = readdirSync(`${base}/fd`);
    } catch {
      // gone, or not ours to read
    }
    for (const fd of fds) {
      const info = read(`${base}/fdinfo/${fd}`);
      const mnt = info && /^mnt_id:\s*(\d+)/m.exec(info)?.[1];
      if (sameNs ? Number(mnt) === target.id : false) uses.push(`fd ${fd} ${link(`${base}/fd/${fd}`) ?? '?'}`);
    }
    if (sameNs) {
      for (const [what, p] of [
        ['cwd', link(`${base}/cwd`)],
        ['root', link(`${base}/root`)],
        ['exe', exe],
      ] as const) {
        if (onTarget(p) && sameDevice(`${base}/${what}`)) uses.push(`${what} ${p}`);
      }
    }
    // The one read that can block (holder-search.ts): skipped when the caller cannot bound it.
    const maps = opts.maps === false ? '' : (read(`${base}/maps`) ?? '');
    const mapped = new Set<string>();
    for (const line of maps.split('\n')) {
      const f = line.split(/\s+/);
      if (f[3] !== devHex || f[4] === '0') continue;
      const p = f.slice(5).join(' ');
      if (sameNs ? onTarget(p) : true) mapped.add(p);
    }
    for (const p of mapped) uses.push(`mmap ${p}`);
    if (uses.length === 0) continue;
    (sameNs ? holders : foreign).push({ pid, comm, uses });
  }
  return { holders, foreign };
}

export function describeHolders(hs: readonly Holder[], max = 5): string {
  const shown = hs.slice(0, max).map((h) => `${h.pid} (${h.comm}: ${h.uses.slice(0, 2).join(', ')}${h.uses.length > 2 ? ', …' : ''})`);
  return shown.join('; ') + (hs.length > max ? `; and ${hs.length - max} more` : '');
}
