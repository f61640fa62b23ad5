/**
 * File calls on paths that can hang, each in a child process under the action's deadline: a path
 * under a mount point (a dead hard NFS mount, a FUSE daemon that stopped answering, a device whose
 * I/O never completes), the shared filesystem, nfsd's control files while nfsd is stuck.
 *
 * Why a child and not the call itself: a synchronous call blocks the event loop, so the runtime's
 * watchdog never fires and the agent says nothing until pacemaker-execd kills it. Why not a worker
 * thread or an `fs.promises` call (libuv's pool) abandoned at the deadline: a process whose thread
 * sleeps uninterruptibly (D state) does not end on exit() nor on SIGKILL until that syscall
 * returns; measured with the built Bun executable, a worker in a direct read of a loop device over
 * a stopped FUSE daemon kept the agent unreaped 6 s after its process.exit (a zombie, `Zl`, even
 * after SIGKILL), so execd would wait out its timeout and kill nothing. A child in D state is left
 * behind instead (lib/run.ts abandons it after KILL) and the agent answers in time. The commands are
 * coreutils' (realpath, stat, cat, dd, mkdir): ~1 ms each, where starting this executable in a
 * helper mode costs tens of ms.
 *
 * Only for paths that can hang: our own /proc/self, /proc/filesystems, /run (tmpfs) and device
 * nodes' metadata on /dev stay in-process calls.
 */
import { OCF, OcfError, fail } from './ocf/codes';
import { type RunResult, type Runner, describe } from './run';

/** How long one call may take; the action's deadline caps it further (lib/run.ts). */
export const CALL_MS = 5000;

export interface PathStat {
  /** The mode's file type bits: 0o040000 directory, 0o060000 block device, 0o100000 regular file. */
  readonly type: number;
  readonly dev: number;
  readonly ino: number;
  /** A device node's own major:minor (0:0 for anything else). */
  readonly rdevMajor: number;
  readonly rdevMinor: number;
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFBLK = 0o060000;

/** The call did not end within its bound: the path's filesystem or device does not answer. */
export class PathHung extends OcfError {
  constructor(reason: string) {
    super(OCF.ERR_GENERIC, reason);
    this.name = 'PathHung';
  }
}

const missing = (r: RunResult) => /No such file or directory|Not a directory/.test(r.stderr);

export class BoundedFs {
  constructor(
    private readonly run: Runner,
    private readonly ms = CALL_MS,
  ) {}

  /** Runs argv; a call that did not end (timed out, or left in D state) throws, naming what and where. */
  private async call(what: string, path: string, argv: string[], input?: string): Promise<RunResult> {
    const r = await this.run(argv, { timeoutMs: this.ms, graceMs: 200, ...(input !== undefined ? { input } : {}) });
    // The path first and the program alone: Pacemaker keeps 128 characters of a reason.
    if (r.timedOut || r.abandoned) throw new PathHung(`${what} ${path} hung: ${describe(r, argv.slice(0, 1))}`);
    if (r.spawnError) throw fail.generic(`${what} ${path}: ${describe(r)}`);
    return r;
  }

  /** The path with links followed, as realpath(3); undefined when it (or a component) does not exist. */
  async realpath(path: string, what = 'resolving'): Promise<string | undefined> {
    const r = await this.call(what, path, ['realpath', '-z', '-e', '--', path]);
    if (r.code !== 0) {
      if (missing(r)) return undefined;
      throw fail.generic(`${what} ${path}: ${describe(r)}`);
    }
    return r.stdout.replace(/\0$/, '');
  }

  /** stat(2) following links; undefined when the path does not exist. */
  async stat(path: string, what = 'stat of'): Promise<PathStat | undefined> {
    const r = await this.call(what, path, ['stat', '-L', '--printf=%f %d %i %t %T\\n', '--', path]);
    if (r.code !== 0) {
      if (missing(r)) return undefined;
      throw fail.generic(`${what} ${path}: ${describe(r)}`);
    }
    const [mode, dev, ino, major, minor] = r.stdout.trim().split(' ');
    return { type: parseInt(mode ?? '0', 16) & S_IFMT, dev: Number(dev), ino: Number(ino), rdevMajor: parseInt(major ?? '0', 16), rdevMinor: parseInt(minor ?? '0', 16) };
  }

  /** The file's text; undefined when it does not exist. */
  async read(path: string, what = 'reading'): Promise<string | undefined> {
    const r = await this.call(what, path, ['cat', '--', path]);
    if (r.code !== 0) {
      if (missing(r)) return undefined;
      throw fail.generic(`${what} ${path}: ${describe(r)}`);
    }
    return r.stdout;
  }

  /**
   * Writes TEXT to an existing file in one write(2) (nfsd's and /proc's control files take one
   * line in one write); the error, or undefined when written. Only a hang throws.
   */
  async write(path: string, text: string, what = 'writing'): Promise<string | undefined> {
    const r = await this.call(what, path, ['dd', `of=${path}`, 'bs=65536', 'conv=notrunc,nocreat', 'status=none'], text);
    return r.code === 0 ? undefined : describe(r);
  }

  /** mkdir -p; the error, or undefined when the directory is there. Only a hang throws. */
  async mkdirp(path: string, mode = '0755', what = 'creating'): Promise<string | undefined> {
    const r = await this.call(what, path, ['mkdir', '-p', '-m', mode, '--', path]);
    return r.code === 0 ? undefined : describe(r);
  }
}

export function boundedFs(run: Runner, ms?: number): BoundedFs {
  return new BoundedFs(run, ms);
}
