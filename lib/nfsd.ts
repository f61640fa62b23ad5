/**
 * The kernel NFS server as nfs-utils runs it without systemd (lib/nfs-units: with it): /proc/fs/nfsd control files,
 * the user-space daemons (rpcbind, rpc.mountd, rpc.statd) found by their /proc entries, and the
 * argv that start and stop them. No policy here.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';

export const NFSD = '/proc/fs/nfsd';

/**
 * The number one of nfsd's control files holds (threads: 0 when the server is stopped;
 * nfsv4leasetime, nfsv4gracetime), from its text; undefined for anything else. The agent reads
 * the files in a bounded child: a read takes nfsd's mutex, which a stuck nfsd holds.
 */
export function controlNumber(text: string | undefined): number | undefined {
  const t = text?.trim();
  if (!t) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** The nfsd control filesystem is mounted (the module is loaded and /proc/fs/nfsd is nfsd's). */
export function controlMounted(): boolean {
  return existsSync(`${NFSD}/threads`);
}

/** Pids of processes whose executable's name is `name` (rpcbind, rpc.mountd, rpc.statd). */
export function pidsOf(name: string, proc = '/proc'): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(proc).filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of entries) {
    try {
      const argv0 = readFileSync(`${proc}/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
      if (argv0 === name || argv0.endsWith(`/${name}`)) out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/** Pids of `name` processes whose command line mentions `path` (e.g. rpc.statd -P PATH). */
export function pidsUsing(name: string, path: string, proc = '/proc'): number[] {
  return pidsOf(name, proc).filter((pid) => {
    try {
      return readFileSync(`${proc}/${pid}/cmdline`, 'utf8').split('\0').some((a) => a === path || a.startsWith(`${path}/`));
    } catch {
      return false;
    }
  });
}

/** Where nfs-utils' daemons find rpc_pipefs (nfs.conf's default pipefs-directory). */
export const PIPEFS = '/run/rpc_pipefs';

export const argv = {
  mountPipefs: (dir: string) => ['mount', '-t', 'rpc_pipefs', 'sunrpc', dir],
  /** The NFSv4 client-tracking daemon, its database in STORAGE (on the shared filesystem). */
  nfsdcld: (pipefs: string, storage: string) => ['nfsdcld', '-p', pipefs, '-s', storage],
  mountControl: () => ['mount', '-t', 'nfsd', 'nfsd', NFSD],
  rpcbind: () => ['rpcbind', '-w'],
  mountd: () => ['rpc.mountd'],
  statd: (stateDir?: string) => ['rpc.statd', '--no-notify', ...(stateDir ? ['-P', stateDir] : [])],
  nfsd: (count: number) => ['rpc.nfsd', String(count)],
  stopNfsd: () => ['rpc.nfsd', '0'],
  smNotify: (stateDir?: string, ip?: string) => ['sm-notify', '-f', ...(stateDir ? ['-P', stateDir] : []), ...(ip ? ['-v', ip] : [])],
  rpcinfo: () => ['rpcinfo', '-T', 'tcp', '127.0.0.1', 'nfs'],
};
