/**
 * nfs-export: export one directory to its clients so that handles and locks survive failover,
 * and run the kernel NFS server where nobody else does. Parameter names follow
 * ocf:heartbeat:exportfs (and nfsserver for the server side) where the meaning is the same.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { networkInterfaces } from 'node:os';
import { removeNote, stateDir, writeNote } from '../lib/background';
import { PathHung, S_IFDIR, boundedFs } from '../lib/bounded-fs';
import { mountAt, readMountinfo } from '../lib/mounts';
import { ETAB, EXPORT_CACHE, type Export, FLUSH_ARGV, LIST_ARGV, clientSpecProblem, exportArgv, findExport, fsidOption, parseExportLines, unexportArgv } from '../lib/exportfs';
import { isLocalAddress, parseAddress } from '../lib/inet';
import { which } from '../lib/binaries';
import * as units from '../lib/nfs-units';
import * as nfsd from '../lib/nfsd';
import { type Ctx, defineAgent } from '../lib/ocf/agent';
import { OCF, fail } from '../lib/ocf/codes';
import { type ParamProblem, checkAbsolutePath, describeProblems, param, withDefaultsFor } from '../lib/ocf/params';
import { describe } from '../lib/run';

const OPTION_LIST = /^[A-Za-z0-9_=:./@+-]+(,[A-Za-z0-9_=:./@+-]+)*$/;
const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

function checkFsid(v: string): string | undefined {
  if (v === 'root' || UUID.test(v)) return undefined;
  if (/^\d{1,10}$/.test(v) && Number(v) <= 0xffffffff) return undefined;
  return `${JSON.stringify(v)} is not an fsid (an integer, a UUID, or root)`;
}

function clients(v: string): string[] {
  return v.split(/[\s,]+/).filter(Boolean);
}

const params = {
  directory: param.string({
    required: true,
    shortdesc: 'Directory to export',
    longdesc: 'The directory to export, normally the mount point fs-mount manages. One directory per resource.',
    check: checkAbsolutePath,
  }),
  clientspec: param.string({
    required: true,
    shortdesc: 'Clients, separated by spaces',
    longdesc: 'One or more exportfs client specs separated by spaces: a host, address, address/prefix or address/netmask, IPv6 with or without brackets, *, *.domain, @netgroup. Each gets the same options.',
    check: (v) => {
      const list = clients(v);
      if (list.length === 0) return 'names no client';
      for (const c of list) {
        const p = clientSpecProblem(c);
        if (p) return p;
      }
      return undefined;
    },
  }),
  options: param.string({
    shortdesc: 'Export options',
    longdesc: 'exportfs -o options, comma separated (rw,sync,no_root_squash). Empty: the nfs-utils defaults (read-only). An fsid= here must agree with the fsid parameter.',
    check: (v) => (OPTION_LIST.test(v) ? undefined : `${JSON.stringify(v)} is not a comma-separated option list`),
  }),
  fsid: param.string({
    shortdesc: 'Filesystem id in the file handles',
    longdesc:
      'NFS file handles carry a filesystem id; when it differs between the nodes, clients get "Stale file handle" after failover. An integer, a UUID, or root (the NFSv4 pseudo-root). Empty: a UUID derived from the resource name, so every node exports with the same one (set it explicitly before renaming the resource).',
    check: checkFsid,
    maxLength: 40,
  }),
  unlock_on_stop: param.boolean({
    default: true,
    shortdesc: 'Release NFS locks on the filesystem on stop',
    longdesc: 'Write the directory to /proc/fs/nfsd/unlock_filesystem after unexporting, so the locks nfsd holds there do not keep the filesystem busy.',
  }),
  wait_for_leasetime_on_stop: param.boolean({
    default: false,
    shortdesc: 'Wait out the NFSv4 lease on stop',
    longdesc: 'After unexporting, wait the NFSv4 lease time (plus 2 s) so nfsd drops the state that pins the filesystem. The stop timeout must cover it. Not needed when this resource also stops the server it started.',
  }),
  rmtab_backup: param.string({
    default: '.rmtab',
    shortdesc: 'File in the export keeping NFSv3 mount records',
    longdesc: 'Relative path, inside the exported directory, where the /var/lib/nfs/rmtab lines of this export are kept (compared on every monitor and written when they changed, written on stop, restored on start), so NFSv3 clients stay known after failover. none disables it.',
    check: (v) => (v === 'none' || (/^[\w.-]+$/.test(v) && v !== '.' && v !== '..') ? undefined : `${JSON.stringify(v)} must be a file name or none`),
  }),
  manage_server: param.boolean({
    default: true,
    shortdesc: 'Start the kernel NFS server when it is not running',
    longdesc: 'true: start rpcbind, rpc.mountd, rpc.statd and nfsd when they are not running, and stop nfsd again on stop if this resource started it and nothing else is exported. Where systemd runs, through its units: the drop-ins ocfkit installs with its package (60-ocfkit-nfs.conf beside nfs-server.service, nfsdcld.service and rpc-statd.service) read /run/ocfkit/nfs-server.env, which start writes before the units start (nfsdcld and statd on nfs_shared_infodir, this resource\'s rpc.nfsd with its threads and server scope, and no exportfs -r or -au that would drop other resources\' exports on a restart of nfs-server.service) and stop removes; without that file the units run as packaged. Where those drop-ins are not loaded, start falls back to runtime drop-ins under /run/systemd/system and a systemctl daemon-reload, with a warning (validate-all and ocfkit doctor say so too). Stop ends nfs-server.service, rpc-statd.service and nfsdcld.service with systemctl so that a later start starts them again. Leave nfs-server.service disabled. false: the server is run by something else (nfs-server.service), only export.',
  }),
  nfs_shared_infodir: param.string({
    shortdesc: 'NFS client state directory on the shared filesystem',
    longdesc:
      'A directory on the failover filesystem for NFSv4 client records (nfsdcld\'s database, nfsv4recoverydir) and statd\'s monitor list and state, so clients can reclaim locks on the other node. Used when this resource starts the server, with or without systemd: the daemons are started with their state there (nfsdcld -s, rpc.statd -P) before nfsd, and sm-notify sends from it; nothing is bind-mounted over /var/lib/nfs. No whitespace, quotes, backslash or $: under systemd the path reaches the units through an environment file and a $VARIABLE in ExecStart, which would split or change it.',
    check: (v) => checkAbsolutePath(v) ?? (units.ENV_UNSAFE.test(v) ? `${JSON.stringify(v)} has whitespace, a quote, a backslash or $: systemd would split or change it on its way to rpc.statd and nfsdcld` : undefined),
  }),
  nfs_server_scope: param.string({
    shortdesc: 'NFSv4 server scope, the same on every node',
    longdesc: 'The scope nfsd presents to NFSv4 clients (it comes from the hostname): without the same scope on both nodes, clients refuse to reclaim their locks after failover. The floating address is a good value.',
    check: (v) => (/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(v) ? undefined : `${JSON.stringify(v)} is not a hostname-like scope`),
  }),
  nfs_ip: param.string({
    shortdesc: 'Floating address that sm-notify names',
    longdesc: 'The address NFSv3 clients mount through: after a server start, sm-notify tells them to reclaim their locks from it. It sends from this address, so it runs as soon as the address is up on this node (at start, or at the first monitor after the address resource started), within the grace period. sm-notify names the server by the host name of this address: give it one in /etc/hosts on both nodes (validate-all at depth 10 warns when it has none).',
    check: (v) => (parseAddress(v) ? undefined : `${JSON.stringify(v)} is not an address`),
  }),
  nfsd_threads: param.integer({
    default: 8,
    min: 1,
    max: 1024,
    shortdesc: 'nfsd threads when this resource starts the server',
    longdesc: 'How many nfsd kernel threads to start when the server is not running.',
  }),
  nfsv4_lease_time: param.integer({
    default: 0,
    min: 0,
    max: 3600,
    check: (v) => (v === 0 || v >= 10 ? undefined : 'the kernel takes 10 seconds or more'),
    shortdesc: 'NFSv4 lease seconds when this resource starts the server (0: the kernel default, 90)',
    longdesc: 'Written to /proc/fs/nfsd/nfsv4leasetime before nfsd starts (with or without systemd); a lease-time in /etc/nfs.conf that rpc.nfsd applies over it fails the start. Set it the same on both nodes. A shorter lease lets a failover end sooner: clients renew more often and the grace period that follows a failover (nfsv4_grace_time) can be shorter.',
  }),
  nfsv4_grace_time: param.integer({
    default: 0,
    min: 0,
    max: 3600,
    check: (v) => (v === 0 || v >= 10 ? undefined : 'the kernel takes 10 seconds or more'),
    shortdesc: 'NFSv4 grace seconds when this resource starts the server (0: the kernel default, the lease time)',
    longdesc:
      "Written to /proc/fs/nfsd/nfsv4gracetime before nfsd starts. After a failover, clients reclaim their opens and locks during the grace period, and new locks wait until it ends: keep it at least the lease time. New locks also wait out lockd's own grace period for NFSv3 (fs.nfs.nlm_grace_period, 50 seconds by default), which this parameter leaves alone: NFSv3 clients learn of the failover only once the address is up (sm-notify), and need that time to reclaim. (nfs.conf's grace-time, through rpc.nfsd, sets both.)",
  }),
};

type P = typeof params;
type NfsCtx = Ctx<P>;

/**
 * The exported directory with links followed, resolved in a bounded child: it is on the shared
 * filesystem (or is its mount point), whose hung device or dead server would block the walk.
 */
async function dirOf(ctx: NfsCtx): Promise<string> {
  const d = ctx.params.directory.replace(/\/+$/, '') || '/';
  // A mount target is already a path without links: exporting the mount point (the usual case) walks nothing.
  if (readMountinfo().some((m) => m.target === d)) return d;
  return (await boundedFs(ctx.run).realpath(d, 'resolving the exported directory')) ?? d;
}

/** The fsid both nodes use: configured, from options, or derived from the resource name. */
export function fsidFor(instance: string, fsid: string, options: string): string {
  if (fsid !== '') return fsid;
  const inOptions = fsidOption(options);
  if (inOptions !== undefined) return inOptions;
  // Required here, not at load: every agent start-up would otherwise load the crypto module.
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const h = createHash('sha256').update(`ocfkit/nfs-export/${instance.replace(/:\d+$/, '')}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function exportOptions(ctx: NfsCtx): string {
  const fsid = fsidFor(ctx.instance, ctx.params.fsid, ctx.params.options);
  const rest = ctx.params.options.split(',').filter((o) => o !== '' && !o.startsWith('fsid='));
  return [...rest, `fsid=${fsid}`].join(',');
}

interface Marker {
  readonly dir: string;
  readonly clients: string[];
  readonly startedServer: boolean;
  /** When the server this resource started still owes its NFSv3 clients a reboot notice (ms since the epoch). */
  readonly notifyPending?: number;
  /** The rmtab lines last written to the backup on the shared filesystem. */
  readonly rmtabSaved?: string;
}

function markerFile(ctx: NfsCtx): string {
  return `${stateDir(ctx.env)}/nfs-export-${ctx.instance.replace(/[^\w.:-]/g, '_')}.json`;
}

/** False when it could not be written: the marker before it, if any, stays whole. */
function writeMarker(ctx: NfsCtx, m: Marker): boolean {
  return writeNote(markerFile(ctx), JSON.stringify(m));
}

function readMarker(ctx: NfsCtx): Marker | undefined {
  try {
    return JSON.parse(readFileSync(markerFile(ctx), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

/**
 * The kernel's export table as exportfs keeps it: etab, which exportfs rewrites whole (a new file
 * renamed over it) and `exportfs -s` prints. Read here, a monitor starts no process (each costs a
 * Node agent ~0.3 s on a busy node); `exportfs -s` where etab is not in the default place.
 */
async function listExports(ctx: NfsCtx): Promise<Export[]> {
  try {
    return parseExportLines(readFileSync(ETAB, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') ctx.log.debug(`reading ${ETAB}: ${(e as Error).message}; asking exportfs`);
  }
  const r = await ctx.run([...LIST_ARGV], { timeoutMs: 10_000 });
  if (r.code !== 0) throw fail.generic(`cannot list the exports: ${describe(r)}`);
  return parseExportLines(r.stdout);
}

/** Which of this resource's client specs are exported now. */
async function exportedNow(ctx: NfsCtx): Promise<{ dir: string; present: string[]; missing: string[] }> {
  const dir = await dirOf(ctx);
  const list = await listExports(ctx);
  const present: string[] = [];
  const missing: string[] = [];
  for (const c of clients(ctx.params.clientspec)) (findExport(list, dir, c) ? present : missing).push(c);
  return { dir, present, missing };
}

/**
 * What of a present kernel NFS server is gone: its threads, or rpc.mountd, which answers the
 * kernel's export-cache lookups (for every NFS version); without it requests wait forever once
 * the cached entries expire. Undefined where there is no nfsd at all (nothing to watch).
 */
async function serverGone(ctx: NfsCtx): Promise<string | undefined> {
  const t = await nfsdRead(ctx, 'threads');
  if (t === undefined) return undefined;
  if (t === 0) return 'the kernel NFS server is not running (nfsd threads: 0)';
  if (nfsd.pidsOf('rpc.mountd').length === 0) return `rpc.mountd is not running (nfsd threads: ${t}): the kernel cannot look exports up`;
  return undefined;
}

async function serverAnswers(ctx: NfsCtx): Promise<string | undefined> {
  const t = await nfsdRead(ctx, 'threads');
  if (!t) return `the kernel NFS server is not running (nfsd threads: ${t ?? 'no nfsd'})`;
  if (ctx.haveBinary('rpcinfo')) {
    const r = await ctx.run(nfsd.argv.rpcinfo(), { timeoutMs: 5000 });
    if (r.code !== 0) return `the NFS server does not answer on TCP: ${describe(r)}`;
  }
  return undefined;
}

async function monitor(ctx: NfsCtx) {
  if (!ctx.haveBinary('exportfs')) {
    if (ctx.probe) return OCF.NOT_RUNNING;
    throw fail.installed('exportfs (nfs-kernel-server) is not installed');
  }
  const { dir, present, missing } = await exportedNow(ctx);
  const marker = readMarker(ctx);
  if (present.length === 0) return OCF.NOT_RUNNING;
  if (!marker) {
    // etab survives a reboot; only a running nfsd with mountd serves it. Served without our marker:
    // not "stopped" (clients can reach it), so fail, and Pacemaker's stop cleans it up.
    if (!(await nfsdRead(ctx, 'threads'))) return OCF.NOT_RUNNING;
    throw fail.generic(`${dir} is exported to ${present.join(' ')} without this resource having started it (left over from before a reboot?)`);
  }
  if (missing.length > 0) throw fail.generic(`${dir} is no longer exported to ${missing.join(' ')}`);
  // The export table outlives the server: with nfsd stopped, or its daemons killed, under us the
  // exports are still listed and clients hang. A file read and a /proc scan, so every monitor
  // checks them, not only depth 10.
  const down = await serverGone(ctx);
  if (down) throw fail.generic(`${down}: clients of ${dir} get no answer`);
  if (!ctx.probe && ctx.checkLevel >= 10) {
    const down = await serverAnswers(ctx);
    if (down) throw fail.generic(down);
  }
  if (ctx.probe) return OCF.SUCCESS;
  const saved = await backupRmtab(ctx, dir, marker);
  if (saved.notifyPending !== undefined) await sendRebootNotice(ctx, saved);
  return OCF.SUCCESS;
}

const unnamedAddress = (ip: string) =>
  `sm-notify cannot send from ${ip}: the address has no host name here (sm-notify names the server by it). Add "${ip} NAME" to /etc/hosts on both nodes, with NAME resolving to ${ip} on the NFSv3 clients: until then they are not told to reclaim their locks after a failover`;

/** The host name of ADDR (getnameinfo: /etc/hosts, then DNS), or undefined; bounded by MS. */
async function hostNameOf(addr: string, ms: number): Promise<string | undefined> {
  const { lookupService } = require('node:dns').promises as typeof import('node:dns').promises;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((res) => {
    timer = setTimeout(() => res(undefined), Math.max(0, ms));
  });
  try {
    return await Promise.race([lookupService(addr, 0).then((r) => (r.hostname && r.hostname !== addr ? r.hostname : undefined), () => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address));
}

/**
 * After a server start, sm-notify tells the NFSv3 clients that had locks (statd's list, on the
 * shared filesystem) to reclaim them. It sends from nfs_ip and names it, so it can only run once
 * that address is up here; the stack starts the address after the export (no client reaches the
 * address with nothing exported behind it), so start sends it when it can, and every monitor
 * until then checks. Past the grace period reclaims are refused, so the notice is dropped then.
 */
async function sendRebootNotice(ctx: NfsCtx, marker: Marker): Promise<void> {
  const ip = ctx.params.nfs_ip;
  const since = marker.notifyPending ?? Date.now();
  if (ip && !isLocalAddress(ip, localAddresses())) {
    const graceS = Math.max((await nfsdRead(ctx, 'nfsv4gracetime')) ?? 90, 90);
    if (Date.now() - since > graceS * 1000) {
      ctx.log.warn(`${ip} did not come up on this node within ${graceS}s of the NFS server start: NFSv3 clients were not told to reclaim their locks (sm-notify sends from that address)`);
      writeMarker(ctx, { ...marker, notifyPending: undefined });
    } else if (ctx.action === 'start') {
      ctx.log.info(`NFSv3 clients are told to reclaim their locks once ${ip} is up on this node (sm-notify sends from it): the monitor checks`);
    }
    return;
  }
  const info = ctx.params.nfs_shared_infodir;
  const r = await ctx.run(nfsd.argv.smNotify(info ? `${info}/statd` : undefined, ip || undefined), { timeoutMs: 5000 });
  if (r.code !== 0) {
    // sm-notify logs why to syslog only. Its usual reason, checked here: it names the server by
    // the host name of the address, and an address without one makes it give up every time.
    if (ip && (await hostNameOf(ip, Math.min(3000, ctx.deadline.remaining() - 1000))) === undefined) {
      ctx.log.warn(unnamedAddress(ip));
      writeMarker(ctx, { ...marker, notifyPending: undefined });
      return;
    }
    ctx.log.warn(`sm-notify (tried again at the next monitor): ${describe(r)}`);
    return;
  }
  writeMarker(ctx, { ...marker, notifyPending: undefined });
  ctx.log.info(`sm-notify sent${ip ? ` from ${ip}` : ''} ${((Date.now() - since) / 1000).toFixed(1)}s after the NFS server start: NFSv3 clients reclaim their locks`);
}

const RMTAB = '/var/lib/nfs/rmtab';

/**
 * NFSv3 mount records of this export, kept on the shared filesystem (a bounded child writes them:
 * a write there may hang). With MARKER (a monitor), only when they changed since the last write,
 * which the returned marker records; stop always writes.
 */
async function backupRmtab<M extends Marker | undefined>(ctx: NfsCtx, dir: string, marker: M): Promise<M> {
  if (ctx.params.rmtab_backup === 'none') return marker;
  let text: string;
  try {
    text = readFileSync(RMTAB, 'utf8')
      .split('\n')
      .filter((l) => l.split(':')[1] === dir)
      .map((l) => `${l}\n`)
      .join('');
  } catch {
    return marker;
  }
  if (marker?.rmtabSaved === text) return marker;
  const r = await ctx.run(['dd', `of=${dir}/${ctx.params.rmtab_backup}`, 'status=none'], { input: text, timeoutMs: 3000, graceMs: 200 });
  if (r.code !== 0) {
    ctx.log.warn(`could not keep the rmtab backup: ${describe(r)}`);
    return marker;
  }
  if (!marker) return marker;
  const next = { ...marker, rmtabSaved: text };
  writeMarker(ctx, next);
  return next;
}

/** The backup is on the shared filesystem: read in a bounded child. */
async function restoreRmtab(ctx: NfsCtx, dir: string): Promise<void> {
  if (ctx.params.rmtab_backup === 'none') return;
  let text: string | undefined;
  try {
    text = await boundedFs(ctx.run).read(`${dir}/${ctx.params.rmtab_backup}`, 'reading the rmtab backup');
  } catch (e) {
    if (e instanceof PathHung) throw e;
    ctx.log.warn(`the rmtab backup: ${(e as Error).message}`);
    return;
  }
  const saved = (text ?? '').split('\n').filter(Boolean);
  if (saved.length === 0) return;
  try {
    const current = existsSync(RMTAB) ? readFileSync(RMTAB, 'utf8').split('\n').filter(Boolean) : [];
    const merged = [...new Set([...current, ...saved])];
    writeFileSync(RMTAB, `${merged.join('\n')}\n`, { mode: 0o644 });
  } catch (e) {
    ctx.log.warn(`restoring NFSv3 mount records into ${RMTAB}: ${(e as Error).message}`);
  }
}

function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

/**
 * A number from one of nfsd's control files (threads, nfsv4leasetime …); undefined without nfsd.
 * Read in a bounded child: the read takes nfsd's mutex, which `rpc.nfsd 0` holds for as long as
 * an nfsd thread is stuck in the filesystem below (a hung device), so an in-process read would
 * block the next monitor and stop for good.
 */
async function nfsdRead(ctx: NfsCtx, file: string): Promise<number | undefined> {
  const path = `${nfsd.NFSD}/${file}`;
  // No nfsd (the module not loaded, its filesystem not mounted): no child.
  if (!existsSync(path)) return undefined;
  let text: string | undefined;
  try {
    text = await boundedFs(ctx.run).read(path, 'reading');
  } catch (e) {
    // Only a hang is news; a file that cannot be read says no number, as before.
    if (e instanceof PathHung) throw e;
    return undefined;
  }
  return nfsd.controlNumber(text);
}

/**
 * Writes one of nfsd's control files in a bounded child: the write waits for nfsd's mutex, which a
 * stuck nfsd holds, and a path written there (the recovery directory) is looked up on the shared
 * filesystem. A failed write fails the start, as the in-process write did.
 */
async function writeControl(ctx: NfsCtx, file: string, text: string): Promise<void> {
  const err = await boundedFs(ctx.run).write(`${nfsd.NFSD}/${file}`, text, 'writing');
  if (err) throw fail.generic(`writing ${nfsd.NFSD}/${file}: ${err}`);
}

/**
 * Starts what of the NFS server is not running; says whether nfsd itself was started here, and
 * whether its clients are owed a reboot notice (sm-notify from the shared state directory).
 */
async function ensureServer(ctx: NfsCtx): Promise<{ started: boolean; notify: boolean }> {
  if (await nfsdRead(ctx, 'threads')) {
    const elsewhere = stateElsewhere(ctx);
    if (elsewhere) throw fail.generic(elsewhere);
    // Running, but rpc.mountd was killed: nothing else would bring it back.
    if (nfsd.pidsOf('rpc.mountd').length === 0) {
      if (systemdRunning()) await ctx.run(['systemctl', 'start', 'nfs-mountd.service'], { timeoutMs: 30_000 });
      else await mustRun(ctx, nfsd.argv.mountd(), 'rpc.mountd');
      if (nfsd.pidsOf('rpc.mountd').length === 0) throw fail.generic('nfsd runs but rpc.mountd could not be started');
      ctx.log.info('started rpc.mountd for the running NFS server');
    }
    return { started: false, notify: false };
  }
  const info = ctx.params.nfs_shared_infodir;
  if (systemdRunning()) {
    if (info) await prepareInfodir(ctx, info);
    try {
      await units.startServer(unitNode(ctx), unitSettings(ctx));
    } catch (e) {
      if (e instanceof units.UnitError) throw fail.generic(e.message);
      throw e;
    }
    if (info && !ctx.haveBinary('nfsdcld')) ctx.log.warn(NO_NFSDCLD);
    ctx.log.info(`started ${units.SERVER} (${ctx.params.nfsd_threads} threads${ctx.params.nfs_server_scope ? `, scope ${ctx.params.nfs_server_scope}` : ''}${info ? `, state in ${info}` : ''})`);
    return { started: true, notify: true };
  }
  if (!nfsd.controlMounted()) {
    await ctx.run(['modprobe', 'nfsd'], { timeoutMs: 10_000 });
    const m = await ctx.run(nfsd.argv.mountControl(), { timeoutMs: 10_000 });
    if (!nfsd.controlMounted()) throw fail.installed(`the kernel NFS server (nfsd) is not available on this node: ${describe(m)}`);
  }
  if (info) {
    await prepareInfodir(ctx, info);
    // Client records where the other node will find them; must be set before nfsd starts.
    // nfsd's control files take one line: without the newline the write fails with EINVAL.
    await writeControl(ctx, 'nfsv4recoverydir', `${info}/v4recovery\n`);
  }
  if (info) await ensureClientTracking(ctx, info);
  // Like the recovery directory, only writable while nfsd is stopped.
  if (ctx.params.nfsv4_lease_time) await writeControl(ctx, 'nfsv4leasetime', `${ctx.params.nfsv4_lease_time}\n`);
  if (ctx.params.nfsv4_grace_time) await writeControl(ctx, 'nfsv4gracetime', `${ctx.params.nfsv4_grace_time}\n`);
  if (nfsd.pidsOf('rpcbind').length === 0) await mustRun(ctx, nfsd.argv.rpcbind(), 'rpcbind');
  if (nfsd.pidsOf('rpc.mountd').length === 0) await mustRun(ctx, nfsd.argv.mountd(), 'rpc.mountd');
  if (nfsd.pidsOf('rpc.statd').length === 0) await mustRun(ctx, nfsd.argv.statd(info ? `${info}/statd` : undefined), 'rpc.statd');
  const start = nfsd.argv.nfsd(ctx.params.nfsd_threads);
  const scope = ctx.params.nfs_server_scope;
  await mustRun(ctx, scope ? ['unshare', '--uts', '--', process.execPath, 'with-hostname', scope, '--', ...start] : start, 'rpc.nfsd');
  if (!(await nfsdRead(ctx, 'threads'))) throw fail.generic('rpc.nfsd ran but no nfsd thread is running');
  ctx.log.info(`started the kernel NFS server (${ctx.params.nfsd_threads} threads${scope ? `, scope ${scope}` : ''}${info ? `, state in ${info}` : ''})`);
  return { started: true, notify: true };
}

/**
 * NFSv4 clients can reclaim their opens and locks on the other node only if that node's nfsd knows
 * them. The kernel asks nfsdcld first, then the nfsdcltrack helper (whose database is local, in
 * /var/lib/nfs), and reads nfsv4recoverydir only when both fail: so nfsdcld runs with its
 * database in the shared directory, started before nfsd.
 */
async function ensureClientTracking(ctx: NfsCtx, info: string): Promise<void> {
  const storage = `${info}/nfsdcld`;
  if (nfsd.pidsOf('nfsdcld').length > 0) {
    if (nfsd.pidsUsing('nfsdcld', storage).length === 0) {
      ctx.log.warn(`nfsdcld already runs with its database elsewhere: NFSv4 clients will not be able to reclaim their locks on the other node (stop it, or give it -s ${storage})`);
    }
    return;
  }
  if (!ctx.haveBinary('nfsdcld')) {
    ctx.log.warn(NO_NFSDCLD);
    return;
  }
  let pipefs = readMountinfo().find((m) => m.fstype === 'rpc_pipefs')?.target;
  if (!pipefs) {
    mkdirSync(nfsd.PIPEFS, { recursive: true });
    const m = await ctx.run(nfsd.argv.mountPipefs(nfsd.PIPEFS), { timeoutMs: 10_000 });
    if (m.code !== 0) throw fail.generic(`mounting rpc_pipefs on ${nfsd.PIPEFS} (nfsdcld needs it): ${describe(m)}`);
    pipefs = nfsd.PIPEFS;
  }
  const mk = await ctx.run(['mkdir', '-p', '-m', '0700', '--', storage], { timeoutMs: 10_000 });
  if (mk.code !== 0) throw fail.generic(`cannot prepare ${storage}: ${describe(mk)}`);
  await mustRun(ctx, nfsd.argv.nfsdcld(pipefs, storage), 'nfsdcld');
}

/**
 * A running server whose client state is not in this resource's nfs_shared_infodir (another
 * service's, or the node's own /var/lib/nfs): exported there, this export's clients would get no
 * grace period and no reboot notice after the move, and be recorded where the other node never
 * looks. One node runs one kernel NFS server; start fails rather than lose their state silently.
 */
function stateElsewhere(ctx: NfsCtx): string | undefined {
  const info = ctx.params.nfs_shared_infodir;
  if (!info) return undefined;
  const off: string[] = [];
  if (ctx.haveBinary('nfsdcld') && nfsd.pidsUsing('nfsdcld', `${info}/nfsdcld`).length === 0) off.push('nfsdcld');
  if (nfsd.pidsUsing('rpc.statd', `${info}/statd`).length === 0) off.push('rpc.statd');
  if (off.length === 0) return undefined;
  return `the NFS server on this node already runs, with ${off.join(' and ')} keeping client state outside ${info} (another NFS service's server, or one started outside the cluster): this export's clients would lose their locks after a failover; one node runs one NFS server, so one service per node (or manage_server=false with one shared state directory)`;
}

/** The state directories on the shared filesystem, made on first use but only there. */
async function prepareInfodir(ctx: NfsCtx, info: string): Promise<void> {
  if ((await boundedFs(ctx.run).stat(info, 'stat of nfs_shared_infodir')) === undefined) {
    // With the export's filesystem not mounted, client state would land on this node's root filesystem.
    const dir = await dirOf(ctx);
    if (!(info.startsWith(`${dir}/`) && mountAt(readMountinfo(), dir))) {
      throw fail.generic(`nfs_shared_infodir ${info} does not exist, and it is not inside the mounted ${dir}: create it on the shared filesystem`);
    }
  }
  // A process with a deadline rather than fs calls: a frozen device must not hang the action.
  const mk = await ctx.run(['mkdir', '-p', '-m', '0700', '--', ...['v4recovery', 'statd/sm', 'statd/sm.bak', 'nfsdcld'].map((d) => `${info}/${d}`)], { timeoutMs: 10_000 });
  if (mk.code !== 0) throw fail.generic(`cannot prepare ${info}: ${describe(mk)}`);
}

const NO_NFSDCLD = 'nfsdcld is not installed: the kernel tracks NFSv4 clients with nfsdcltrack in /var/lib/nfs, which the other node does not see, so clients cannot reclaim their locks after a failover';

/** This node as the systemd sequences in lib/nfs-units see it. */
function unitNode(ctx: NfsCtx): units.Node {
  return {
    run: ctx.run,
    threads: () => nfsdRead(ctx, 'threads'),
    using: (name, path) => nfsd.pidsUsing(name, path),
    running: (name) => nfsd.pidsOf(name),
    control: (file, value) => writeControl(ctx, file, `${value}\n`),
    readControl: (file) => nfsdRead(ctx, file),
    dropIn: (unit, text) => writeDropIn(units.dropInPath(unit), text),
    envFile: (text) => (text === undefined ? removeNote(units.ENV_FILE) : writeNote(units.ENV_FILE, text)),
    waitFor: (what, ms, probe) =>
      ctx.deadline.poll(what, 200, async () => ((await probe()) ? true : undefined), ms).then(
        () => true,
        () => false,
      ),
    remaining: () => ctx.deadline.remaining(),
    info: (m) => ctx.log.info(m),
    warn: (m) => ctx.log.warn(m),
  };
}

/** Writes (or with undefined removes) a drop-in under /run; true when it changed. */
function writeDropIn(file: string, text: string | undefined): boolean {
  let now: string | undefined;
  try {
    now = readFileSync(file, 'utf8');
  } catch {
    now = undefined;
  }
  if (now === text) return false;
  if (text === undefined) {
    rmSync(file, { force: true });
    return true;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return true;
}

/**
 * What the units run: nfsdcld and statd on the shared directory, and rpc.nfsd with this resource's
 * thread count and (in a UTS namespace of its own) its server scope, as the start without systemd
 * runs them. The absolute paths serve the fallback's runtime drop-ins; the static ones find the
 * programs themselves.
 */
function unitSettings(ctx: NfsCtx): units.StartSettings {
  const info = ctx.params.nfs_shared_infodir || undefined;
  const nfsdStart = [which('rpc.nfsd') ?? '/usr/sbin/rpc.nfsd', String(ctx.params.nfsd_threads)];
  const scope = ctx.params.nfs_server_scope;
  return {
    info,
    nfsdcld: which('nfsdcld'),
    statd: which('rpc.statd') ?? '/sbin/rpc.statd',
    nfsdArgv: scope ? [which('unshare') ?? '/usr/bin/unshare', '--uts', '--', process.execPath, 'with-hostname', scope, '--', ...nfsdStart] : nfsdStart,
    nfsdArgs: [String(ctx.params.nfsd_threads)],
    ...(scope ? { scope } : {}),
    leaseTime: ctx.params.nfsv4_lease_time,
    graceTime: ctx.params.nfsv4_grace_time,
  };
}

async function mustRun(ctx: NfsCtx, argv: string[], what: string): Promise<void> {
  const r = await ctx.run(argv, { timeoutMs: Math.min(30_000, Math.max(1000, ctx.deadline.remaining() - 3000)) });
  if (r.code !== 0) throw fail.generic(`starting ${what} failed: ${describe(r)}`);
}

async function start(ctx: NfsCtx) {
  if (!ctx.haveBinary('exportfs')) throw fail.installed('exportfs (nfs-kernel-server) is not installed');
  const dir = await dirOf(ctx);
  if ((await boundedFs(ctx.run).stat(dir, 'stat of the exported directory'))?.type !== S_IFDIR) throw fail.installed(`${dir} is not a directory on this node`);
  const before = readMarker(ctx);
  // Without its marker a live export fails every monitor (it looks left over from a reboot), so
  // the marker is written before anything changes: a state directory that cannot take it (read-only,
  // full) fails the start with nothing exported and no server started. It already names the server
  // this start is about to start, so a stop after a failed start stops it.
  const planned: Marker = {
    dir,
    clients: clients(ctx.params.clientspec),
    startedServer: (before?.startedServer ?? false) || (ctx.params.manage_server && !(await nfsdRead(ctx, 'threads'))),
    ...(before?.notifyPending !== undefined ? { notifyPending: before.notifyPending } : {}),
  };
  if (!writeMarker(ctx, planned)) throw fail.generic(`cannot write ${markerFile(ctx)} (read-only or full?): it tells this resource's export from a left-over one; exported nothing`);
  // A start that fails leaves the marker as it found it, unless a server it started still runs:
  // the stop that follows must know to stop that.
  const restore = () => (before ? writeMarker(ctx, before) : removeNote(markerFile(ctx)));
  let server: { started: boolean; notify: boolean };
  try {
    server = ctx.params.manage_server ? await ensureServer(ctx) : { started: false, notify: false };
  } catch (e) {
    if (!planned.startedServer || !(await nfsdRead(ctx, 'threads'))) restore();
    throw e;
  }
  const startedServer = server.started || (before?.startedServer ?? false);
  const notifyPending = server.notify ? Date.now() : before?.notifyPending;
  await restoreRmtab(ctx, dir);
  const opts = exportOptions(ctx);
  const done: string[] = [];
  const undo = async () => {
    for (const d of done) await ctx.run(unexportArgv(d, dir), { timeoutMs: 10_000 });
    if (!server.started) restore();
  };
  for (const c of clients(ctx.params.clientspec)) {
    const r = await ctx.run(exportArgv(c, dir, opts), { timeoutMs: 20_000 });
    done.push(c);
    if (r.code !== 0) {
      await undo();
      throw fail.generic(`exporting ${dir} to ${c} failed: ${describe(r)}`);
    }
  }
  // exportfs exits 0 for a host name it cannot resolve, and exports nothing: check the table.
  const { missing } = await exportedNow(ctx);
  if (missing.length > 0) {
    await undo();
    throw fail.generic(`exportfs accepted ${dir} for ${missing.join(' ')} but does not list it (a host name that does not resolve?); exported nothing`);
  }
  const marker: Marker = { dir, clients: done, startedServer, ...(notifyPending !== undefined ? { notifyPending } : {}) };
  // The planned marker already stands for the export; only a pending reboot notice would be lost.
  if (!writeMarker(ctx, marker) && notifyPending !== undefined) ctx.log.warn(`could not update ${markerFile(ctx)}: if sm-notify cannot be sent now, the monitor will not retry it`);
  ctx.log.info(`exported ${dir} to ${done.join(' ')} (${opts})`);
  // After the export: a notified client reclaims its locks at once.
  if (notifyPending !== undefined) await sendRebootNotice(ctx, marker);
  return OCF.SUCCESS;
}

/** The kernel's export cache still holds `dir` (it pins the filesystem until flushed). */
function cached(dir: string): boolean {
  try {
    return parseExportLines(readFileSync(EXPORT_CACHE, 'utf8')).some((e) => e.dir === dir);
  } catch {
    return false;
  }
}

async function stop(ctx: NfsCtx) {
  const marker = readMarker(ctx);
  const dir = marker?.dir ?? (await dirOf(ctx));
  if (ctx.haveBinary('exportfs')) {
    const list = await listExports(ctx);
    const specs = [...new Set([...clients(ctx.params.clientspec), ...(marker?.clients ?? [])])];
    const ours = specs.filter((c) => findExport(list, dir, c));
    if (ours.length > 0) await backupRmtab(ctx, dir, undefined);
    for (const c of ours) {
      const r = await ctx.run(unexportArgv(c, dir), { timeoutMs: 20_000 });
      if (r.code !== 0) ctx.log.warn(`unexporting ${dir} from ${c}: ${describe(r)}`);
    }
    const left = (await listExports(ctx)).filter((e) => e.dir === dir && specs.some((c) => findExport([e], dir, c)));
    if (left.length > 0) throw fail.generic(`${dir} is still exported to ${left.map((e) => e.client).join(' ')}`);
  }
  const statdEnded = await keepLockRecords(ctx);
  if (ctx.params.unlock_on_stop && existsSync(`${nfsd.NFSD}/unlock_filesystem`)) {
    // The kernel looks the directory up on the shared filesystem: a hung one blocks the write,
    // so it runs in a bounded child; a hang fails the stop (the locks may still pin the filesystem).
    const err = await boundedFs(ctx.run).write(`${nfsd.NFSD}/unlock_filesystem`, `${dir}\n`, 'releasing NFS locks through');
    if (err) ctx.log.warn(`releasing NFS locks on ${dir}: ${err}`);
  }
  if (ctx.params.wait_for_leasetime_on_stop && (await nfsdRead(ctx, 'threads'))) {
    const lease = ((await nfsdRead(ctx, 'nfsv4leasetime')) ?? 90) + 2;
    ctx.log.info(`waiting ${lease}s for NFSv4 leases on ${dir} to expire`);
    await ctx.deadline.sleep(Math.min(lease * 1000, ctx.deadline.remaining() - 2000));
  }
  // Flush the kernel's export cache until it lets go of the directory, within the budget.
  if (cached(dir)) {
    await ctx.deadline
      .poll(`flushing the export cache of ${dir}`, 500, async () => {
        await ctx.run([...FLUSH_ARGV], { timeoutMs: 5000 });
        return cached(dir) ? undefined : true;
      }, Math.max(0, ctx.deadline.remaining() - 3000))
      .catch(() => ctx.log.warn(`the kernel export cache still lists ${dir}`));
  }
  const nothingExported = async () => (await listExports(ctx).catch(() => [1])).length === 0;
  if (marker?.startedServer && ctx.params.manage_server && systemdRunning()) {
    // Through systemd, even with no thread left (ended behind its back): nfs-server.service is
    // oneshot with RemainAfterExit, and a unit left "active" makes the next start a no-op.
    if (await nothingExported()) {
      try {
        await units.stopServer(unitNode(ctx), ctx.params.nfs_shared_infodir || undefined, statdEnded);
      } catch (e) {
        if (e instanceof units.UnitError) throw fail.generic(e.message);
        throw e;
      }
      ctx.log.info(`stopped ${units.SERVER} (this resource had started it, and nothing is exported)`);
    }
  } else if (marker?.startedServer && ctx.params.manage_server && (await nfsdRead(ctx, 'threads')) && (await nothingExported())) {
    // We started the server and nothing is exported any more: stopping nfsd drops every lock and
    // open it holds, so the filesystem below can be unmounted.
    // With statd ended, lockd's last step (telling statd to forget each NFSv3 lock client) waits
    // on an RPC that nobody answers, in a killable sleep: rpc.nfsd 0 hung there until its 20 s
    // timeout on every such stop (found in the lab). The threads are gone by then; ending it
    // sooner only cuts those calls short.
    const r = await ctx.run(nfsd.argv.stopNfsd(), { timeoutMs: statdEnded ? STATD_GONE_STOP_MS : 20_000 });
    if (r.timedOut && statdEnded) ctx.log.info(`rpc.nfsd 0 ended after ${STATD_GONE_STOP_MS / 1000} s: lockd was waiting on the rpc.statd this stop ended, to forget NFSv3 lock clients whose records are kept`);
    await ctx.deadline.poll('waiting for the nfsd threads to stop', 200, async () => ((await nfsdRead(ctx, 'threads')) ? undefined : true), 15_000).catch(() => undefined);
    if ((await nfsdRead(ctx, 'threads'))) ctx.log.warn(`nfsd threads are still running after rpc.nfsd 0: ${describe(r)}`);
    else ctx.log.info('stopped nfsd (this resource had started it, and nothing is exported)');
  }
  await releaseInfodir(ctx);
  removeNote(markerFile(ctx));
  return OCF.SUCCESS;
}

/**
 * Stop with parameters that do not validate. This resource's marker, when there is one, names the
 * directory and clients it exported, whatever the parameters say now; without it, the directory
 * and the client specs that still validate do. Whatever else is invalid only says how to stop,
 * and takes its default. With no marker and no usable directory (a controller that lost the old
 * parameters sends none) nothing can be identified, and stopping what cannot be running succeeds.
 */
async function stopWhenInvalid(ctx: NfsCtx, problems: readonly ParamProblem[]) {
  const why = `stop with parameters that do not validate (${describeProblems(problems)})`;
  const marker = readMarker(ctx);
  if (!marker && !ctx.params.directory.startsWith('/')) {
    ctx.log.warn(`${why}: no usable directory and no record of an export by this resource, so nothing on this node can be identified as its; reporting stopped`);
    return OCF.SUCCESS;
  }
  const valid = clients(ctx.params.clientspec).filter((c) => !clientSpecProblem(c));
  const howToStop = problems.filter((p) => p.param !== 'directory' && p.param !== 'clientspec');
  const sane: NfsCtx = { ...ctx, params: { ...withDefaultsFor(params, ctx.params, howToStop), clientspec: valid.join(' ') } };
  ctx.log.warn(`${why}: stopping ${marker ? `what this resource exported (${marker.dir} to ${marker.clients.join(' ')})` : `the exports of ${await dirOf(ctx)} to ${valid.join(' ') || 'no valid client'}`}, with the defaults for the rest`);
  const result = await stop(sane);
  if (!marker && problems.some((p) => p.param === 'clientspec') && ctx.haveBinary('exportfs')) {
    const dir = await dirOf(ctx);
    const left = (await listExports(ctx)).filter((e) => e.dir === dir);
    if (left.length > 0) {
      const what = `${dir} is still exported to ${left.map((e) => e.client).join(' ')}, and without the client specs this resource had, stop cannot tell which are its own`;
      // Listed but not served (no nfsd): nothing reaches the clients, and monitor reports the same as stopped.
      if ((await nfsdRead(ctx, 'threads'))) throw fail.generic(`${why}: ${what}; left exported`);
      ctx.log.warn(`${what}; no NFS server serves them, so they are left as they are`);
    }
  }
  return result;
}

/** Ends the processes named in USES whose files are under the paths given: TERM, up to 5 s, then KILL. Returns their pids. */
async function endUsing(ctx: NfsCtx, uses: Array<[name: string, path: string]>): Promise<number[]> {
  const users = () => uses.flatMap(([name, path]) => nfsd.pidsUsing(name, path));
  const first = users();
  if (first.length === 0) return first;
  for (const pid of first) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const left = await ctx.deadline
    .poll(`waiting for ${uses.map(([n]) => n).join(', ')} to exit`, 100, async () => (users().length === 0 ? true : undefined), 5000)
    .then(() => [] as number[])
    .catch(() => users());
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return first;
}

/**
 * Locks released here (unlock_filesystem, nfsd stopped) make lockd tell rpc.statd to forget
 * their clients, and statd deletes their records: the next server start would have nobody to
 * notify, and NFSv3 clients would keep locks no server knows (found in the lab). statd, started on
 * the shared directory by this resource, ends first, so the records stay for sm-notify on
 * whichever node starts next.
 */
async function keepLockRecords(ctx: NfsCtx): Promise<boolean> {
  const info = ctx.params.nfs_shared_infodir;
  if (!info) return false;
  // Through systemd where it runs, so that its view of rpc-statd.service stays true.
  if (systemdRunning() && (await units.stopStatd(unitNode(ctx), `${info}/statd`)) && nfsd.pidsUsing('rpc.statd', `${info}/statd`).length === 0) {
    ctx.log.info(`stopped ${units.STATD} before releasing locks: its records of NFSv3 lock clients stay in ${info}/statd for the next server start to notify`);
    return true;
  }
  const ended = await endUsing(ctx, [['rpc.statd', `${info}/statd`]]);
  if (ended.length > 0) ctx.log.info(`ended rpc.statd (pid ${ended.join(' ')}) before releasing locks: its records of NFSv3 lock clients stay in ${info}/statd for the next server start to notify`);
  return ended.length > 0;
}

/** rpc.nfsd 0's budget once statd is ended (see stop): the threads stop in well under a second even in the TCG lab. */
const STATD_GONE_STOP_MS = 3000;

/**
 * rpc.statd, nfsdcld (and a sm-notify still retrying in the background) started with their state on the
 * shared filesystem keep it busy: end them, or the unmount that follows this stop fails.
 */
async function releaseInfodir(ctx: NfsCtx): Promise<void> {
  const info = ctx.params.nfs_shared_infodir;
  if (!info) return;
  const hadCld = nfsd.pidsUsing('nfsdcld', `${info}/nfsdcld`).length > 0;
  if (hadCld && systemdRunning()) await ctx.run(units.argv.stop(units.CLD), { timeoutMs: Math.max(1000, Math.min(15_000, ctx.deadline.remaining() - 8000)) });
  const ended = await endUsing(ctx, [['rpc.statd', `${info}/statd`], ['sm-notify', `${info}/statd`], ['nfsdcld', `${info}/nfsdcld`]]);
  if (ended.length === 0) return;
  ctx.log.info(`ended rpc.statd/nfsdcld/sm-notify using ${info} (pids ${ended.join(' ')}) so the shared filesystem can be unmounted`);
  if (hadCld && (await nfsdRead(ctx, 'threads'))) ctx.log.warn(`nfsd keeps running for other exports, without nfsdcld: NFSv4 clients new to it are not recorded until it restarts`);
}

export const nfsExport = defineAgent({
  name: 'nfs-export',
  version: '0.1.0',
  shortdesc: 'NFS export that survives failover without stale handles',
  longdesc:
    'Exports one directory to one or more clients with an fsid that is the same on every node (given, or derived from the resource name), runs the kernel NFS server where nothing else does (client state and statd records on the shared filesystem, one server scope for all nodes, sm-notify from the floating address), and on stop unexports, releases locks, flushes the kernel export cache and stops the server it started, so that the filesystem below can be unmounted. A marker under /run tells a real export from one that survived a reboot in /var/lib/nfs/etab, and names what a stop with parameters that no longer validate unexports; start writes it before it changes anything, and fails with nothing done where it cannot (a read-only or full /run). Every monitor also fails when nfsd has no thread left or rpc.mountd is gone (the export table outlives the server); depth 10 asks the server over RPC. Parameter names follow ocf:heartbeat:exportfs and nfsserver.',
  examples: [
    {
      why: 'One directory exported to two networks, the NFS client state on the shared filesystem, sm-notify sent from the floating address.',
      lines: [
        'pcs resource create nfs-export ocf:ocfkit:nfs-export directory=/srv/nfs \\',
        '    clientspec="192.0.2.0/24 2001:db8::/64" options=rw,sync,no_subtree_check \\',
        '    nfs_shared_infodir=/srv/nfs/.nfs-state nfs_server_scope=192.0.2.10 nfs_ip=192.0.2.10 \\',
        '    op monitor interval=10s',
      ],
    },
  ],
  params,
  actions: {
    start: { meta: [{ timeout: 60 }], run: start },
    stop: { meta: [{ timeout: 120 }], run: stop },
    monitor: { meta: [{ timeout: 20, interval: 10, depth: 0 }, { timeout: 30, interval: 31, depth: 10 }], run: monitor },
  },
  validate(ctx) {
    const inOptions = fsidOption(ctx.params.options);
    if (inOptions !== undefined && ctx.params.fsid !== '' && inOptions !== ctx.params.fsid) {
      throw fail.configured(`options say fsid=${inOptions} but the fsid parameter is ${ctx.params.fsid}: set one of them`);
    }
    if (inOptions !== undefined && checkFsid(inOptions)) throw fail.configured(`fsid=${inOptions} in options: ${checkFsid(inOptions)}`);
  },
  stopWhenInvalid,
  async validateHost(ctx) {
    if (!ctx.haveBinary('exportfs')) throw fail.installed('exportfs (nfs-kernel-server) is not installed on this node');
    const dir = await dirOf(ctx);
    if ((await boundedFs(ctx.run).stat(dir, 'stat of the exported directory')) === undefined) throw fail.installed(`${dir} does not exist on this node`);
    const ip = ctx.params.nfs_ip;
    if (ip && (await hostNameOf(ip, 3000)) === undefined) ctx.log.warn(unnamedAddress(ip));
    if (ctx.params.manage_server && systemdRunning()) {
      const { missing, why } = await units.staticMissing(ctx.run, [...units.STATIC_UNITS]);
      if (missing.length > 0) ctx.log.warn(`${missing.join(', ')} without ocfkit's drop-in ${units.STATIC_DROPIN}${why ? ` (${why})` : ''}: every start that starts the NFS server falls back to runtime drop-ins and a systemctl daemon-reload (global, tens of seconds on a loaded node); ${units.INSTALL_HINT}`);
    }
  },
});
