/**
 * Paths that really hang, through the built executable: a FUSE filesystem (bindfs) whose daemon is
 * stopped (SIGSTOP), so every uncached lookup and getattr on it waits in the kernel for an answer
 * that never comes, as on a hard NFS mount whose server is gone; and ext4 on a loop device whose
 * backing file is on it, so the filesystem's reads wait on I/O that never completes (what a
 * suspended device-mapper device does; this kernel has no device mapper). Each action must answer
 * within its timeout with the path and the call in the reason; the agent runs under `timeout -s
 * KILL` as execd would kill it, so a call that blocks the agent shows as a kill, not a hung test.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scratch } from './loopfs';
import { AGENT_DIR, ok, requireSandbox, sh } from './netns';

requireSandbox();

const TIMEOUT_MS = 6000;

interface Result {
  code: number | null;
  reason?: string;
  stderr: string;
  ms: number;
}

/** The agent as execd runs it: a clean environment, and SIGKILL 2 s past the operation's timeout. */
function agent(name: string, action: string, params: Record<string, string>, env: Record<string, string> = {}): Result {
  const vars = [
    'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    'OCF_ROOT=/usr/lib/ocf',
    `OCF_RESOURCE_INSTANCE=${name}-hung`,
    `OCF_RESKEY_CRM_meta_timeout=${TIMEOUT_MS}`,
    ...Object.entries(params).map(([k, v]) => `OCF_RESKEY_${k}=${v}`),
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
  ];
  const t0 = performance.now();
  const r = sh(['timeout', '-s', 'KILL', String((TIMEOUT_MS + 2000) / 1000), 'env', '-i', ...vars, `${AGENT_DIR}/${name}`, action]);
  return { code: r.status, stderr: r.stderr, reason: /^ocf-exit-reason:(.*)$/m.exec(r.stderr)?.[1], ms: performance.now() - t0 };
}

/** Processes other than the test's that mention `path` in their command line, with their state. */
function leftOver(path: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z') continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(path) && !cmd.startsWith('bindfs')) out.push(`${pid} ${state} ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}

/** A bindfs mount of a fresh directory; stop() freezes its daemon, resume() lets it answer again. */
class Fuse {
  readonly back: string;
  readonly dir: string;
  private pid = 0;

  constructor(s: Scratch) {
    this.back = s.path('fuse-back');
    this.dir = s.path('fuse');
    // Kernel caching off: every lookup and getattr goes to the daemon, as on NFS once its cache expired.
    ok(['bindfs', '-o', 'attr_timeout=0,entry_timeout=0,negative_timeout=0', this.back, this.dir]);
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === this.dir);
    if (!line) throw new Error('bindfs did not mount');
    this.pid = Number(ok(['pgrep', '-n', '-f', `^bindfs .*${this.dir}$`]).trim());
  }

  stop(): void {
    ok(['kill', '-STOP', String(this.pid)]);
  }

  resume(): void {
    sh(['kill', '-CONT', String(this.pid)]);
  }

  dispose(): void {
    this.resume();
    sh(['umount', '-l', this.dir]);
  }
}

let s: Scratch;
let fuse: Fuse;
beforeEach(() => {
  s = new Scratch();
  fuse = new Fuse(s);
});
afterEach(() => {
  fuse.resume();
  // What the agents left: once the daemon answers again, every left-behind call ends.
  sh(['sleep', '0.5']);
  expect(leftOver(s.dir)).toEqual([]);
  sh(['umount', '-R', join(s.dir, 'mnt')]);
  fuse.dispose();
  s.dispose();
});

/** Asserts an action that met the hung path: exit 1 in time, the reason naming the call and path. */
function failedOn(r: Result, what: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.reason).toMatch(what);
  expect(r.reason).toMatch(/hung/);
  expect(r.ms).toBeLessThan(TIMEOUT_MS);
  // No child left in a wait it can be killed out of (FUSE waits are killable): only D state may stay.
  for (const p of leftOver(s.dir)) expect(p).toMatch(/^\d+ D /);
}

describe('fs-mount on a filesystem that stops answering', () => {
  it('a bind of a directory on it: probe, monitor and stop end in time with exit 1 naming the mount point; stop never reports stopped', () => {
    const src = join(fuse.dir, 'src');
    mkdirSync(src);
    const dir = join(s.dir, 'mnt');
    const p = { device: src, directory: dir, fstype: 'none', options: 'bind' };
    expect(agent('fs-mount', 'start', p).code).toBe(0);
    expect(agent('fs-mount', 'monitor', p, { OCF_RESKEY_CRM_meta_interval: '20000' }).code).toBe(0);
    fuse.stop();
    // Whichever the walk meets first: the mount point (the bind's root is the FUSE directory) or the source.
    const named = new RegExp(`^resolving the (mount point ${dir}|bind source ${src}) hung`);
    failedOn(agent('fs-mount', 'monitor', p), named);
    failedOn(agent('fs-mount', 'monitor', p, { OCF_RESKEY_CRM_meta_interval: '20000' }), named);
    failedOn(agent('fs-mount', 'stop', p), named);
    fuse.resume();
    expect(agent('fs-mount', 'stop', p).code).toBe(0);
  });

  it('a mount point below it: start fails in time naming the mount point, mounts nothing', () => {
    const dev = s.loop('ext4');
    const dir = join(fuse.dir, 'below', 'mnt');
    fuse.stop();
    const r = agent('fs-mount', 'start', { device: dev, directory: dir, fstype: 'ext4' });
    failedOn(r, new RegExp(`^(resolving|stat of) the mount point ${dir} hung`));
    fuse.resume();
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dir);
  });

  it('ext4 on a loop device backed by a file on it (I/O that never completes): depth 10 and 20 monitors and stop end in time with exit 1; what stays behind is in D state and ends once the I/O does', () => {
    const dev = s.loop('ext4', 'hung', fuse.dir, 64);
    const dir = join(s.dir, 'mnt');
    const p = { device: dev, directory: dir, fstype: 'ext4' };
    expect(agent('fs-mount', 'start', p).code).toBe(0);
    writeFileSync(join(dir, 'data'), 'x'.repeat(1 << 20));
    sh(['sync']);
    fuse.stop();
    // Clean pages of the backing file would still answer reads: without them every read goes to the daemon.
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    for (const depth of ['10', '20']) {
      const r = agent('fs-mount', 'monitor', p, { OCF_CHECK_LEVEL: depth, OCF_RESKEY_CRM_meta_interval: '60000' });
      expect(r.code, r.stderr).toBe(1);
      expect(r.reason).toMatch(depth === '10' ? new RegExp(`${dev} does not answer a 4 KiB direct read`) : /status file/);
      expect(r.ms).toBeLessThan(TIMEOUT_MS);
    }
    const st = agent('fs-mount', 'stop', p);
    expect(st.code, st.stderr).toBe(1);
    expect(st.reason).toContain(`cannot unmount ${dir}`);
    expect(st.ms).toBeLessThan(TIMEOUT_MS);
    fuse.resume();
    expect(agent('fs-mount', 'stop', p).code).toBe(0);
  });
});

/**
 * A process whose memory map cannot be read while the FUSE daemon is stopped (kernel 6.18; older
 * kernels also block on a plain page fault's retry): one thread's write to a page of a shared
 * mapping of a file on the FUSE mount waits in page_mkwrite for that page's writeback, which the
 * daemon never completes, holding the mapping's VMA lock; another thread's munmap takes mmap_lock
 * for write and waits for that VMA lock. A read of /proc/PID/maps then waits behind both. ctypes
 * calls release the GIL, so the threads block in the kernel, not on each other.
 */
const STUCK_MAPPER = `
import ctypes, os, sys, threading, time
libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
size = os.path.getsize(sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDWR)
addr = libc.mmap(None, size, 3, 1, fd, 0)
libc.memset(addr, 1, 1)
print(os.getpid(), flush=True)
sys.stdin.readline()
threading.Thread(target=lambda: libc.fsync(fd), daemon=True).start()
time.sleep(0.5)
threading.Thread(target=lambda: libc.memset(addr, 2, 1), daemon=True).start()
time.sleep(0.5)
threading.Thread(target=lambda: libc.munmap(addr, size), daemon=True).start()
time.sleep(300)
`;

describe('fs-mount stop while a holder of the mount is stuck on another filesystem', () => {
  it('the holder search cannot read its memory map: the holder found by its working directory is named and signalled (it cannot die while stuck); stop ends in time with exit 1 and leaves the mount', async () => {
    const dev = s.loop('ext4');
    const dir = join(s.dir, 'mnt');
    const p = { device: dev, directory: dir, fstype: 'ext4' };
    expect(agent('fs-mount', 'start', p).code).toBe(0);
    const data = join(fuse.dir, 'data');
    writeFileSync(data, 'x'.repeat(65536));
    // Its working directory holds the ext4 mount; its memory is what the FUSE daemon holds up.
    const py = spawn('/usr/bin/python3', ['-c', STUCK_MAPPER, data], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        py.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        py.once('exit', (code) => reject(new Error(`the stuck mapper exited ${code}`)));
      });
      fuse.stop();
      py.stdin.write('go\n');
      // The reproduction itself: until the map cannot be read, the stop below proves nothing.
      let hung = false;
      for (let i = 0; i < 20 && !hung; i++) {
        sh(['sleep', '0.25']);
        // timeout's KILL goes to its whole process group: it dies of it too.
        const cat = sh(['timeout', '-s', 'KILL', '1', 'cat', `/proc/${pid}/maps`]);
        hung = cat.signal === 'SIGKILL' || cat.status === 137;
      }
      expect(hung, 'reading /proc/PID/maps of the stuck process does not block').toBe(true);
      const st = agent('fs-mount', 'stop', p);
      expect(st.code, st.stderr).toBe(1);
      // The search's child could not read the map; what the reads that do not block found is certain.
      expect(st.reason).toMatch(new RegExp(`^cannot unmount ${dir}: held by ${pid} \\(python3: cwd ${dir}\\)`));
      expect(st.stderr).toMatch(/is busy and the holder search did not finish \(a process is stuck on a filesystem\).*: the holders found without it .* are acted on/);
      expect(st.stderr).toMatch(new RegExp(`sending .* to ${pid} \\(python3\\)`));
      expect(st.ms).toBeLessThan(TIMEOUT_MS);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).toContain(` ${dir} `);
      fuse.resume();
      const again = agent('fs-mount', 'stop', p);
      expect(again.code, again.stderr).toBe(0);
    } finally {
      fuse.resume();
      py.kill('SIGKILL');
    }
  });
});

describe('ocfkit doctor while /proc/fs/nfsd/threads does not answer', () => {
  it('says the read hung and goes on to the addresses, instead of waiting with it', () => {
    // nfsd's mutex, held while nfsd is stuck starting or stopping, is not something to hold on a
    // shared kernel: the same path on the stopped FUSE filesystem waits the same way (the test's
    // mount namespace is its own, so nothing else sees it).
    mkdirSync(join(fuse.back, 'nfsd'));
    writeFileSync(join(fuse.back, 'nfsd', 'threads'), '8\n');
    ok(['mount', '--bind', fuse.dir, '/proc/fs']);
    try {
      fuse.stop();
      const d = sh(['timeout', '-s', 'KILL', '30', 'env', 'CIB_file=/nonexistent', join(__dirname, '..', '..', 'dist', 'ocfkit'), 'doctor']);
      expect(d.status, d.stderr).toBe(0);
      expect(d.stdout).toMatch(/^nfs server: reading \/proc\/fs\/nfsd\/threads hung: `cat` did not finish within [\d.]+s and was killed \(nfsd stuck starting or stopping threads\?/m);
      expect(d.stdout).toMatch(/^mounts: /m);
    } finally {
      fuse.resume();
      sh(['umount', '/proc/fs']);
    }
  });
});

describe('nfs-export of a directory on a filesystem that stops answering', () => {
  const varlib = () => {
    const d = s.path('varlib');
    for (const f of ['etab', 'rmtab']) writeFileSync(join(d, f), '');
    ok(['mount', '--bind', d, '/var/lib/nfs']);
  };

  it('monitor and stop end in time with exit 1 naming the directory; stop never reports stopped', () => {
    varlib();
    try {
      const d = join(fuse.dir, 'export');
      mkdirSync(d);
      const run = s.path('run');
      const p = { directory: d, clientspec: '192.0.2.0/24', options: 'rw,no_subtree_check', manage_server: 'false' };
      const env = { HA_RSCTMP: run };
      expect(agent('nfs-export', 'start', p, env).code).toBe(0);
      fuse.stop();
      const named = new RegExp(`^resolving the exported directory ${d} hung`);
      failedOn(agent('nfs-export', 'monitor', p, { ...env, OCF_RESKEY_CRM_meta_interval: '10000' }), named);
      failedOn(agent('nfs-export', 'monitor', p, env), named);
      const st = agent('nfs-export', 'stop', p, env);
      // exportfs -u stats the directory: killed at its bound, the export stays, and stop says so.
      expect(st.code, st.stderr).toBe(1);
      expect(st.reason).toBe(`${d} is still exported to 192.0.2.0/24`);
      expect(st.ms).toBeLessThan(TIMEOUT_MS);
      fuse.resume();
      expect(agent('nfs-export', 'stop', p, env).code).toBe(0);
    } finally {
      sh(['umount', '/var/lib/nfs']);
    }
  });
});
