/**
 * The kernel NFS server as systemd runs it (nfs-utils' units: nfs-server.service, oneshot with
 * RemainAfterExit; nfsdcld.service; rpc-statd.service), driven through systemctl so that systemd's
 * view stays true. The state the other node needs (nfsdcld's database, statd's sm/ and sm.bak/ and
 * its state file) and this resource's rpc.nfsd (threads, server scope) reach the units through
 * static drop-ins installed with ocfkit, which take their arguments from an environment file under
 * /run that the agent writes at start and removes at stop: no daemon-reload at failover, and a node
 * that boots without the cluster runs the units as packaged. Where those drop-ins are not loaded,
 * runtime drop-ins under /run and a daemon-reload stand in (slow and global: the fallback only).
 */
import type { RunResult, Runner } from './run';
import { describe } from './run';

export const SERVER = 'nfs-server.service';
export const CLD = 'nfsdcld.service';
export const STATD = 'rpc-statd.service';
export const CONTROL = 'proc-fs-nfsd.mount';
/** Runtime unit directory: drop-ins here outrank /etc and /lib, and go at reboot. */
export const RUNTIME_UNITS = '/run/systemd/system';
export const DROPIN = '50-ocfkit-nfs-export.conf';

export function dropInPath(unit: string, root = RUNTIME_UNITS): string {
  return `${root}/${unit}.d/${DROPIN}`;
}

/**
 * The static drop-ins' name: it sorts after DROPIN, so a runtime drop-in left by the fallback
 * (until the next reboot) never outranks them once they are installed.
 */
export const STATIC_DROPIN = '60-ocfkit-nfs.conf';
/** Where packages put units and their drop-ins (systemd reads it on every distribution). */
export const VENDOR_UNITS = '/usr/lib/systemd/system';
export const STATIC_UNITS = [SERVER, CLD, STATD] as const;
/** The environment file the static drop-ins read; absent, the units run as packaged. */
export const ENV_FILE = '/run/ocfkit/nfs-server.env';
/** The wrapper the static drop-ins run, installed beside the executable (its library directory). */
export const WRAPPER = 'nfs-unit-exec';
export const ENV = {
  /** Set while the cluster runs the server: the packaged exportfs -r / -au would drop other resources' exports. */
  cluster: 'OCFKIT_NFS_CLUSTER',
  nfsdArgs: 'OCFKIT_NFSD_ARGS',
  nfsdUts: 'OCFKIT_NFSD_UTS',
  statdArgs: 'OCFKIT_STATD_ARGS',
  cldArgs: 'OCFKIT_NFSDCLD_ARGS',
} as const;

/**
 * The wrapper's text. It finds the program where the distribution put it (Debian: /sbin/rpc.statd,
 * RHEL and SLES: /usr/sbin; Debian 11 may be without merged /usr), so one static drop-in serves
 * every distribution and survives an nfs-utils upgrade: drop-ins copied from the unit's own
 * ExecStart at install time would go stale then, and could not ship in the package.
 */
export function wrapperScript(): string {
  return `#!/bin/sh
# ocfkit: runs an NFS daemon for its systemd unit, from the drop-ins ocfkit installs beside
# nfs-server.service, nfsdcld.service and rpc-statd.service (${STATIC_DROPIN}).
#   ${WRAPPER} [--uts-hostname NAME] [--unless-cluster] PROGRAM [ARG...]
# --uts-hostname: PROGRAM runs in a UTS namespace of its own named NAME (nfsd takes the NFSv4
# server scope from the host name). --unless-cluster: nothing to do while ocfkit's nfs-export runs
# the server (${ENV.cluster} set by ${ENV_FILE}): exportfs -r and -au would drop the exports the
# cluster's resources made.
set -eu
if [ "\${1:-}" = --uts-hostname ]; then
  shift
  name=$1
  shift
  exec unshare --uts -- "$0" --in-uts "$name" "$@"
fi
if [ "\${1:-}" = --in-uts ]; then
  printf '%s\\n' "$2" >/proc/sys/kernel/hostname
  shift 2
fi
if [ "\${1:-}" = --unless-cluster ]; then
  shift
  [ -z "\${${ENV.cluster}:-}" ] || exit 0
fi
prog=$1
shift
for d in /usr/sbin /sbin /usr/bin /bin; do
  if [ -x "$d/$prog" ]; then exec "$d/$prog" "$@"; fi
done
echo "${WRAPPER}: $prog is not installed (looked in /usr/sbin /sbin /usr/bin /bin)" >&2
exit 127
`;
}

/**
 * The static drop-ins, by unit, running WRAPPER (its absolute path). Each unbraced $VAR standing
 * as a word expands to zero words when the environment file does not set it, so without the file
 * each unit runs its program as nfs-utils 2.x packages it. The server's exportfs -r (start,
 * reload) and -au (stop) run only then: with the cluster running the server they would drop the
 * exports other resources made (a restart by hand, a package upgrade); exportfs -f, which flushes
 * the kernel's export cache, still runs at every stop.
 */
export function staticDropIns(wrapper: string): Record<(typeof STATIC_UNITS)[number], string> {
  const head = (unit: string) => [`# Installed by ocfkit for ocf:ocfkit:nfs-export. Without ${ENV_FILE}, ${unit} runs as packaged.`, '[Service]', `EnvironmentFile=-${ENV_FILE}`];
  const w = wrapper;
  return {
    [SERVER]: [
      ...head(SERVER),
      'ExecStartPre=',
      `ExecStartPre=-${w} --unless-cluster exportfs -r`,
      'ExecStart=',
      `ExecStart=${w} $${ENV.nfsdUts} rpc.nfsd $${ENV.nfsdArgs}`,
      'ExecStopPost=',
      `ExecStopPost=${w} --unless-cluster exportfs -au`,
      `ExecStopPost=${w} exportfs -f`,
      'ExecReload=',
      `ExecReload=-${w} --unless-cluster exportfs -r`,
      '',
    ].join('\n'),
    [CLD]: [...head(CLD), 'ExecStart=', `ExecStart=${w} nfsdcld $${ENV.cldArgs}`, ''].join('\n'),
    // --no-notify and $STATDARGS as nfs-utils 1.3 (Debian 11) passes them (2.x sets RPC_STATD_NO_NOTIFY
    // and no STATDARGS): the reboot notice is rpc-statd-notify.service's (or the agent's) to send.
    [STATD]: [...head(STATD), 'ExecStart=', `ExecStart=${w} rpc.statd --no-notify $STATDARGS $${ENV.statdArgs}`, ''].join('\n'),
  };
}

/**
 * Characters an environment-file value or a $VAR expansion would change: whitespace splits it into
 * words, quotes and backslashes are unescaped, $ may be expanded.
 */
export const ENV_UNSAFE = /[\s"'\\$`]/;

/** The environment file for a server start: the arguments the static drop-ins pass. */
export function envFile(plan: ServerPlan & { readonly nfsdArgs: readonly string[]; readonly scope?: string }): string {
  const vars: Array<[string, readonly string[]]> = [[ENV.cluster, ['1']], [ENV.nfsdArgs, plan.nfsdArgs]];
  if (plan.scope) vars.push([ENV.nfsdUts, ['--uts-hostname', plan.scope]]);
  if (plan.info) vars.push([ENV.statdArgs, ['-P', `${plan.info}/statd`]], [ENV.cldArgs, ['-s', `${plan.info}/nfsdcld`]]);
  const bad = vars.flatMap(([, words]) => words).find((w) => w === '' || ENV_UNSAFE.test(w));
  if (bad !== undefined) throw new UnitError(`${JSON.stringify(bad)} cannot pass through ${ENV_FILE}: whitespace would split it, a quote, backslash or $ change it`);
  return `# Written by ocf:ocfkit:nfs-export at start, removed at stop: read by ocfkit's drop-ins (${STATIC_DROPIN}).\n${vars.map(([k, w]) => `${k}=${w.join(' ')}\n`).join('')}`;
}

/** `systemctl show -p Id,DropInPaths UNIT…`: each unit's drop-in files, by unit. */
export function parseDropInPaths(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const block of text.split(/\n\s*\n/)) {
    const kv = new Map<string, string>();
    for (const line of block.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    const id = kv.get('Id');
    if (id) out.set(id, (kv.get('DropInPaths') ?? '').split(/\s+/).filter(Boolean));
  }
  return out;
}

/** The units among WANTED whose static drop-in systemd has not loaded (all of them when systemd cannot be asked). */
export async function staticMissing(run: Runner, wanted: readonly string[], timeoutMs = 5000): Promise<{ missing: string[]; why?: string }> {
  const r = await run(argv.dropInPaths(...wanted), { timeoutMs });
  if (r.code !== 0) return { missing: [...wanted], why: `systemctl show failed: ${describe(r)}` };
  const loaded = parseDropInPaths(r.stdout);
  return { missing: wanted.filter((u) => !(loaded.get(u) ?? []).some((p) => p.endsWith(`/${u}.d/${STATIC_DROPIN}`))) };
}

export const INSTALL_HINT = `install them with the ocfkit package (or scripts/install.sh), which puts ${STATIC_DROPIN} beside each unit under ${VENDOR_UNITS} and runs one systemctl daemon-reload`;

/** One word of an Exec line: quoted, with systemd's specifiers (%) and variables ($) taken literally. */
export function execWord(s: string): string {
  const plain = /^[A-Za-z0-9_@%+=:,./-]+$/.test(s);
  const e = s.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return plain ? e : `"${e.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function execLine(argv: readonly string[]): string {
  return argv.map(execWord).join(' ');
}

function overrideExec(argv: readonly string[], extra: readonly string[] = []): string {
  return ['[Service]', ...extra, 'ExecStart=', `ExecStart=${execLine(argv)}`, ''].join('\n');
}

export interface ServerPlan {
  /** The shared state directory; none: the units run as packaged. */
  readonly info?: string;
  /** argv that starts nfsd threads (rpc.nfsd, wrapped to set the server scope), when the unit's must be replaced. */
  readonly nfsdArgv?: readonly string[];
  /** Absolute paths of the helpers, as the drop-ins name them. */
  readonly nfsdcld?: string;
  readonly statd: string;
}

/**
 * The drop-ins for a server start, by unit; undefined: none (an earlier one is removed). Only
 * ExecStart changes: nfsdcld and statd take their state directory from the command line before
 * nfs.conf, and the rest of each unit (ordering, PIDFile, the server's ExecStop) stays as packaged.
 */
export function dropIns(plan: ServerPlan): Record<string, string | undefined> {
  return {
    [CLD]: plan.info && plan.nfsdcld ? overrideExec([plan.nfsdcld, '-s', `${plan.info}/nfsdcld`]) : undefined,
    [STATD]: plan.info ? overrideExec([plan.statd, '--no-notify', '-P', `${plan.info}/statd`]) : undefined,
    [SERVER]: plan.nfsdArgv ? overrideExec(plan.nfsdArgv) : undefined,
  };
}

export interface UnitState {
  readonly activeState: string;
  readonly subState: string;
  readonly result: string;
}

/** `systemctl show -p ActiveState,SubState,Result UNIT`: KEY=VALUE lines, in any order. */
export function parseShow(text: string): UnitState | undefined {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const activeState = kv.get('ActiveState');
  if (activeState === undefined) return undefined;
  return { activeState, subState: kv.get('SubState') ?? '?', result: kv.get('Result') ?? '?' };
}

export const argv = {
  start: (...units: string[]) => ['systemctl', 'start', ...units],
  restart: (...units: string[]) => ['systemctl', 'restart', ...units],
  stop: (...units: string[]) => ['systemctl', 'stop', ...units],
  stopNoBlock: (...units: string[]) => ['systemctl', 'stop', '--no-block', ...units],
  kill: (unit: string) => ['systemctl', 'kill', unit],
  resetFailed: (unit: string) => ['systemctl', 'reset-failed', unit],
  daemonReload: () => ['systemctl', 'daemon-reload'],
  show: (unit: string) => ['systemctl', 'show', '-p', 'ActiveState,SubState,Result', unit],
  dropInPaths: (...units: string[]) => ['systemctl', 'show', '-p', 'Id,DropInPaths', ...units],
};

/** What the sequences below need of the node; the agent gives the real one, tests a recorded one. */
export interface Node {
  readonly run: Runner;
  /** nfsd threads; undefined without /proc/fs/nfsd. */
  threads(): Promise<number | undefined>;
  /** Pids of NAME whose command line names PATH or a path under it. */
  using(name: string, path: string): number[];
  running(name: string): number[];
  /** Writes one nfsd control file (nfsv4recoverydir, nfsv4leasetime, nfsv4gracetime). */
  control(file: string, value: string): Promise<void>;
  readControl(file: string): Promise<number | undefined>;
  /** Writes a drop-in, or removes it with undefined; true when the file changed. */
  dropIn(unit: string, text: string | undefined): boolean;
  /** Writes ENV_FILE atomically (a new file renamed over it), or removes it with undefined; false when it could not. */
  envFile(text: string | undefined): boolean;
  /** Polls PROBE until it returns true or MS ran out (bounded by the action's deadline). */
  waitFor(what: string, ms: number, probe: () => Promise<boolean> | boolean): Promise<boolean>;
  remaining(): number;
  info(msg: string): void;
  warn(msg: string): void;
}

export class UnitError extends Error {}

/** A systemctl call bounded by the action's time, leaving room to report. */
async function systemctl(node: Node, args: string[], ms = 30_000): Promise<RunResult> {
  return node.run(args, { timeoutMs: Math.max(1000, Math.min(ms, node.remaining() - 3000)) });
}

export async function unitState(node: Node, unit: string): Promise<UnitState | undefined> {
  const r = await node.run(argv.show(unit), { timeoutMs: Math.max(1000, Math.min(5000, node.remaining() - 1000)) });
  return r.code === 0 ? parseShow(r.stdout) : undefined;
}

/** The unit's state for an exit reason. */
export async function stateWords(node: Node, unit: string): Promise<string> {
  const s = await unitState(node, unit);
  return s ? `${unit} is ${s.activeState}/${s.subState} (result: ${s.result})` : `${unit}'s state could not be read`;
}

async function failWith(node: Node, unit: string, what: string, r?: RunResult): Promise<never> {
  throw new UnitError(`${what}: ${await stateWords(node, unit)}${r && r.code !== 0 ? `; ${describe(r)}` : ''}`);
}

/** Puts the drop-ins in place; daemon-reload only when one changed. */
export async function applyDropIns(node: Node, wanted: Record<string, string | undefined>): Promise<void> {
  let changed = false;
  for (const [unit, text] of Object.entries(wanted)) changed = node.dropIn(unit, text) || changed;
  if (!changed) return;
  // A reload reruns every unit generator: found taking over 35 s in a loaded TCG guest.
  const r = await systemctl(node, argv.daemonReload(), 60_000);
  if (r.code !== 0) throw new UnitError(`systemctl daemon-reload (for the drop-ins under ${RUNTIME_UNITS}) failed: ${describe(r)}`);
}

export interface StartSettings extends ServerPlan {
  readonly leaseTime: number;
  readonly graceTime: number;
  /** rpc.nfsd's arguments (the thread count) and the server scope, for the environment file. */
  readonly nfsdArgs: readonly string[];
  readonly scope?: string;
}

/**
 * How the units get this resource's arguments: through the static drop-ins when systemd has loaded
 * them (the environment file, no reload), else through runtime drop-ins and a daemon-reload, with a
 * warning naming how to install them.
 */
async function pointUnits(node: Node, s: StartSettings): Promise<void> {
  const wanted = s.info && s.nfsdcld ? [SERVER, STATD, CLD] : [SERVER, STATD];
  const { missing, why } = await staticMissing(node.run, wanted, Math.max(1000, Math.min(5000, node.remaining() - 1000)));
  // Written in the fallback too: static drop-ins installed without a reload are loaded by the
  // fallback's, and they outrank its runtime ones, so they must find this resource's settings.
  if (!node.envFile(envFile(s))) throw new UnitError(`cannot write ${ENV_FILE} (read-only or full /run?): the NFS units would start without this resource's state directory and scope`);
  if (missing.length === 0) return;
  node.warn(`${missing.join(', ')} without ocfkit's drop-in ${STATIC_DROPIN}${why ? ` (${why})` : ''}: pointing them at this resource's settings with runtime drop-ins under ${RUNTIME_UNITS} and a systemctl daemon-reload, which reloads every unit and can take tens of seconds on a loaded node; ${INSTALL_HINT}`);
  await applyDropIns(node, dropIns(s));
}

/** A helper runs with its state in PATH: started, or restarted when it runs with its state elsewhere. */
async function helperOn(node: Node, unit: string, name: string, path: string): Promise<void> {
  const elsewhere = node.running(name).length > 0 && node.using(name, path).length === 0;
  if (elsewhere) node.info(`${name} runs with its state outside ${path}: restarting ${unit} with the shared directory`);
  const r = await systemctl(node, elsewhere ? argv.restart(unit) : argv.start(unit));
  if (r.code !== 0 || node.using(name, path).length === 0) await failWith(node, unit, `${unit} did not start ${name} on ${path}`, r);
}

/**
 * Starts nfs-server.service with the state on the shared directory: the environment file (or the
 * fallback's drop-ins), then the helpers that
 * read the state (nfsdcld, rpc-statd), then the control files nfsd reads at start (recovery
 * directory, lease, grace: writable only while no thread runs), then the server unit. Only then
 * does a client reach it, so none is recorded anywhere else.
 */
export async function startServer(node: Node, s: StartSettings): Promise<void> {
  if ((await node.threads()) === undefined) {
    const r = await systemctl(node, argv.start(CONTROL), 10_000);
    if ((await node.threads()) === undefined) await failWith(node, CONTROL, 'the nfsd control filesystem is not mounted', r);
  }
  await pointUnits(node, s);
  if (s.info && s.nfsdcld) await helperOn(node, CLD, 'nfsdcld', `${s.info}/nfsdcld`);
  if (s.info) await helperOn(node, STATD, 'rpc.statd', `${s.info}/statd`);
  if (s.info) await node.control('nfsv4recoverydir', `${s.info}/v4recovery`);
  if (s.leaseTime) await node.control('nfsv4leasetime', String(s.leaseTime));
  if (s.graceTime) await node.control('nfsv4gracetime', String(s.graceTime));
  // oneshot + RemainAfterExit: "active" with no thread is a server ended behind systemd's back
  // (rpc.nfsd 0 by hand, an older stop); start would do nothing, so it is restarted.
  const before = await unitState(node, SERVER);
  const r = await systemctl(node, before?.activeState === 'active' ? argv.restart(SERVER) : argv.start(SERVER), 45_000);
  if (!(await node.threads())) await failWith(node, SERVER, 'the NFS server did not start', r);
  // rpc.nfsd applies nfs.conf's lease-time and grace-time over what was written here.
  for (const [file, want, key] of [['nfsv4leasetime', s.leaseTime, 'lease-time'], ['nfsv4gracetime', s.graceTime, 'grace-time']] as const) {
    const got = await node.readControl(file);
    if (want && got !== undefined && got !== want) throw new UnitError(`nfsd runs with ${file} ${got}, not ${want}: [nfsd] ${key} in /etc/nfs.conf (or nfs.conf.d) overrides it; set them alike`);
  }
}

/** Ends rpc-statd.service (records on the shared directory kept for the next node's sm-notify). */
export async function stopStatd(node: Node, path: string): Promise<boolean> {
  if (node.using('rpc.statd', path).length === 0) return false;
  const r = await systemctl(node, argv.stop(STATD), 15_000);
  if (r.code !== 0) node.warn(`systemctl stop ${STATD}: ${describe(r)}`);
  return true;
}

const ENDED = new Set(['inactive', 'failed']);

/**
 * Stops nfs-server.service (its ExecStop ends the threads, ExecStopPost flushes the exports; mountd
 * is bound to it), then nfsdcld, which holds files on the shared filesystem. With statd already ended, ExecStop's rpc.nfsd 0 can wait on lockd's calls to it after
 * the threads are gone: once they are, the unit is killed out of that wait. Fails unless systemd
 * says the server is down and no thread runs, so a start after it starts the server again.
 */
export async function stopServer(node: Node, info: string | undefined, statdEnded: boolean): Promise<void> {
  const r = await systemctl(node, argv.stopNoBlock(SERVER), 10_000);
  if (r.code !== 0) await failWith(node, SERVER, `systemctl stop ${SERVER} failed`, r);
  const ended = async () => ENDED.has((await unitState(node, SERVER))?.activeState ?? '');
  let done = await node.waitFor(`${SERVER} to stop`, statdEnded ? 5000 : 30_000, ended);
  // A read of the threads takes nfsd's mutex, which rpc.nfsd 0 holds while lockd waits on the
  // ended statd: a read that does not answer is that wait, and ending rpc.nfsd 0 ends it.
  const threadsNow = () => node.threads().then((n) => n ?? 0, () => 'no answer' as const);
  const before = done ? 0 : await threadsNow();
  if (!done && (before === 0 || before === 'no answer')) {
    node.info(`${SERVER}'s rpc.nfsd 0 outlived the nfsd threads (lockd waiting on the rpc.statd this stop ended${before === 'no answer' ? ', nfsd not answering' : ''}): ending it`);
    await systemctl(node, argv.kill(SERVER), 5000);
    done = await node.waitFor(`${SERVER} to stop`, 10_000, ended);
  }
  const after = await threadsNow();
  if (!done || after !== 0) await failWith(node, SERVER, `the NFS server did not stop (nfsd threads: ${after})`);
  if ((await unitState(node, SERVER))?.activeState === 'failed') await systemctl(node, argv.resetFailed(SERVER), 5000);
  if (info) {
    const c = await systemctl(node, argv.stop(CLD), 15_000);
    if (node.using('nfsdcld', `${info}/nfsdcld`).length > 0) await failWith(node, CLD, `nfsdcld still holds ${info}/nfsdcld`, c);
    if (node.using('rpc.statd', `${info}/statd`).length > 0) await stopStatd(node, `${info}/statd`);
  }
  // Only now: a helper started from here on (statd for this node's own NFS mounts) runs as packaged.
  if (!node.envFile(undefined)) node.warn(`could not remove ${ENV_FILE}: rpc-statd.service and nfsdcld.service started on this node before the next reboot look for state on the shared directory`);
  // The fallback's drop-ins stay (under /run, gone at reboot; the next start rewrites what differs): removing
  // them takes a daemon-reload, which in a loaded lab guest ran past 35 s and failed a failover's
  // stop (the node was fenced). Until then a statd started here for NFS client mounts points at
  // the shared directory, which is not mounted here: it fails to start rather than keep state
  // on the root filesystem.
}

/**
 * `ocfkit install-nfs-units UNITDIR LIBDIR [DESTDIR]`, for scripts/install.sh, the packages and the
 * lab: writes the static drop-ins under DESTDIR+UNITDIR and the wrapper as DESTDIR+LIBDIR/WRAPPER
 * (the drop-ins name LIBDIR/WRAPPER), each atomically, and prints what it wrote. The reload that
 * loads them is the caller's: once, at install time.
 */
export function installNfsUnits(args: readonly string[]): number {
  const [unitDir, libDir, destDir = ''] = args;
  if (!unitDir?.startsWith('/') || !libDir?.startsWith('/')) {
    process.stderr.write('usage: ocfkit install-nfs-units UNITDIR LIBDIR [DESTDIR]   (UNITDIR, LIBDIR absolute)\n');
    return 2;
  }
  const { chmodSync, mkdirSync, renameSync, writeFileSync } = require('node:fs') as typeof import('node:fs');
  const put = (file: string, text: string, mode: number) => {
    mkdirSync(file.slice(0, file.lastIndexOf('/')), { recursive: true, mode: 0o755 });
    const tmp = `${file}.new.${process.pid}`;
    writeFileSync(tmp, text);
    chmodSync(tmp, mode);
    renameSync(tmp, file);
    process.stdout.write(`${file.slice(destDir.length)}\n`);
  };
  const wrapper = `${libDir.replace(/\/+$/, '')}/${WRAPPER}`;
  put(`${destDir}${wrapper}`, wrapperScript(), 0o755);
  for (const [unit, text] of Object.entries(staticDropIns(wrapper))) put(`${destDir}${unitDir.replace(/\/+$/, '')}/${unit}.d/${STATIC_DROPIN}`, text, 0o644);
  return 0;
}
