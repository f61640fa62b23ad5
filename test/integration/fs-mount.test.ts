import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { devMajorMinor } from '../../lib/holders';
import { Scratch } from './loopfs';
import { AGENT_DIR, ok, requireSandbox, runAgent, sh } from './netns';

requireSandbox();
let s: Scratch;
beforeEach(() => {
  s = new Scratch();
});
afterEach(() => s.dispose());

const fsm = (action: string, params: Record<string, string>, env: Record<string, string> = {}) => runAgent('fs-mount', action, params, env, { instance: 'fs-test' });
const mountedAt = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === dir.replace(/ /g, '\\040').replace(/\\(?!040)/g, '\\134'));
const alive = (p: ChildProcess | number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${typeof p === 'number' ? p : p.pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
/** The targets DEV is mounted on in the mount namespace of PID. */
const mountsOfIn = (pid: number, dev: string) => {
  const id = devMajorMinor(statSync(dev).rdev).join(':');
  return readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[2] === id)
    .map((l) => l.split(' ')[4]);
};
/** Whether PID has PATH as its working directory, open, or mapped. */
function holds(pid: number, path: string): boolean {
  const link = (f: string) => {
    try {
      return readlinkSync(f);
    } catch {
      return '';
    }
  };
  if (link(`/proc/${pid}/cwd`) === path) return true;
  try {
    if (readdirSync(`/proc/${pid}/fd`).some((fd) => link(`/proc/${pid}/fd/${fd}`) === path)) return true;
    return readFileSync(`/proc/${pid}/maps`, 'utf8').includes(` ${path}\n`);
  } catch {
    return false;
  }
}
/**
 * A process that holds something: started detached so a kill hits only it. With HOLDING, returns
 * once it holds that path: on a loaded machine an interpreter can take seconds to get there.
 */
function holder(cmd: string, cwd = '/', holding?: string): ChildProcess {
  const p = spawn('bash', ['-c', cmd], { cwd, stdio: 'ignore', detached: true });
  s.spawn(p.pid!);
  for (let i = 0; holding !== undefined && !holds(p.pid!, holding); i++) {
    if (i === 300) throw new Error(`${cmd}: did not come to hold ${holding} within 30 s`);
    sh(['sleep', '0.1']);
  }
  return p;
}
const settle = () => sh(['sleep', '0.5']);

describe('fs-mount through the OCF tools', () => {
  for (const fstype of ['ext4', 'xfs']) {
    it(`ocf-tester passes on ${fstype}`, () => {
      const dev = s.loop(fstype);
      const dir = join(s.dir, 'mnt');
      const r = sh(['ocf-tester', '-n', `fs-${fstype}`, '-o', `device=${dev}`, '-o', `directory=${dir}`, '-o', `fstype=${fstype}`, `${AGENT_DIR}/fs-mount`]);
      expect(r.stdout + r.stderr).toContain('passed all tests');
      expect(r.status).toBe(0);
      expect(mountedAt(dir)).toEqual([]);
    });
  }

  it('crm_resource --force-start/--force-check/--force-stop against the installed agent', () => {
    const dev = s.loop('ext4');
    const dir = join(s.dir, 'mnt');
    const opts = ['--class', 'ocf', '--provider', 'ocfkit', '--agent', 'fs-mount', '--option', `device=${dev}`, '--option', `directory=${dir}`, '--option', 'fstype=ext4'];
    const cr = (what: string) => sh(['crm_resource', `--${what}`, ...opts]).status;
    expect(cr('validate')).toBe(0);
    expect(cr('force-check')).toBe(7);
    expect(cr('force-start')).toBe(0);
    expect(mountedAt(dir)).toHaveLength(1);
    expect(cr('force-check')).toBe(0);
    expect(cr('force-stop')).toBe(0);
    expect(mountedAt(dir)).toEqual([]);
  });
});

describe('fs-mount stop', () => {
  it('ends the holders of that mount only: open file, cwd, memory map go; parent and sibling holders stay', () => {
    const dev = s.loop('ext4', 'main');
    const sib = s.loop('ext4', 'sib');
    const dir = join(s.dir, 'mnt');
    const sibDir = s.path('sibling');
    s.mount(sib, sibDir);
    const p = { device: dev, directory: dir, fstype: 'ext4' };
    expect(fsm('start', p).code).toBe(0);
    const openFile = holder(`exec sleep 300 > '${dir}/open.txt'`, '/', `${dir}/open.txt`);
    const cwd = holder('exec sleep 300', dir, dir);
    writeFileSync(join(dir, 'map.bin'), Buffer.alloc(8192, 1));
    const mapper = holder(`exec python3 -c "import mmap,os,time; fd=os.open('${dir}/map.bin', os.O_RDWR); m=mmap.mmap(fd, 8192); os.close(fd); time.sleep(300)"`, '/', `${dir}/map.bin`);
    const parent = holder(`exec sleep 300 > '${s.dir}/on-parent.txt'`, s.dir, `${s.dir}/on-parent.txt`);
    const sibling = holder(`exec sleep 300 > '${sibDir}/on-sibling.txt'`, sibDir, `${sibDir}/on-sibling.txt`);
    settle();
    const r = fsm('stop', p);
    expect(r.code, r.stderr).toBe(0);
    expect(mountedAt(dir)).toEqual([]);
    settle();
    expect([alive(openFile), alive(cwd), alive(mapper)]).toEqual([false, false, false]);
    expect([alive(parent), alive(sibling)]).toEqual([true, true]);
    expect(r.stderr).toMatch(/sending SIGTERM to \d+ \(python3\): [^\n]*mmap [^\n]*map\.bin/);
    expect(r.stderr).toMatch(/sending SIGTERM to \d+ \(sleep\): cwd /);
    expect(mountedAt(sibDir)).toHaveLength(1);
  });

  it('a process in the directory the mount covers (entered before the mount) is not a holder and survives', () => {
    const dev = s.loop('ext4');
    const dir = s.path('mnt');
    const covered = holder('exec sleep 300', dir);
    settle();
    const p = { device: dev, directory: dir, fstype: 'ext4' };
    expect(fsm('start', p).code).toBe(0);
    // A real holder makes the first unmount fail, so the holder search runs.
    const real = holder('exec sleep 300', dir);
    settle();
    const r = fsm('stop', p);
    expect(r.code, r.stderr).toBe(0);
    settle();
    expect(alive(real)).toBe(false);
    expect(alive(covered)).toBe(true);
    expect(r.stderr).not.toContain(`to ${covered.pid} `);
  });

  it('a holder that ignores TERM gets KILL once half the budget is gone; the stop still ends in time', () => {
    const dev = s.loop('ext4');
    const dir = join(s.dir, 'mnt');
    const p = { device: dev, directory: dir, fstype: 'ext4', signal_delay: '0.5' };
    expect(fsm('start', p).code).toBe(0);
    const stubborn = holder(`trap '' TERM; cd '${dir}' && while :; do sleep 0.1; done`, '/', dir);
    settle();
    const r = fsm('stop', p, { OCF_RESKEY_CRM_meta_timeout: '8000' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('SIGKILL');
    expect(r.ms).toBeLessThan(8000);
    settle();
    expect(alive(stubborn)).toBe(false);
  });

  it('submounts below the directory are unmounted first', () => {
    const dev = s.loop('ext4', 'main');
    const inner = s.loop('ext4', 'inner');
    const dir = join(s.dir, 'mnt');
    const p = { device: dev, directory: dir, fstype: 'ext4' };
    expect(fsm('start', p).code).toBe(0);
    mkdirSync(join(dir, 'sub'));
    ok(['mount', inner, join(dir, 'sub')]);
    const r = fsm('stop', p);
    expect(r.code, r.stderr).toBe(0);
    expect(mountedAt(join(dir, 'sub'))).toEqual([]);
    expect(mountedAt(dir)).toEqual([]);
  });

  it('force_unmount=false signals nobody and fails naming the holder, within the timeout', () => {
    const dev = s.loop('ext4');
    const dir = join(s.dir, 'mnt');
    const p = { device: dev, directory: dir, fstype: 'ext4', force_unmount: 'false' };
    expect(fsm('start', p).code).toBe(0);
    const h = holder('exec sleep 300', dir);
    settle();
    const r = fsm('stop', p, { OCF_RESKEY_CRM_meta_timeout: '4000' });
    expect(r.code).toBe(1);
    expect(r.reason).toMatch(new RegExp(`cannot unmount ${dir}: held by ${h.pid} \\(sleep: cwd ${dir}\\)`));
    expect(r.ms).toBeLessThan(4000);
    expect(alive(h)).toBe(true);
    expect(mountedAt(dir)).toHaveLength(1);
  });

  it('never reports stopped while the filesystem is still mounted elsewhere (a bind of a subdirectory)', () => {
    const dev = s.loop('ext4');
    const dir = join(s.dir, 'mnt');
    const p = { device: dev, directory: dir, fstype: 'ext4' };
    expect(fsm('start', p).code).toBe(0);
    mkdirSync(join(dir, 'state'));
    const bindTarget = s.path('bound');
    ok(['mount', '--bind', join(dir, 'state'), bindTarget]);
    const r = fsm('stop', p);
    expect(r.code).toBe(1);
    expect(r.reason).toContain(`still mounted at ${bindTarget}`);
    ok(['umount', bindTarget]);
  });
});

/** An ext4 filesystem on a loop device, started on <scratch>/mnt. */
function started(extra: Record<string, string> = {}) {
  const dev = s.loop('ext4');
  const dir = join(s.dir, 'mnt');
  const p = { device: dev, directory: dir, fstype: 'ext4', ...extra };
  expect(fsm('start', p).code).toBe(0);
  return { dev, dir, p };
}

describe('fs-mount stop never reports stopped while the filesystem is mounted', () => {
  it('another filesystem mounted over ours: stop fails naming it and unmounts nothing', () => {
    const { dev, dir, p } = started();
    ok(['mount', '-t', 'tmpfs', 'over-ours', dir]);
    const r = fsm('stop', p);
    expect(r.code, r.stderr).toBe(1);
    expect(r.reason).toContain(`${dev} (ext4,`);
    expect(r.reason).toContain(`under over-ours (tmpfs,`);
    expect(mountedAt(dir)).toHaveLength(2);
    ok(['umount', dir]);
    expect(fsm('stop', p).code).toBe(0);
    expect(mountedAt(dir)).toEqual([]);
  });

  it('another filesystem mounted over a directory above ours: stop fails at once naming it', () => {
    const dev = s.loop('ext4');
    const outer = s.path('outer');
    const dir = join(outer, 'mnt');
    const p = { device: dev, directory: dir, fstype: 'ext4' };
    expect(fsm('start', p).code).toBe(0);
    ok(['mount', '-t', 'tmpfs', 'over-outer', outer]);
    const r = fsm('stop', p, { OCF_RESKEY_CRM_meta_timeout: '8000' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.reason).toContain(`under over-outer (tmpfs,`);
    expect(r.ms).toBeLessThan(4000);
    ok(['umount', outer]);
    expect(fsm('stop', p).code).toBe(0);
    expect(mountedAt(dir)).toEqual([]);
  });

  it.each(['ext4', 'xfs'])('%s lazily unmounted while a process still works in it: stop fails naming the live filesystem, signals nobody; once that process ends, stop succeeds', (fstype) => {
    const dev = s.loop(fstype);
    const dir = join(s.dir, 'mnt');
    const p = { device: dev, directory: dir, fstype };
    expect(fsm('start', p).code).toBe(0);
    const h = holder(`cd ${dir} && exec sleep 302`, '/', dir);
    // No mount table on the node lists it any more; the kernel still has it, and writes through h would reach the device.
    ok(['umount', '-l', dir]);
    expect(mountedAt(dir)).toEqual([]);
    const r = fsm('stop', p, { OCF_RESKEY_CRM_meta_timeout: '8000' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.reason).toContain(`the filesystem on ${dev} is still active in the kernel (/sys/fs/${fstype}/${dev.slice(dev.lastIndexOf('/') + 1)} exists)`);
    expect(r.reason).toContain(`fuser -vm ${dev}`);
    expect(r.ms).toBeLessThan(8000);
    settle();
    expect(alive(h)).toBe(true);
    h.kill('SIGKILL');
    settle();
    const again = fsm('stop', p);
    expect(again.code, again.stderr).toBe(0);
  });

  it.each(['private', 'shared'])('a sandboxed service started while mounted, the mount point on a %s mount: its copy under its moved root fails the stop, or the unmount reaches it', (parent) => {
    // The mount below the mount point: private as in this sandbox (a container's root), or shared
    // as systemd makes / on a machine.
    if (parent === 'shared') {
      s.mount(s.dir, s.dir, '--bind');
      ok(['mount', '--make-shared', s.dir]);
    }
    const { dev, dir, p } = started();
    const stage = s.path('service-root');
    // As systemd 252 sets up a service with ProtectSystem or PrivateTmp: a namespace of slave
    // copies, the tree bound under a staging directory, moved onto / and entered. The copy under
    // the moved root is in no mount table; only an unmount that propagates removes it.
    const h = holder(`exec unshare --mount --propagation slave bash -c 'mount --rbind / ${stage} && cd ${stage} && mount --move . / && exec chroot . sleep 303'`);
    for (let i = 0; i < 100 && readFileSync(`/proc/${h.pid}/comm`, 'utf8').trim() !== 'sleep'; i++) settle();
    const r = fsm('stop', p, { OCF_RESKEY_CRM_meta_timeout: '8000' });
    const entry = `/sys/fs/ext4/${dev.slice(dev.lastIndexOf('/') + 1)}`;
    if (parent === 'private') {
      expect(r.code, r.stderr).toBe(1);
      expect(r.reason).toContain(`the filesystem on ${dev} is still active in the kernel (${entry} exists)`);
      expect(r.reason).toContain(`is not shared, so unmounts do not propagate`);
      expect(existsSync(entry)).toBe(true);
      // Restarting the service (here: ending it) frees the copy; the stop then succeeds.
      h.kill('SIGKILL');
      settle();
      const again = fsm('stop', p);
      expect(again.code, again.stderr).toBe(0);
    } else {
      expect(r.code, r.stderr).toBe(0);
      expect(alive(h)).toBe(true);
    }
    expect(existsSync(entry)).toBe(false);
  });

  /** A private copy of the mount in a new mount namespace: a process there holds it (cwd), another does not. */
  function copyInOtherNamespace(dir: string): { holder: ChildProcess; witness: number } {
    const pidFile = join(s.dir, 'witness.pid');
    const h = holder(`exec unshare --mount --propagation private bash -c 'sleep 300 & echo $! > ${pidFile}; cd ${dir} && exec sleep 301'`);
    for (let i = 0; i < 50 && !existsSync(pidFile); i++) settle();
    settle();
    return { holder: h, witness: s.spawn(Number(readFileSync(pidFile, 'utf8'))) };
  }

  it('a private copy in another mount namespace, used there: stop unmounts it there and ends only its holder', () => {
    const { dev, dir, p } = started();
    const ns = copyInOtherNamespace(dir);
    expect(mountsOfIn(ns.witness, dev)).toEqual([dir]);
    const r = fsm('stop', p);
    expect(r.code, r.stderr).toBe(0);
    expect(mountedAt(dir)).toEqual([]);
    expect(mountsOfIn(ns.witness, dev)).toEqual([]);
    settle();
    expect([alive(ns.holder), alive(ns.witness)]).toEqual([false, true]);
    expect(r.stderr).toMatch(new RegExp(`sending SIGTERM to ${ns.holder.pid} \\(sleep\\): cwd ${dir}`));
    expect(r.stderr).toMatch(/unmounted \S+ in the mount namespace mnt:\[\d+\] of pid \d+/);
  });

  it('a copy in a namespace that receives our unmounts, held there, keeps ours busy: its holder there is signalled', () => {
    // Shared, so the namespace below gets a slave copy, as a systemd service with a private /tmp does.
    s.mount(s.dir, s.dir, '--bind');
    ok(['mount', '--make-shared', s.dir]);
    const { dev, dir, p } = started();
    const h = holder(`exec unshare --mount --propagation slave bash -c 'cd ${dir} && exec sleep 301'`);
    settle();
    const r = fsm('stop', p, { OCF_RESKEY_CRM_meta_timeout: '8000' });
    expect(r.code, r.stderr).toBe(0);
    expect(mountedAt(dir)).toEqual([]);
    expect(r.stderr).toMatch(new RegExp(`sending SIGTERM to ${h.pid} \\(sleep\\): cwd ${dir} in mnt:\\[\\d+\\]`));
    settle();
    expect(alive(h)).toBe(false);
  });

  it('force_unmount=false: a copy held in another mount namespace fails the stop, naming the namespace, target and holder', () => {
    const { dev, dir, p } = started({ force_unmount: 'false' });
    const ns = copyInOtherNamespace(dir);
    const r = fsm('stop', p, { OCF_RESKEY_CRM_meta_timeout: '4000' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.reason).toMatch(new RegExp(`cannot unmount ${dir} in the mount namespace mnt:\\[\\d+\\] of pid \\d+ \\(\\w+\\): held by ${ns.holder.pid} \\(sleep: cwd ${dir}\\)`));
    expect(r.ms).toBeLessThan(4000);
    expect(alive(ns.holder)).toBe(true);
    expect(mountsOfIn(ns.witness, dev)).toEqual([dir]);
  });
});

describe('fs-mount stop with parameters that no longer validate', () => {
  it('a check tightened since the start: stop unmounts all the same', () => {
    const { dev, dir, p } = started();
    const r = fsm('stop', { ...p, signal_delay: '3600' });
    expect(r.code, r.stderr).toBe(0);
    expect(mountedAt(dir)).toEqual([]);
  });

  it('the device lost: stop fails naming what is mounted on the directory; with no parameters at all, nothing to identify', () => {
    const { dev, dir } = started();
    const r = fsm('stop', { directory: dir, fstype: 'ext4' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.reason).toContain(`${dev} (ext4,`);
    expect(r.reason).toContain(dir);
    expect(mountedAt(dir)).toHaveLength(1);
    const none = fsm('stop', {});
    expect(none.code).toBe(0);
    expect(none.stderr).toContain('nothing on this node can be identified');
  });

  it('a directory that is no longer usable: the device, still mounted, fails the stop', () => {
    const { dev, dir } = started();
    const r = fsm('stop', { device: dev, directory: 'mnt', fstype: 'ext4' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.reason).toContain(`${dev} is mounted on ${dir}`);
    expect(mountedAt(dir)).toHaveLength(1);
  });
});

describe('fs-mount start and monitor', () => {
  it('a different device on the directory: monitor and start fail, stop leaves it mounted', () => {
    const mine = s.loop('ext4', 'mine');
    const other = s.loop('ext4', 'other');
    const dir = s.path('mnt');
    s.mount(other, dir);
    const p = { device: mine, directory: dir, fstype: 'ext4' };
    for (const action of ['monitor', 'start']) {
      const r = fsm(action, p);
      expect(r.code).toBe(1);
      expect(r.reason).toContain(`${other} (ext4,`);
      expect(r.reason).toContain(`is mounted on ${dir}, not ${mine}; leaving it mounted`);
    }
    expect(fsm('stop', p).code).toBe(0);
    expect(mountedAt(dir)).toHaveLength(1);
  });

  it('refuses to mount over other mounts below the directory', () => {
    const dev = s.loop('ext4', 'a');
    const inner = s.loop('ext4', 'b');
    const dir = s.path('mnt');
    s.mount(inner, s.path('mnt', 'below'));
    const r = fsm('start', { device: dev, directory: dir, fstype: 'ext4' });
    expect(r.code).toBe(1);
    expect(r.reason).toContain('other mounts exist below');
  });

  it('resolves UUID=, LABEL= and -U forms, and a symlinked directory, by identity', () => {
    const dev = s.loop('ext4');
    ok(['e2label', dev, 'ocfkit-t']);
    const uuid = ok(['blkid', '-s', 'UUID', '-o', 'value', dev]).trim();
    const real = s.path('real');
    const link = join(s.dir, 'link');
    symlinkSync(real, link);
    for (const device of [`UUID=${uuid}`, 'LABEL=ocfkit-t', `-U ${uuid}`]) {
      const p = { device, directory: link, fstype: 'ext4' };
      expect(fsm('start', p).code, device).toBe(0);
      expect(mountedAt(real)).toHaveLength(1);
      expect(fsm('monitor', p).code).toBe(0);
      expect(fsm('stop', p).code).toBe(0);
      expect(mountedAt(real)).toEqual([]);
    }
  });

  it('paths with spaces and backslashes (escaped in /proc) work end to end', () => {
    const dev = s.loop('xfs');
    const dir = join(s.dir, 'with space', 'back\\slash');
    const p = { device: dev, directory: dir, fstype: 'xfs' };
    expect(fsm('start', p).code).toBe(0);
    expect(existsSync(dir)).toBe(true);
    expect(fsm('monitor', p, { OCF_RESKEY_CRM_meta_interval: '20000', OCF_CHECK_LEVEL: '20' }).code).toBe(0);
    expect(fsm('stop', p).code).toBe(0);
  });

  it('a bind mount (fstype=none, options=bind)', () => {
    const src = s.path('src');
    const dir = join(s.dir, 'bind');
    const p = { device: src, directory: dir, fstype: 'none', options: 'bind' };
    expect(fsm('start', p).code).toBe(0);
    expect(fsm('monitor', p).code).toBe(0);
    expect(fsm('stop', p).code).toBe(0);
    expect(mountedAt(dir)).toEqual([]);
  });

  it('a clone of a local filesystem is refused unless force_clones', () => {
    const dev = s.loop('ext4');
    const p = { device: dev, directory: join(s.dir, 'mnt'), fstype: 'ext4' };
    const r = fsm('start', p, { OCF_RESKEY_CRM_meta_clone_max: '2', OCF_RESKEY_CRM_meta_clone: '0' });
    expect(r.code).toBe(6);
    expect(r.reason).toContain('ext4 is not a cluster filesystem');
    expect(fsm('start', { ...p, force_clones: 'true' }, { OCF_RESKEY_CRM_meta_clone_max: '2' }).code).toBe(0);
    expect(fsm('stop', p).code).toBe(0);
  });

  it('run_fsck=auto checks a filesystem without a journal and skips a journaling one', () => {
    const ext2 = s.loop('ext2', 'e2');
    const ext4 = s.loop('ext4', 'e4');
    const trace = join(s.dir, 'trace');
    const p2 = { device: ext2, directory: join(s.dir, 'm2'), fstype: 'ext2' };
    expect(fsm('start', p2, { OCF_TRACE_RA: '1', OCF_TRACE_FILE: trace }).code).toBe(0);
    expect(readFileSync(trace, 'utf8')).toContain(`+ fsck -p -t ext2 -- ${ext2}`);
    const p4 = { device: ext4, directory: join(s.dir, 'm4'), fstype: 'ext4' };
    expect(fsm('start', p4, { OCF_TRACE_RA: '1', OCF_TRACE_FILE: `${trace}4` }).code).toBe(0);
    expect(readFileSync(`${trace}4`, 'utf8')).not.toContain('fsck');
    expect(fsm('stop', p2).code).toBe(0);
    expect(fsm('stop', p4).code).toBe(0);
  });

  it('a device that never appears: start 5 within its timeout, probe 7, stop 0', () => {
    const p = { device: '/dev/loop-nonexistent', directory: join(s.dir, 'mnt'), fstype: 'ext4' };
    expect(fsm('monitor', p).code).toBe(7);
    expect(fsm('stop', p).code).toBe(0);
    const r = fsm('start', p, { OCF_RESKEY_CRM_meta_timeout: '3000' });
    expect(r.code).toBe(5);
    expect(r.reason).toContain('does not exist on this node');
    expect(r.ms).toBeLessThan(3000);
  });
});

describe('fs-mount deep monitors', () => {
  it('depth 10 and 20 pass on a healthy mount; 20 leaves its status file, stop removes it', () => {
    const dev = s.loop('ext4');
    const dir = join(s.dir, 'mnt');
    const p = { device: dev, directory: dir, fstype: 'ext4' };
    expect(fsm('start', p).code).toBe(0);
    for (const level of ['10', '20']) expect(fsm('monitor', p, { OCF_CHECK_LEVEL: level, OCF_RESKEY_CRM_meta_interval: '60000' }).code).toBe(0);
    const status = readFileSync(join(dir, '.Filesystem_status', `fs-test_${ok(['hostname']).trim()}`), 'utf8');
    expect(status.startsWith('fs-test ')).toBe(true);
    expect(fsm('stop', p).code).toBe(0);
  });

  it('a device failing underneath (I/O errors): depth 10 fails within the timeout', () => {
    const outerDev = s.loop('xfs', 'outer');
    const outer = s.path('outer');
    s.mount(outerDev, outer);
    const dev = s.loop('ext4', 'inner', outer, 100);
    const dir = join(s.dir, 'mnt');
    const p = { device: dev, directory: dir, fstype: 'ext4' };
    expect(fsm('start', p).code).toBe(0);
    // Shut the filesystem holding the loop device's backing file down: every read below us fails.
    ok(['xfs_io', '-x', '-c', 'shutdown', outer]);
    const r = fsm('monitor', p, { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '60000', OCF_RESKEY_CRM_meta_timeout: '5000' });
    expect(r.code).toBe(1);
    expect(r.reason).toContain(`${dev} does not answer a 4 KiB direct read`);
    expect(r.ms).toBeLessThan(5000);
  });

  it('a frozen filesystem (writes hang): depth 20 reports failure before the timeout, never hangs', () => {
    const dev = s.loop('ext4');
    const dir = join(s.dir, 'mnt');
    const p = { device: dev, directory: dir, fstype: 'ext4' };
    expect(fsm('start', p).code).toBe(0);
    ok(['fsfreeze', '-f', dir]);
    try {
      const r = fsm('monitor', p, { OCF_CHECK_LEVEL: '20', OCF_RESKEY_CRM_meta_interval: '60000', OCF_RESKEY_CRM_meta_timeout: '3000' });
      expect(r.code).toBe(1);
      // The agent names the hung write; on a node so loaded that its own timers fire past the
      // deadline, the runtime's answer names the same write still under way.
      expect(r.reason).toMatch(/status file.* (did not finish|hung)|waiting for dd of=\S*\.Filesystem_status\S* .* to finish/);
      expect(r.ms).toBeLessThan(3000);
    } finally {
      ok(['fsfreeze', '-u', dir]);
    }
  });
});

describe('fs-mount bad input', () => {
  const good = () => ({ device: '/dev/loop7', directory: join(s.dir, 'mnt'), fstype: 'ext4' });
  const table: Array<[string, Record<string, string>, number, RegExp]> = [
    ['device missing', { device: '' }, 6, /device is required/],
    ['device option injection', { device: '--bind' }, 6, /is not a device/],
    ['directory relative', { directory: 'srv/nfs' }, 6, /not an absolute path/],
    ['directory root', { directory: '///' }, 6, /may not be \//],
    ['directory dot-dot', { directory: '/srv/../etc' }, 6, /may not contain \. or \.\./],
    ['directory control char', { directory: '/srv/a\nb' }, 6, /control characters/],
    ['fstype metacharacters', { fstype: 'ext4;reboot' }, 6, /is not a filesystem type/],
    ['fstype command substitution', { fstype: '$(id)' }, 6, /is not a filesystem type/],
    ['options with space', { options: 'rw, noatime' }, 6, /comma-separated option list/],
    ['options metacharacters', { options: 'rw;reboot' }, 6, /comma-separated option list/],
    ['options backticks', { options: 'rw,`id`' }, 6, /comma-separated option list/],
    ['run_fsck unknown', { run_fsck: 'always' }, 6, /is not one of auto, force, no/],
    ['force_unmount unknown', { force_unmount: 'yes please' }, 6, /is not one of true, safe, false/],
    ['fast_stop not boolean', { fast_stop: 'quick' }, 6, /is not a boolean/],
    ['force_clones not boolean', { force_clones: '2' }, 6, /is not a boolean/],
    ['statusfile_prefix absolute', { statusfile_prefix: '/etc/' }, 6, /relative path without \.\./],
    ['statusfile_prefix escape', { statusfile_prefix: '../../x' }, 6, /relative path without \.\./],
    ['term_signals unknown', { term_signals: 'TERM,BOGUS' }, 6, /"BOGUS" is not a signal name/],
    ['kill_signals metacharacters', { kill_signals: 'KILL;reboot' }, 6, /is not a signal name/],
    ['signal_delay negative', { signal_delay: '-1' }, 6, /not a number of seconds/],
    ['signal_delay huge', { signal_delay: '3600' }, 6, /not a number of seconds/],
    ['fstype none without bind', { fstype: 'none' }, 6, /fstype=none needs options=bind/],
  ];
  const rows = table.map(([name, override, code, reason]) => ({ name, override, code, reason }));
  it.each(rows)('$name → exit $code', ({ override, code, reason }) => {
    const before = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const action of ['validate-all', 'start']) {
      const r = fsm(action, { ...good(), ...override });
      expect(r.code, `${action}: ${r.stderr}`).toBe(code);
      expect(r.reason).toMatch(reason);
    }
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(before);
  });

  it('validate-all at level 10 asks the kernel about the fstype', () => {
    const r = fsm('validate-all', { ...good(), fstype: 'nosuchfs' }, { OCF_CHECK_LEVEL: '10' });
    expect(r.code).toBe(5);
    expect(r.reason).toContain('does not know nosuchfs');
  });
});
