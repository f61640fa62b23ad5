/**
 * fs-mount: mount a filesystem (the DRBD device, in the NFS stack) and unmount it without
 * collateral damage. Parameter names follow ocf:heartbeat:Filesystem where the meaning is the same.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { constants as osConstants, hostname } from 'node:os';
import { boundedFs } from '../lib/bounded-fs';
import { type HolderQuery, type SearchOutcome, searchHolders, unfinished } from '../lib/holder-search';
import { type Holder, describeHolders, devMajorMinor } from '../lib/holders';
import { type MountEntry, type MountNamespace, hiddenBy, liveSuperblock, mountAt, mountContaining, mountUnder, mountsBelow, otherMountNamespaces, readMountinfo, stackAt, stillMounted } from '../lib/mounts';
import { type Ctx, defineAgent } from '../lib/ocf/agent';
import { OCF, OcfError, fail } from '../lib/ocf/codes';
import { DeadlineError } from '../lib/ocf/deadline';
import { type ParamProblem, describeProblems, param, withDefaultsFor } from '../lib/ocf/params';
import { describe } from '../lib/run';

/** Filesystems that journal (or need no check): run_fsck=auto skips them. */
const NO_FSCK = new Set([
  'ext3', 'ext4', 'xfs', 'btrfs', 'jfs', 'reiserfs', 'reiser4', 'nilfs2', 'f2fs', 'ocfs2', 'gfs2', 'zfs', 'none', 'tmpfs',
  'overlay', 'nfs', 'nfs4', 'cifs', 'smb3', 'glusterfs', 'ceph', 'cephfs', 'bind',
]);
/** Filesystems that must never be mounted on two nodes at once. */
const NOT_CLUSTER_AWARE = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'jfs', 'reiserfs', 'f2fs', 'vfat', 'exfat', 'ntfs', 'ntfs3', 'nilfs2', 'zfs']);
const NETWORK = new Set(['nfs', 'nfs4', 'cifs', 'smb3', 'glusterfs', 'ceph', 'cephfs']);

function checkSignals(v: string): string | undefined {
  const names = v.split(/[\s,]+/).filter(Boolean);
  if (names.length === 0) return 'names no signal';
  for (const n of names) if (signalOf(n) === undefined) return `${JSON.stringify(n)} is not a signal name`;
  return undefined;
}

function signalOf(name: string): NodeJS.Signals | undefined {
  const up = name.toUpperCase();
  const full = (up.startsWith('SIG') ? up : `SIG${up}`) as NodeJS.Signals;
  if (full in osConstants.signals) return full;
  if (/^\d{1,2}$/.test(name)) {
    const found = Object.entries(osConstants.signals).find(([, n]) => n === Number(name));
    return found?.[0] as NodeJS.Signals | undefined;
  }
  return undefined;
}

const params = {
  device: param.string({
    required: true,
    shortdesc: 'Block device, UUID=/LABEL=, or bind source',
    longdesc:
      'What to mount: a block device path (/dev/drbd0), a /dev/disk/by-* link, UUID=… or LABEL=… (also -U …/-L …), a network source (host:/export) for network filesystems, or a directory with fstype=none and options=bind. The mounted filesystem is compared with it by device identity (major:minor), not by the path text.',
    check: (v) => (v.startsWith('-') && !/^(-U|-L) \S|^--(uuid|label)=\S/.test(v) ? `${JSON.stringify(v)} is not a device` : undefined),
  }),
  directory: param.string({
    required: true,
    shortdesc: 'Mount point',
    longdesc: 'Absolute path of the mount point; created when missing. A symlink is followed. It may not be /.',
    check: (v) => (!v.startsWith('/') ? 'is not an absolute path' : v.replace(/\/+$/, '') === '' ? 'may not be /' : /(^|\/)\.\.?(\/|$)/.test(v) ? 'may not contain . or .. components' : undefined),
  }),
  fstype: param.string({
    required: true,
    shortdesc: 'Filesystem type',
    longdesc: 'The filesystem type passed to mount -t (ext4, xfs, nfs4 …), or none for a bind mount. At check level 10 it must be known to the kernel (/proc/filesystems).',
    check: (v) => (/^[a-z0-9][a-z0-9._-]{0,31}$/.test(v) ? undefined : `${JSON.stringify(v)} is not a filesystem type`),
    maxLength: 32,
  }),
  options: param.string({
    shortdesc: 'Mount options',
    longdesc: 'Options for mount -o, comma separated (noatime,nodiratime). bind, with fstype=none, makes a bind mount.',
    check: (v) => (/^[A-Za-z0-9_.=:/@+-]+(,[A-Za-z0-9_.=:/@+-]+)*$/.test(v) ? undefined : `${JSON.stringify(v)} is not a comma-separated option list`),
  }),
  run_fsck: param.select({
    default: 'auto',
    options: ['auto', 'force', 'no'] as const,
    shortdesc: 'When to check the filesystem before mounting',
    longdesc: 'auto: fsck only filesystems without a journal (ext2, vfat …), which a crash can leave inconsistent; force: always; no: never. An fsck that finds errors it cannot fix (exit ≥ 4) fails start.',
  }),
  force_unmount: param.select({
    default: 'true',
    options: ['true', 'safe', 'false'] as const,
    shortdesc: 'Signal the processes that hold the mount on stop',
    longdesc:
      'true or safe: when the unmount is busy, find the processes that hold this mount (open files, working directory, root, memory maps, matched by mount identity, never by device or path alone), log them, send term_signals, then kill_signals once half the stop budget is gone. The search runs in a child process killed at a bound (at most 5 s, half of what the stop has left): a process stuck on a filesystem that does not answer cannot stall it. A search that does not finish signals nobody and, if the mount stays busy, fails the stop saying so. The same holds for a copy of the mount in another mount namespace, whose holders are searched in that namespace only. false: never signal anyone; stop fails naming the holders.',
  }),
  fast_stop: param.boolean({
    default: false,
    shortdesc: 'Escalate to kill_signals after one round of term_signals',
    longdesc: 'When true, holders get term_signals once and kill_signals from the next round on, instead of after half the stop timeout. The stop still uses the whole timeout to wait for the unmount.',
  }),
  statusfile_prefix: param.string({
    default: '.Filesystem_status/',
    shortdesc: 'Where the depth-20 monitor writes',
    longdesc: 'Relative path prefix, inside the mount, of the status file the OCF_CHECK_LEVEL=20 monitor writes, syncs and reads back (the same default as Filesystem, so either agent cleans up after the other).',
    check: (v) => (v.startsWith('/') || v.split('/').includes('..') || !/^[\w.\/-]+$/.test(v) ? `${JSON.stringify(v)} must be a relative path without ..` : undefined),
  }),
  force_clones: param.boolean({
    default: false,
    shortdesc: 'Allow a non-cluster filesystem in a clone',
    longdesc: 'ext4, xfs and other local filesystems mounted on two nodes at once are corrupted. A clone of this resource with such a filesystem is refused unless this is true.',
  }),
  term_signals: param.string({
    default: 'TERM',
    shortdesc: 'Signals sent first to holders',
    longdesc: 'Signal names or numbers, separated by commas or spaces, sent to the holders of the mount in the first part of the stop.',
    check: checkSignals,
  }),
  kill_signals: param.string({
    default: 'KILL',
    shortdesc: 'Signals sent to holders that did not go',
    longdesc: 'Signals sent to holders once half of the stop budget is gone (or after one round with fast_stop).',
    check: checkSignals,
  }),
  signal_delay: param.string({
    default: '1',
    shortdesc: 'Seconds to wait after signalling holders',
    longdesc: 'Seconds (decimals allowed) between signalling the holders and the next unmount attempt.',
    check: (v) => (/^\d{1,3}(\.\d{1,3})?$/.test(v) && Number(v) <= 60 ? undefined : `${JSON.stringify(v)} is not a number of seconds from 0 to 60`),
  }),
};

type P = typeof params;
type FsCtx = Ctx<P>;

const isBind = (ctx: FsCtx) => ctx.params.fstype === 'none' || ctx.params.options.split(',').includes('bind');
const isNetwork = (ctx: FsCtx) => NETWORK.has(ctx.params.fstype) || /^[^/][^:]*:\//.test(ctx.params.device) || ctx.params.device.startsWith('//');

/**
 * The mount point as the kernel shows it: trailing slashes dropped, symlinks followed. Resolved in
 * a bounded child: the walk ends on the mounted filesystem's root (a getattr a dead NFS server or
 * a stopped FUSE daemon never answers), and may cross other mounts on the way.
 */
async function mountPoint(ctx: FsCtx): Promise<string> {
  const d = ctx.params.directory.replace(/\/+$/, '');
  // A mount target is already a path without links: the monitor's usual case walks nothing.
  if (readMountinfo().some((m) => m.target === d)) return d;
  return (await boundedFs(ctx.run).realpath(d, 'resolving the mount point')) ?? d;
}

type DeviceRef = { kind: 'path'; path: string } | { kind: 'uuid' | 'label'; value: string };

function deviceRef(device: string): DeviceRef {
  const m = /^(?:UUID=|-U |--uuid=)(.+)$/.exec(device);
  if (m) return { kind: 'uuid', value: m[1]! };
  const l = /^(?:LABEL=|-L |--label=)(.+)$/.exec(device);
  if (l) return { kind: 'label', value: l[1]! };
  return { kind: 'path', path: device };
}

/**
 * The block device node the configuration names, resolved through links, UUID and label; undefined
 * if absent. In-process: device nodes and their links live on /dev (devtmpfs), whose metadata
 * needs no I/O; only reading a device can hang, and that happens in children (dd, blkid).
 */
async function resolveDevice(ctx: FsCtx): Promise<string | undefined> {
  const ref = deviceRef(ctx.params.device);
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return undefined;
    }
  };
  if (ref.kind === 'path') return real(ref.path);
  const udev = ref.kind === 'uuid' ? `/dev/disk/by-uuid/${ref.value}` : `/dev/disk/by-label/${ref.value.replace(/[^\w.-]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
  const viaUdev = real(udev);
  if (viaUdev) return viaUdev;
  if (!ctx.haveBinary('blkid')) return undefined;
  const r = await ctx.run(['blkid', ref.kind === 'uuid' ? '-U' : '-L', ref.value], { timeoutMs: 5000 });
  // A blkid that hangs (a device that does not answer) says nothing of whether the filesystem is here.
  if (r.timedOut || r.abandoned) throw fail.generic(`cannot tell whether ${ctx.params.device} is on this node: ${describe(r)}`);
  return r.code === 0 && r.stdout.trim() ? real(r.stdout.trim()) : undefined;
}

/**
 * Whether mount `m` is the configured filesystem: by device numbers, source, or inode for binds.
 * With `mounts` (its mountinfo), a bind covered by a later mount on the same target, which a stat
 * of the target cannot reach, is compared by the filesystem and the directory in it instead.
 */
async function matches(ctx: FsCtx, m: MountEntry, device: string | undefined, mounts?: readonly MountEntry[]): Promise<boolean> {
  if (isBind(ctx)) {
    // Compared by mountinfo first: only a mount of the source's own filesystem is stat'ed, each
    // stat in a bounded child (the source and the target are directories on mounted filesystems).
    const src = await bindSource(ctx, mounts ?? readMountinfo());
    if (src === undefined || src.major !== m.major || src.minor !== m.minor) return false;
    if (mounts && mountAt(mounts, m.target)?.id !== m.id) return src.root === m.root;
    const fsb = boundedFs(ctx.run);
    const a = await fsb.stat(ctx.params.device, 'stat of the bind source');
    const b = a && (await fsb.stat(m.target, 'stat of the mount point'));
    return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
  }
  if (isNetwork(ctx)) return m.source.replace(/\/+$/, '') === ctx.params.device.replace(/\/+$/, '');
  if (!device) return false;
  try {
    const st = statSync(device);
    if (!st.isBlockDevice()) return false;
    // btrfs and others show an anonymous device (0:N) in mountinfo: compare the source instead.
    // Only a source under /dev is resolved here: another mount's source (a FUSE or network
    // filesystem's) may be a path that hangs.
    if (m.major === 0) return m.source.startsWith('/dev/') && realpathSync(m.source) === device;
    const [major, minor] = devMajorMinor(st.rdev);
    return major === m.major && minor === m.minor;
  } catch {
    return false;
  }
}

/** The bind source resolved, once per action's parameters (a bounded child each time otherwise). */
const bindSources = new WeakMap<object, Promise<string | undefined>>();

/** The filesystem and the directory in it that a bind of the device shows, as mountinfo would. */
async function bindSource(ctx: FsCtx, mounts: readonly MountEntry[]): Promise<{ major: number; minor: number; root: string } | undefined> {
  let resolved = bindSources.get(ctx.params);
  if (!resolved) {
    resolved = boundedFs(ctx.run).realpath(ctx.params.device, 'resolving the bind source');
    bindSources.set(ctx.params, resolved);
  }
  const src = await resolved;
  if (src === undefined) return undefined;
  const c = mountContaining(mounts, src);
  if (!c) return undefined;
  const rest = c.target === '/' ? src : src.slice(c.target.length);
  return { major: c.major, minor: c.minor, root: `${c.root === '/' ? '' : c.root}${rest}` || '/' };
}

async function filterAsync<T>(list: readonly T[], keep: (t: T) => Promise<boolean>): Promise<T[]> {
  const out: T[] = [];
  for (const t of list) if (await keep(t)) out.push(t);
  return out;
}

async function findLastAsync<T>(list: readonly T[], test: (t: T) => Promise<boolean>): Promise<T | undefined> {
  for (let i = list.length - 1; i >= 0; i--) if (await test(list[i]!)) return list[i];
  return undefined;
}

function describeMount(m: MountEntry): string {
  return `${m.source} (${m.fstype}, ${m.major}:${m.minor})`;
}

interface State {
  readonly dir: string;
  readonly mount?: MountEntry;
  readonly device?: string;
  readonly ours: boolean;
}

async function state(ctx: FsCtx): Promise<State> {
  const dir = await mountPoint(ctx);
  const mount = mountAt(readMountinfo(), dir);
  // Which device is ours matters only against a mount that is there: no blkid otherwise.
  const device = mount === undefined || isBind(ctx) || isNetwork(ctx) ? undefined : await resolveDevice(ctx);
  return { dir, mount, device, ours: mount !== undefined && (await matches(ctx, mount, device)) };
}

function wrongDevice(ctx: FsCtx, s: State): OcfError {
  return fail.generic(`${describeMount(s.mount!)} is mounted on ${s.dir}, not ${ctx.params.device}${s.device && s.device !== ctx.params.device ? ` (${s.device})` : ''}; leaving it mounted`);
}

function statusFile(ctx: FsCtx, dir: string): string {
  const clone = ctx.env.OCF_RESKEY_CRM_meta_clone ? `_${ctx.env.OCF_RESKEY_CRM_meta_clone}` : '';
  return `${dir}/${ctx.params.statusfile_prefix}${ctx.instance}${clone}_${hostname()}`;
}

async function deepCheck(ctx: FsCtx, s: State): Promise<void> {
  const budget = Math.max(1000, ctx.deadline.remaining() - 500);
  // Depth 20's write, sync and direct read-back exercise the device both ways; the raw read is depth 10's.
  if (ctx.checkLevel === 10 && s.device) {
    const r = await ctx.run(['dd', `if=${s.device}`, 'of=/dev/null', 'iflag=direct', 'bs=4096', 'count=1', 'status=none'], { timeoutMs: budget, graceMs: 200 });
    if (r.code !== 0) throw fail.generic(`${s.device} does not answer a 4 KiB direct read: ${describe(r)}`);
  }
  if (ctx.checkLevel >= 20) {
    const file = statusFile(ctx, s.dir);
    const dirOf = file.slice(0, file.lastIndexOf('/'));
    const left = () => Math.max(500, ctx.deadline.remaining() - 300);
    // Every write on the monitored filesystem happens in a child process: a frozen or hung
    // filesystem blocks even mkdir of an existing directory in uninterruptible sleep, and only a
    // child can be abandoned while the agent still answers.
    const stamp = `${ctx.instance} ${hostname()} ${new Date().toISOString()}\n`;
    const block = stamp.padEnd(4096, '\0');
    const write = () =>
      ctx.run(['dd', `of=${file}`, 'oflag=direct,sync', 'conv=fsync', 'bs=4096', 'count=1', 'iflag=fullblock', 'status=none'], { input: block, timeoutMs: left(), graceMs: 200 });
    // start made the status directory; only when it is gone does the write need a mkdir first.
    let w = await write();
    if (w.code !== 0 && /No such file or directory/.test(w.stderr)) {
      const mk = await ctx.run(['mkdir', '-p', '--', dirOf], { timeoutMs: left(), graceMs: 200 });
      if (mk.code !== 0) throw fail.generic(`cannot create ${dirOf} for the status file: ${describe(mk)}`);
      w = await write();
    }
    if (w.code !== 0) throw fail.generic(`writing the status file ${file} failed: ${describe(w)}`);
    const r = await ctx.run(['dd', `if=${file}`, 'iflag=direct', 'bs=4096', 'count=1', 'status=none'], { timeoutMs: left(), graceMs: 200 });
    if (r.code !== 0) throw fail.generic(`reading the status file ${file} back failed: ${describe(r)}`);
    if (!r.stdout.startsWith(stamp)) throw fail.generic(`the status file ${file} read back differs from what was written`);
  }
}

async function monitor(ctx: FsCtx) {
  const s = await state(ctx);
  if (!s.mount) return OCF.NOT_RUNNING;
  if (!s.ours) throw wrongDevice(ctx, s);
  if (!ctx.probe) await deepCheck(ctx, s);
  return OCF.SUCCESS;
}

function kernelKnows(fstype: string): boolean {
  try {
    return readFileSync('/proc/filesystems', 'utf8')
      .split('\n')
      .some((l) => l.split('\t')[1] === fstype);
  } catch {
    return false;
  }
}

async function ensureFstype(ctx: FsCtx): Promise<void> {
  const t = ctx.params.fstype;
  if (t === 'none' || kernelKnows(t)) return;
  if (ctx.haveBinary('modprobe')) await ctx.run(['modprobe', '--', t], { timeoutMs: 10_000 });
  if (!kernelKnows(t)) throw fail.installed(`the kernel of this node does not support ${t} (not in /proc/filesystems)`);
}

function refuseClone(ctx: FsCtx): void {
  const cloned = (ctx.env.OCF_RESKEY_CRM_meta_clone_max ?? '') !== '' || (ctx.env.OCF_RESKEY_CRM_meta_clone ?? '') !== '';
  if (cloned && NOT_CLUSTER_AWARE.has(ctx.params.fstype) && !ctx.params.force_clones) {
    throw fail.configured(
      `${ctx.params.fstype} is not a cluster filesystem: mounted by two nodes at once it is corrupted. Do not clone this resource (or set force_clones=true if you really mean it)`,
    );
  }
}

async function fsck(ctx: FsCtx, device: string): Promise<void> {
  const policy = ctx.params.run_fsck;
  if (policy === 'no' || (policy === 'auto' && NO_FSCK.has(ctx.params.fstype))) return;
  if (!ctx.haveBinary('fsck')) throw fail.installed('fsck is not installed, and run_fsck asks for it');
  ctx.log.info(`checking ${device} (${ctx.params.fstype}) before mounting (run_fsck=${policy})`);
  const r = await ctx.run(['fsck', '-p', '-t', ctx.params.fstype, '--', device], { timeoutMs: ctx.deadline.remaining() - 1000 });
  // fsck: 0 clean, 1 errors corrected, 2 corrected and a reboot advised; 4 and up: not fixed.
  if (r.code === null || r.code >= 4) throw fail.generic(`fsck of ${device} failed: ${describe(r)}`);
  if (r.code > 0) ctx.log.warn(`fsck corrected errors on ${device} (exit ${r.code})`);
}

async function start(ctx: FsCtx) {
  refuseClone(ctx);
  let s = await state(ctx);
  if (s.mount) {
    if (!s.ours) throw wrongDevice(ctx, s);
    ctx.log.info(`${ctx.params.device} is already mounted on ${s.dir}`);
    return OCF.SUCCESS;
  }
  const below = mountsBelow(readMountinfo(), s.dir);
  if (below.length > 0) {
    throw fail.generic(`other mounts exist below ${s.dir} (${below.map((m) => m.target).join(', ')}): mounting over them would hide them`);
  }
  await ensureFstype(ctx);
  let source = ctx.params.device;
  if (!isBind(ctx) && !isNetwork(ctx)) {
    // A DRBD minor or a by-uuid link can appear a moment after the resource below it started.
    const waitMs = Math.max(0, Math.min(ctx.deadline.remaining() / 2, 30_000));
    const device = await ctx.deadline.poll(`waiting for ${ctx.params.device} to appear`, 200, async () => (await resolveDevice(ctx)) ?? undefined, waitMs).catch((e: unknown) => {
      if (e instanceof OcfError && !(e instanceof DeadlineError)) throw e;
      return undefined;
    });
    if (!device) throw fail.installed(`${ctx.params.device} does not exist on this node (waited ${(waitMs / 1000).toFixed(1)}s)`);
    if (!statSync(device).isBlockDevice()) throw fail.installed(`${device} is not a block device`);
    await fsck(ctx, device);
    source = device;
  }
  // The mount point's parent may be on a filesystem that hangs: both calls in bounded children.
  const fsb = boundedFs(ctx.run);
  if ((await fsb.stat(s.dir, 'stat of the mount point')) === undefined) {
    const err = await fsb.mkdirp(s.dir, '0755', 'creating the mount point');
    if (err) throw fail.generic(`cannot create the mount point ${s.dir}: ${err}`);
    ctx.log.info(`created mount point ${s.dir}`);
  }
  const argv = ['mount', '-t', ctx.params.fstype, ...(ctx.params.options ? ['-o', ctx.params.options] : []), '--', source, s.dir];
  const r = await ctx.run(argv);
  s = await state(ctx);
  if (!s.ours) {
    if (s.mount) throw wrongDevice(ctx, s);
    throw fail.generic(`mounting ${source} on ${s.dir} failed: ${describe(r)}`);
  }
  ctx.log.info(`mounted ${source} on ${s.dir} (${ctx.params.fstype}${ctx.params.options ? `, ${ctx.params.options}` : ''})`);
  // The depth-20 monitor's directory, made now so that monitor needs no mkdir (a read-only mount has none).
  if (!ctx.params.options.split(',').includes('ro')) {
    const status = statusFile(ctx, s.dir);
    await ctx.run(['mkdir', '-p', '--', status.slice(0, status.lastIndexOf('/'))], { timeoutMs: 5000, graceMs: 200 });
  }
  return OCF.SUCCESS;
}

function signalsOf(list: string): NodeJS.Signals[] {
  return list
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((n) => signalOf(n)!)
    .filter(Boolean);
}

/**
 * A mount namespace stop unmounts in: our own, or another one, read and entered through a process
 * in it (nsenter, so the umount and the holder search see that namespace's mounts).
 */
interface Place {
  /** For messages: empty for our own namespace. */
  readonly where: string;
  readonly mounts: () => MountEntry[];
  readonly umountArgv: (argv: string[]) => string[];
  readonly holders: (ctx: FsCtx, m: MountEntry) => Promise<SearchOutcome>;
}

/**
 * One holder search, in a bounded child (lib/holder-search.ts): at most half of what the stop has
 * left, so a search that hangs still leaves time for another unmount and for saying why.
 */
function search(ctx: FsCtx, query: HolderQuery): Promise<SearchOutcome> {
  return searchHolders(ctx.run, query, { timeoutMs: Math.max(300, Math.min(5000, (ctx.deadline.remaining() - 500) / 2)) });
}

const HERE: Place = { where: '', mounts: () => readMountinfo(), umountArgv: (argv) => argv, holders: (ctx, m) => search(ctx, { target: m }) };

function placeOf(ns: MountNamespace): Place {
  let pid = ns.pid;
  const where = ` in the mount namespace ${ns.link} of pid ${ns.pid} (${ns.comm})`;
  const mounts = (): MountEntry[] => {
    try {
      return readMountinfo(`/proc/${pid}/mountinfo`);
    } catch {
      // That process is gone; the namespace lives on while any other process is in it.
      const next = otherMountNamespaces().find((n) => n.link === ns.link);
      if (!next) return [];
      pid = next.pid;
      return readMountinfo(`/proc/${pid}/mountinfo`);
    }
  };
  return {
    where,
    mounts,
    // --root: mountinfo names targets from that process's root, which a container has moved.
    umountArgv: (argv) => ['nsenter', `--mount=/proc/${pid}/ns/mnt`, `--root=/proc/${pid}/root`, '--', ...argv],
    holders: (ctx, m) => search(ctx, { target: m, ns: { link: ns.link, mounts: mounts() } }),
  };
}

/**
 * Holders of copies of `m` in other mount namespaces (the same filesystem and directory in it). A
 * copy in a namespace that receives our unmounts (a service's private /tmp under systemd,
 * `unshare --propagation slave`) keeps our umount busy while a process there holds it, and no
 * process here does.
 */
async function holdersOfCopies(ctx: FsCtx, m: MountEntry): Promise<SearchOutcome> {
  const out: Holder[] = [];
  for (const ns of otherMountNamespaces()) {
    let mounts: MountEntry[];
    try {
      mounts = readMountinfo(`/proc/${ns.pid}/mountinfo`);
    } catch {
      continue;
    }
    for (const c of mounts) {
      if (c.major !== m.major || c.minor !== m.minor || c.root !== m.root) continue;
      const found = await search(ctx, { target: c, ns: { link: ns.link, mounts } });
      if (unfinished(found)) return found;
      for (const h of found.holders) out.push({ ...h, uses: h.uses.map((u) => `${u} in ${ns.link}`) });
    }
  }
  return { holders: out, foreign: [] };
}

/**
 * Unmounts one mount, signalling its holders while it is busy, until it is gone or the budget is
 * used. The mount is re-identified by id before every round, so holders are never looked up on a
 * parent that a vanished submount left behind (resource-agents #1944).
 */
async function unmountOne(ctx: FsCtx, place: Place, m: MountEntry, startedAt: number, budgetMs: number): Promise<void> {
  const delay = Number(ctx.params.signal_delay) * 1000;
  let round = 0;
  /** Why the last holder search tells nothing, when it did not finish. */
  let unknown: string | undefined;
  const at = `${m.target}${place.where}`;
  for (;;) {
    if (!stillMounted(place.mounts(), m.id)) return;
    // Built each round: the process another namespace is entered through may be a holder signalled in the last.
    const umountArgv = place.umountArgv(['umount', ...(NETWORK.has(m.fstype) ? ['-f'] : []), '--', m.target]);
    const r = await ctx.run(umountArgv, { timeoutMs: Math.max(1000, ctx.deadline.remaining() - 500) });
    if (!stillMounted(place.mounts(), m.id)) {
      ctx.log.info(`unmounted ${at}`);
      return;
    }
    // A search that did not finish tells nothing: never "no holders". Unmounting goes on (the
    // stuck process may let go), and the reason says why nobody was signalled.
    let found = await place.holders(ctx, m);
    if (!unfinished(found) && found.holders.length === 0 && place === HERE && !isBind(ctx) && !isNetwork(ctx)) {
      const copies = await holdersOfCopies(ctx, m);
      found = unfinished(copies) ? copies : { holders: copies.holders, foreign: found.foreign };
    }
    if (unfinished(found) && !unknown) ctx.log.warn(`${at} is busy and ${found.unfinished}: nobody is signalled; retrying the unmount`);
    if (!unfinished(found) && found.withoutMaps && round === 0) ctx.log.warn(`${at} is busy and ${found.withoutMaps}: the holders found without it (open files, working directories) are acted on; one that only maps a file of the mount is not known`);
    // The first search that did not finish says it best: a later one had less time, and said less.
    unknown = unfinished(found) ? (unknown ?? found.unfinished) : undefined;
    const { holders, foreign } = unfinished(found) ? { holders: [], foreign: [] } : found;
    const spent = performance.now() - startedAt;
    if (ctx.deadline.remaining() < Math.max(delay, 200) + 300) {
      const who = unknown ?? (holders.length ? `held by ${describeHolders(holders)}` : foreign.length ? `used from other mount namespaces by ${describeHolders(foreign)}` : `busy with no process holding it (an NFS export, a loop device or a bind mount of it?)`);
      throw fail.generic(`cannot unmount ${at}: ${who}; last umount: ${describe(r)}`);
    }
    if (holders.length > 0 && ctx.params.force_unmount !== 'false') {
      const late = ctx.params.fast_stop ? round > 0 : spent >= budgetMs / 2;
      const sigs = signalsOf(late ? ctx.params.kill_signals : ctx.params.term_signals);
      for (const h of holders) {
        ctx.log.warn(`${at} is busy: sending ${sigs.join(',')} to ${h.pid} (${h.comm}): ${h.uses.join(', ')}`);
        for (const sig of sigs) {
          try {
            process.kill(h.pid, sig);
          } catch {
            // exited meanwhile
          }
        }
      }
    } else if (holders.length > 0) {
      if (round === 0) ctx.log.warn(`${at} is busy, held by ${describeHolders(holders)}; force_unmount=false, so nobody is signalled`);
    } else if (round === 0 && !unknown) {
      ctx.log.warn(`${at} is busy but no process holds it${foreign.length ? ` here (other mount namespaces: ${describeHolders(foreign)})` : ''}: retrying`);
    }
    round++;
    await ctx.deadline.sleep(holders.length > 0 ? delay : Math.min(delay, 500));
  }
}

/**
 * Stop returns 0 only when the filesystem is mounted nowhere on this node:
 * - On the mount point, the mounts stacked there are unmounted from the top while they are ours
 *   (submounts first). One of ours covered by a mount that is not ours fails the stop: a path
 *   reaches only the top mount, and the top one is somebody else's to unmount.
 * - A block-device filesystem still mounted elsewhere in our namespace (a bind of a
 *   subdirectory) fails the stop: something else mounted it, and may manage it.
 * - In every other mount namespace (a container, `unshare -m`, a service with a private /tmp
 *   made while the filesystem was mounted), each mount of the filesystem is a copy nothing in
 *   the cluster manages: it is unmounted there, its holders in that namespace signalled as
 *   force_unmount allows; what cannot go within the timeout fails the stop, naming the namespace.
 * - An ext2/3/4 or XFS filesystem the kernel still lists after all that (superblockGone) fails it.
 * Binds and network filesystems are not looked for in other namespaces: their source is not
 * this resource's to free.
 */
async function stop(ctx: FsCtx) {
  const dir = await mountPoint(ctx);
  const local = !isBind(ctx) && !isNetwork(ctx);
  const atDir = stackAt(readMountinfo(), dir);
  // A block device is looked for in the other namespaces even when nothing is on the mount point here.
  let device: string | undefined;
  if (local) {
    try {
      device = await resolveDevice(ctx);
    } catch (e) {
      if (atDir.length > 0 || !(e instanceof OcfError)) throw e;
      ctx.log.warn(`${e.reason}: nothing is mounted on ${dir}, and other mount namespaces are not searched for it`);
    }
  }
  const startedAt = performance.now();
  const budget = ctx.deadline.remaining();
  const unmounted: MountEntry[] = [];
  for (;;) {
    const mounts = readMountinfo();
    const stack = stackAt(mounts, dir);
    const top = stack.at(-1);
    const mine = await findLastAsync(stack, (m) => matches(ctx, m, device, mounts));
    if (top === undefined) break;
    if (mine === undefined) {
      if (unmounted.length === 0) ctx.log.warn(`${describeMount(top)} is mounted on ${dir}, not ${ctx.params.device}: not ours, left mounted; ${ctx.params.device} is not mounted there`);
      break;
    }
    const over = hiddenBy(mounts, mine);
    if (over) throw fail.generic(`${describeMount(mine)} is mounted on ${dir} under ${describeMount(over)} on ${over.target}, which is not ours: unmount that first (stop unmounts only what is ours)`);
    // In a child, bounded: removing a file blocks on a frozen filesystem.
    if (unmounted.length === 0) await ctx.run(['rm', '-f', '--', statusFile(ctx, dir)], { timeoutMs: 2000, graceMs: 200 });
    for (const m of [...mountsBelow(mounts, dir), top]) await unmountOne(ctx, HERE, m, startedAt, budget);
    unmounted.push(top);
  }
  if (!local) return OCF.SUCCESS;
  const ours = async (m: MountEntry) => (m.major !== 0 && unmounted.some((u) => u.major === m.major && u.minor === m.minor)) || (await matches(ctx, m, device));
  const elsewhere = await filterAsync(readMountinfo(), ours);
  if (elsewhere.length > 0) {
    throw fail.generic(`${unmounted.length ? `${dir} is unmounted, but ` : ''}the filesystem is still mounted at ${elsewhere.map((m) => m.target).join(', ')}; stop whatever mounted it there`);
  }
  if (device !== undefined || unmounted.length > 0) await unmountInOtherNamespaces(ctx, ours, startedAt, budget);
  if (device !== undefined) await superblockGone(ctx, device, mountUnder(readMountinfo(), dir));
  return OCF.SUCCESS;
}

/**
 * The usual cause where the mount point's parent does not propagate: a service systemd started
 * while the filesystem was mounted (ProtectSystem, PrivateTmp: systemd-logind, a daemon an update
 * restarted) has a copy in its namespace, and systemd 252 (Debian 12, RHEL 9) keeps a second copy
 * there under the service's root that no mount table shows. An unmount reaches both only through
 * the parent's propagation, which systemd sets to shared on a machine (not in a container).
 */
function unsharedHint(parent: MountEntry): string {
  return `. The mount below it, ${parent.target}, is not shared, so unmounts do not propagate: a service started while the filesystem was mounted keeps copies of it that this stop cannot reach, one of them in no mount table (systemd's sandboxing: ProtectSystem, PrivateTmp). Restarting that service frees them; mount --make-rshared ${parent.target} (as systemd does at boot on a machine) keeps it from happening again`;
}

/** How long a superblock may outlive its last mount before the stop calls it held: a holder exiting lets go at once. */
const SUPERBLOCK_GONE_MS = 2000;

/**
 * With no mount of the filesystem left in any namespace this node shows, the kernel must no longer
 * have it either (ext2/3/4 and XFS list every live one under /sys/fs). One it still has is held by
 * something no mount table names (a lazily unmounted copy in use, a namespace no process shows):
 * the device is still in use, writes may still reach it, and the stop cannot call it stopped.
 */
async function superblockGone(ctx: FsCtx, device: string, parent: MountEntry | undefined): Promise<void> {
  const stopAt = performance.now() + Math.min(SUPERBLOCK_GONE_MS, Math.max(0, ctx.deadline.remaining() - 500));
  for (;;) {
    const entry = liveSuperblock(device);
    if (entry === undefined) return;
    if (performance.now() >= stopAt) {
      throw fail.generic(
        `the filesystem on ${device} is still active in the kernel (${entry} exists) though no mount of it is left in any mount namespace on this node: something still holds it (a lazily unmounted copy a process still uses, a mount namespace no process shows, a freeze: fsfreeze, a suspended device-mapper device), and writes may still reach the device. Find the holder (fuser -vm ${device}), end it, and stop again${parent && !parent.shared ? unsharedHint(parent) : ''}`,
      );
    }
    await ctx.deadline.sleep(100);
  }
}

async function unmountInOtherNamespaces(ctx: FsCtx, ours: (m: MountEntry) => Promise<boolean>, startedAt: number, budget: number): Promise<void> {
  for (const ns of otherMountNamespaces()) {
    const place = placeOf(ns);
    for (;;) {
      const mounts = place.mounts();
      const copies = await filterAsync(mounts, ours);
      if (copies.length === 0) break;
      const open = copies.find((m) => !hiddenBy(mounts, m));
      if (!open) {
        const m = copies[0]!;
        const over = hiddenBy(mounts, m)!;
        throw fail.generic(`the filesystem is still mounted at ${m.target}${place.where}, under ${describeMount(over)} on ${over.target}, which is not ours`);
      }
      // Its root: unmounting there would take the namespace's whole tree with it.
      if (open.target === '/') throw fail.generic(`the filesystem is the root of the mount namespace${place.where}: stop what runs there`);
      if (!ctx.haveBinary('nsenter')) throw fail.installed(`the filesystem is still mounted at ${open.target}${place.where}, and nsenter (util-linux) is not installed to unmount it there`);
      ctx.log.info(`${ctx.params.device} is mounted at ${open.target}${place.where}: unmounting it there`);
      for (const m of [...mountsBelow(mounts, open.target), open]) await unmountOne(ctx, place, m, startedAt, budget);
    }
  }
}

/**
 * Stop with parameters that do not validate. What identifies this resource's filesystem is the
 * device (with fstype and options, which say how to compare it) and the directory; the other
 * parameters only say how to stop, and take their defaults. With both usable, the normal stop.
 * With one of them, whatever it finds (something on the directory, the device mounted anywhere)
 * fails the stop, named: it may be this resource's, and reporting it stopped would let another
 * node mount it too. With neither (a controller that lost the old parameters sends none), nothing
 * on this node can be tied to this resource, and OCF's rule holds: stopping what cannot be
 * running succeeds.
 */
async function stopWhenInvalid(ctx: FsCtx, problems: readonly ParamProblem[]) {
  const why = `stop with parameters that do not validate (${describeProblems(problems)})`;
  const bad = new Set(problems.map((p) => p.param));
  // A problem without a parameter comes from validate(), which checks device, fstype and options together.
  const identity = ctx.params.device !== '' && !['device', 'fstype', 'options', ''].some((n) => bad.has(n));
  const dir = ctx.params.directory.startsWith('/') ? await mountPoint(ctx) : undefined;
  const usableDir = dir !== undefined && dir !== '' && dir !== '/';
  if (identity && usableDir) {
    ctx.log.warn(`${why}: stopping with the defaults for those`);
    const howToStop = problems.filter((p) => p.param !== 'directory');
    return stop({ ...ctx, params: withDefaultsFor(params, ctx.params, howToStop) });
  }
  if (usableDir) {
    const mounts = readMountinfo();
    const there = [...mountsBelow(mounts, dir), ...stackAt(mounts, dir)];
    if (there.length > 0) {
      throw fail.generic(`${why}: cannot tell whether ${describeMount(there.at(-1)!)} on ${there.at(-1)!.target} is this resource's; left mounted`);
    }
    ctx.log.warn(`${why}: nothing is mounted on ${dir}`);
    return OCF.SUCCESS;
  }
  if (identity) {
    const device = isBind(ctx) || isNetwork(ctx) ? undefined : await resolveDevice(ctx);
    const found = await filterAsync(readMountinfo(), (m) => matches(ctx, m, device));
    if (found.length > 0) throw fail.generic(`${why}: ${ctx.params.device} is mounted on ${found.map((m) => m.target).join(', ')}, and without a usable directory stop cannot tell whether that is this resource's mount; left mounted`);
    ctx.log.warn(`${why}: ${ctx.params.device} is not mounted on this node`);
    return OCF.SUCCESS;
  }
  ctx.log.warn(`${why}: neither device nor directory is usable, so nothing on this node can be identified as this resource's; reporting stopped`);
  return OCF.SUCCESS;
}

export const fsMount = defineAgent({
  name: 'fs-mount',
  version: '0.1.0',
  shortdesc: 'Mount a filesystem; unmount it without collateral damage',
  longdesc:
    'Mounts a filesystem (in the ocfkit NFS stack: the DRBD device) and checks by device identity that the right one is mounted. Stop unmounts submounts first, then the mount point; when it is busy, it signals only the processes that hold that very mount (matched by mount id, never by device or path prefix), never lazy-unmounts, and fails with the holders named when it cannot finish within the timeout. Stop reports stopped only when the filesystem is mounted nowhere on this node: a mount that is not ours stacked over ours on the directory fails it, naming that mount; for a block device, copies of the mount in other mount namespaces (a container, unshare -m) are unmounted there (nsenter), their holders in that namespace signalled as force_unmount allows, or the stop fails naming the namespace; and an ext2/3/4 or XFS filesystem the kernel still has once no mount of it is left anywhere (a lazily unmounted copy a process still uses) fails the stop, naming its /sys/fs entry. A stop with parameters that no longer validate still unmounts when device and directory identify the filesystem, and fails naming what it finds when only one of them does. Parameter names follow ocf:heartbeat:Filesystem.',
  examples: [
    {
      why: 'The DRBD device mounted at /srv/nfs, with a depth-20 monitor that writes and reads back a status file.',
      lines: [
        'pcs resource create nfs-fs ocf:ocfkit:fs-mount device=/dev/drbd0 directory=/srv/nfs fstype=xfs \\',
        '    op monitor interval=20s op monitor interval=61s OCF_CHECK_LEVEL=20 timeout=60s',
      ],
    },
  ],
  params,
  actions: {
    start: { meta: [{ timeout: 60 }], run: start },
    stop: { meta: [{ timeout: 60 }], run: stop },
    monitor: {
      meta: [
        { timeout: 40, interval: 20, depth: 0 },
        { timeout: 40, interval: 61, depth: 10 },
        { timeout: 60, interval: 121, depth: 20 },
      ],
      run: monitor,
    },
  },
  validateTimeout: 10,
  validate(ctx) {
    if (ctx.params.fstype === 'none' && !ctx.params.options.split(',').includes('bind')) throw fail.configured('fstype=none needs options=bind');
    if (isBind(ctx) && !ctx.params.device.startsWith('/')) throw fail.configured('a bind mount needs an absolute source directory as device');
  },
  stopWhenInvalid,
  async validateHost(ctx) {
    for (const bin of ['mount', 'umount', 'dd']) if (!ctx.haveBinary(bin)) throw fail.installed(`${bin} is not installed on this node`);
    if (ctx.params.fstype !== 'none' && !kernelKnows(ctx.params.fstype)) throw fail.installed(`the kernel of this node does not know ${ctx.params.fstype} (/proc/filesystems)`);
  },
});
