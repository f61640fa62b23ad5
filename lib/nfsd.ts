/**
 * The kernel NFS server as nfs-utils runs it without systemd (lib/nfs-units: with it): /proc/fs/nfsd control files,
 * the user-space daemons (rpcbind, rpc.mountd, rpc.statd) found by their /proc entries, and the
 * argv that start and stop them. No policy here.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';

export const NFSD = '/proc/fs/nfsd';

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** A number from one of nfsd's control files (threads, nfsv4leasetime, nfsv4gracetime). */
export function readControl(file: string): number | undefined {
  return readNumber(`${NFSD}/${file}`);
}

/** The nfsd control filesystem is mounted (the module is loaded and /proc/fs/nfsd is nfsd's). */
export function controlMounted(): boolean {
  return existsSync(`${NFSD}/threads`);
}

/** Running nfsd kernel threads; 0 when the server is stopped, undefined when nfsd is absent. */
export function threads(): number | undefined {
  return readNumber(`${NFSD}/threads`);
}

export function leaseTime(): number | undefined {
  return readNumber(`${NFSD}/nfsv4leasetime`);
}

/** The grace period after a server start; lockd takes NLM reclaims for as long (the longer of its own and this). */
export function graceTime(): number | undefined {
  return readNumber(`${NFSD}/nfsv4gracetime`);
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
