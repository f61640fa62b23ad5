import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hiddenBy, liveSuperblock, mountAt, mountUnder, otherMountNamespaces, parseMountinfo, stackAt } from '../../lib/mounts';

const MOUNTINFO = [
  '22 1 8:1 / / rw - ext4 /dev/sda1 rw',
  '40 22 7:0 / /srv/nfs rw - ext4 /dev/loop0 rw',
  '41 40 0:39 / /srv/nfs rw - tmpfs over rw',
  '42 22 7:1 / /srv/other rw - ext4 /dev/loop1 rw',
].join('\n');

describe('stackAt', () => {
  it('lists every mount on a directory bottom first; mountAt is the top', () => {
    const mounts = parseMountinfo(MOUNTINFO);
    expect(stackAt(mounts, '/srv/nfs').map((m) => m.id)).toEqual([40, 41]);
    expect(mountAt(mounts, '/srv/nfs')?.id).toBe(41);
    expect(stackAt(mounts, '/srv')).toEqual([]);
  });
});

describe('parseMountinfo', () => {
  it('a mount in a peer group is shared, whatever other optional fields it has', () => {
    const m = parseMountinfo(['29 1 0:24 / / rw,relatime shared:1 - overlay root rw', '30 29 0:27 / /lab rw master:2 shared:7 - 9p lab rw', '31 29 0:28 / /tmp rw master:3 - tmpfs tmp rw', '32 29 0:29 / /srv rw - tmpfs srv rw'].join('\n'));
    expect(m.map((x) => [x.target, x.shared])).toEqual([
      ['/', true],
      ['/lab', true],
      ['/tmp', false],
      ['/srv', false],
    ]);
    expect(m[1]?.fstype).toBe('9p');
  });
});

describe('mountUnder', () => {
  it('is the parent of the lowest mount on the directory, or the mount that contains it', () => {
    const mounts = parseMountinfo(MOUNTINFO);
    expect(mountUnder(mounts, '/srv/nfs')?.id).toBe(22);
    expect(mountUnder(mounts, '/srv/none')?.id).toBe(22);
    expect(mountUnder(mounts, '/srv/other/sub')?.id).toBe(42);
  });
});

describe('hiddenBy', () => {
  const mounts = parseMountinfo(
    [
      MOUNTINFO,
      '50 22 7:2 / /data/vol rw - ext4 /dev/loop2 rw',
      '51 50 7:3 / /data/vol/inner rw - ext4 /dev/loop3 rw',
      '52 22 0:40 / /data rw - tmpfs cover rw',
      '60 42 7:4 / /srv/other/sub rw - ext4 /dev/loop4 rw',
      '61 60 0:41 / /srv/other/sub rw - tmpfs stacked rw',
      '62 61 7:5 / /srv/other/sub/deeper rw - ext4 /dev/loop5 rw',
    ].join('\n'),
  );
  const byId = (id: number) => mounts.find((m) => m.id === id)!;

  it('a mount stacked on it hides it; the top one and what is mounted in it are reached', () => {
    expect(hiddenBy(mounts, byId(40))?.id).toBe(41);
    expect(hiddenBy(mounts, byId(41))).toBeUndefined();
    expect(hiddenBy(mounts, byId(60))?.id).toBe(61);
    expect(hiddenBy(mounts, byId(62))).toBeUndefined();
    expect(hiddenBy(mounts, byId(22))).toBeUndefined();
  });

  it('a mount over the directory it is on, or over a mount it is in, hides it', () => {
    expect(hiddenBy(mounts, byId(50))?.id).toBe(52);
    expect(hiddenBy(mounts, byId(51))?.id).toBe(52);
  });
});

describe('otherMountNamespaces', () => {
  let proc: string | undefined;
  afterEach(() => {
    if (proc) rmSync(proc, { recursive: true, force: true });
  });
  const fakeProc = (own: string, pids: Array<[number, string, string]>) => {
    proc = mkdtempSync(join(tmpdir(), 'ocfkit-proc-'));
    mkdirSync(join(proc, 'self', 'ns'), { recursive: true });
    symlinkSync(own, join(proc, 'self', 'ns', 'mnt'));
    for (const [pid, ns, comm] of pids) {
      mkdirSync(join(proc, String(pid), 'ns'), { recursive: true });
      symlinkSync(ns, join(proc, String(pid), 'ns', 'mnt'));
      writeFileSync(join(proc, String(pid), 'comm'), `${comm}\n`);
    }
    return proc;
  };

  it('names each namespace but ours once, by its lowest pid', () => {
    const p = fakeProc('mnt:[1]', [
      [300, 'mnt:[2]', 'worker'],
      [12, 'mnt:[1]', 'init'],
      [250, 'mnt:[2]', 'sleep'],
      [40, 'mnt:[3]', 'container'],
    ]);
    expect(otherMountNamespaces(p)).toEqual([
      { link: 'mnt:[3]', pid: 40, comm: 'container' },
      { link: 'mnt:[2]', pid: 250, comm: 'sleep' },
    ]);
  });

  it('a process whose namespace cannot be read is skipped', () => {
    const p = fakeProc('mnt:[1]', [[5, 'mnt:[2]', 'x']]);
    mkdirSync(join(p, '6'));
    expect(otherMountNamespaces(p).map((n) => n.pid)).toEqual([5]);
  });
});

describe('liveSuperblock', () => {
  it('finds the ext4 or XFS entry named after the device, and nothing for another device or type', () => {
    const sys = mkdtempSync(join(tmpdir(), 'ocfkit-sysfs-'));
    try {
      mkdirSync(join(sys, 'ext4', 'drbd0'), { recursive: true });
      mkdirSync(join(sys, 'xfs', 'loop3'), { recursive: true });
      mkdirSync(join(sys, 'btrfs', 'dm-1'), { recursive: true });
      expect(liveSuperblock('/dev/drbd0', sys)).toBe(join(sys, 'ext4', 'drbd0'));
      expect(liveSuperblock('/dev/loop3', sys)).toBe(join(sys, 'xfs', 'loop3'));
      expect(liveSuperblock('/dev/drbd1', sys)).toBeUndefined();
      expect(liveSuperblock('/dev/dm-1', sys)).toBeUndefined();
    } finally {
      rmSync(sys, { recursive: true, force: true });
    }
  });
});
