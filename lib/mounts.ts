/** /proc/self/mountinfo: parsing, consistent reads, and questions about what is mounted where. */
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';

export interface MountEntry {
  readonly id: number;
  readonly parent: number;
  readonly major: number;
  readonly minor: number;
  /** Path inside the filesystem that is mounted here ("/" unless a bind of a subdirectory). */
  readonly root: string;
  readonly target: string;
  readonly options: string;
  readonly fstype: string;
  readonly source: string;
  readonly superOptions: string;
  /** In a peer group (mountinfo's shared:N): mounts and unmounts under it reach its peers and slaves. */
  readonly shared: boolean;
}

/**
 * The kernel escapes space, tab, newline and backslash as \040 \011 \012 \134 (getmntent(3)).
 * One pass, so that an escaped backslash followed by digits is not decoded twice.
 */
export function decodeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 3) continue;
    const [maj, min] = (f[2] ?? '').split(':');
    out.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      major: Number(maj),
      minor: Number(min),
      root: decodeMountField(f[3] ?? ''),
      target: decodeMountField(f[4] ?? ''),
      options: f[5] ?? '',
      fstype: f[sep + 1] ?? '',
      source: decodeMountField(f[sep + 2] ?? ''),
      superOptions: f[sep + 3] ?? '',
      shared: f.slice(6, sep).some((o) => o.startsWith('shared:')),
    });
  }
  return out;
}

/**
 * Reads mountinfo until two reads agree: a large table is returned in several read() calls and
 * can change between them (resource-agents PR #1337).
 *
 * In-process, unbounded, on purpose: the read takes namespace_sem for read, and mount and umount
 * hold it for write only around changes to the mount tree in memory; a filesystem's own I/O
 * (fill_super before it is taken, the final put and sync after namespace_unlock() releases it)
 * happens outside it. Another process's mountinfo needs neither its mmap lock nor its
 * filesystems: it read at once while that process was stuck on a stopped FUSE daemon.
 */
export function readMountinfo(path = '/proc/self/mountinfo'): MountEntry[] {
  let prev = readFileSync(path, 'utf8');
  for (let i = 0; i < 10; i++) {
    const next = readFileSync(path, 'utf8');
    if (next === prev) break;
    prev = next;
  }
  return parseMountinfo(prev);
}

/** The mount a path sees at `dir`: the last (topmost) entry whose target is exactly `dir`. */
export function mountAt(mounts: readonly MountEntry[], dir: string): MountEntry | undefined {
  let top: MountEntry | undefined;
  for (const m of mounts) if (m.target === dir) top = m;
  return top;
}

/** Every mount on `dir`, bottom first: all but the last are covered by the one above them. */
export function stackAt(mounts: readonly MountEntry[], dir: string): MountEntry[] {
  return mounts.filter((m) => m.target === dir);
}

/**
 * The mount that keeps a path lookup from reaching `m`: one stacked on it, one over the directory
 * it is mounted on (or over a directory above that, in the same parent mount), or one that hides
 * a mount it is mounted in. Undefined when a path reaches it.
 */
export function hiddenBy(mounts: readonly MountEntry[], m: MountEntry): MountEntry | undefined {
  // `from`: the mount the walk came up from, stacked on its parent or mounted inside it: the way in, not a cover.
  let from: MountEntry | undefined;
  let cur: MountEntry | undefined = m;
  for (let depth = 0; cur !== undefined && depth < 64; depth++) {
    const c: MountEntry = cur;
    const f = from;
    const over = mounts.find((t) => t.id !== c.id && t.id !== f?.id && ((t.parent === c.id && t.target === c.target) || (t.parent === c.parent && isBelow(c.target, t.target))));
    if (over) return over;
    from = c;
    cur = c.parent === c.id ? undefined : mounts.find((p) => p.id === c.parent);
  }
  return undefined;
}

export function isBelow(path: string, dir: string): boolean {
  return dir === '/' ? path !== '/' : path.startsWith(`${dir}/`);
}

/** Mounts strictly below `dir`, deepest first: the order to unmount them in. */
export function mountsBelow(mounts: readonly MountEntry[], dir: string): MountEntry[] {
  return mounts
    .map((m, i) => ({ m, i }))
    .filter(({ m }) => isBelow(m.target, dir))
    .sort((a, b) => b.m.target.split('/').length - a.m.target.split('/').length || b.i - a.i)
    .map(({ m }) => m);
}

/** The mount that contains `path` (longest target prefix, topmost of equals). */
export function mountContaining(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    if (m.target === path || isBelow(path, m.target)) {
      if (!best || m.target.length >= best.target.length) best = m;
    }
  }
  return best;
}

export function stillMounted(mounts: readonly MountEntry[], id: number): boolean {
  return mounts.some((m) => m.id === id);
}

/**
 * The mount a mount point sits on: below the lowest mount on DIR, or, with none there, the one
 * that contains DIR (where a mount on DIR will sit). Its propagation decides whether an unmount on
 * DIR reaches copies of it in other namespaces.
 */
export function mountUnder(mounts: readonly MountEntry[], dir: string): MountEntry | undefined {
  const bottom = stackAt(mounts, dir)[0];
  return bottom ? mounts.find((m) => m.id === bottom.parent) : mountContaining(mounts, dir);
}

/** Linux dev_t as major:minor (glibc's gnu_dev_major/minor), for minors above 255 too. */
export function devMajorMinor(dev: number): [number, number] {
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff);
  return [major, minor];
}

/**
 * The kernel's name of a block device (its /sys/class/block entry, as /sys/fs names filesystems):
 * by its device numbers, so a node renamed in /dev (a container's --device) or a name with '/'
 * in the kernel (cciss!c0d0) still finds it; the /dev name where /sys does not answer.
 */
function kernelName(device: string): string {
  try {
    const [major, minor] = devMajorMinor(statSync(device).rdev);
    const link = readlinkSync(`/sys/dev/block/${major}:${minor}`);
    return link.slice(link.lastIndexOf('/') + 1);
  } catch {
    return device.slice(device.lastIndexOf('/') + 1);
  }
}

/**
 * Where the kernel lists an ext2/3/4 or XFS filesystem on DEVICE (a /dev path, resolved) for as
 * long as its superblock lives, mounted or not; undefined when neither lists one. A superblock
 * outlives its last visible mount while anything still holds it: a lazily unmounted copy in use,
 * a mount in a namespace no process shows.
 */
export function liveSuperblock(device: string, sys = '/sys/fs'): string | undefined {
  const name = kernelName(device);
  if (!name) return undefined;
  return [`${sys}/ext4/${name}`, `${sys}/xfs/${name}`].find((p) => existsSync(p));
}

export interface MountNamespace {
  /** The namespace as /proc/PID/ns/mnt names it: mnt:[4026532175]. */
  readonly link: string;
  /** A process in it (the lowest pid), through which it is read and entered. */
  readonly pid: number;
  readonly comm: string;
}

/**
 * The mount namespaces other than this process's, one process each: a readlink per process, so
 * only for a stop. A namespace that no process is in (kept by a bind mount of its nsfs file) is
 * not found here.
 */
export function otherMountNamespaces(proc = '/proc'): MountNamespace[] {
  const link = (p: string) => {
    try {
      return readlinkSync(p);
    } catch {
      return undefined;
    }
  };
  const own = link(`${proc}/self/ns/mnt`);
  const seen = new Map<string, MountNamespace>();
  let pids: number[] = [];
  try {
    pids = readdirSync(proc)
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
  for (const pid of pids) {
    const ns = link(`${proc}/${pid}/ns/mnt`);
    if (ns === undefined || ns === own || seen.has(ns)) continue;
    let comm = '?';
    try {
      comm = readFileSync(`${proc}/${pid}/comm`, 'utf8').trim();
    } catch {
      // gone meanwhile: its namespace may live on in another process
      continue;
    }
    seen.set(ns, { link: ns, pid, comm });
  }
  return [...seen.values()];
}
