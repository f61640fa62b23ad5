/** Real filesystems on loop devices for fs-mount tests; everything made is undone by dispose(). */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ok, sh } from './netns';

export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'ocfkit-fs-'));
  private readonly loops: string[] = [];
  private readonly mounts: string[] = [];
  private readonly pids: number[] = [];

  /** A loop device holding a fresh filesystem of `fstype` (ext2/ext4/xfs), backed by a file in `where`. */
  loop(fstype: string, name = `img${this.loops.length}`, where = this.dir, sizeMb = 300): string {
    const img = join(where, `${name}.img`);
    ok(['truncate', '-s', `${sizeMb}M`, img]);
    const dev = ok(['losetup', '-f', '--show', img]).trim();
    this.loops.push(dev);
    ok(fstype === 'xfs' ? ['mkfs.xfs', '-q', '-f', dev] : [`mkfs.${fstype}`, '-q', '-F', dev]);
    return dev;
  }

  path(...p: string[]): string {
    const full = join(this.dir, ...p);
    mkdirSync(full, { recursive: true });
    return full;
  }

  mount(dev: string, dir: string, ...opts: string[]): void {
    ok(['mount', ...opts, dev, dir]);
    this.mounts.push(dir);
  }

  /** A background process for the caller to hold a mount with; killed on dispose. */
  spawn(pid: number): number {
    this.pids.push(pid);
    return pid;
  }

  dispose(): void {
    for (const p of this.pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    sh(['sleep', '0.2']);
    // Unmount everything below the scratch dir, deepest first, then free the loop devices.
    // Loop devices can be backed by files on scratch mounts: unmount, detach, and repeat.
    for (let pass = 0; pass < 3; pass++) {
      const mounted = (sh(['findmnt', '-rn', '-o', 'TARGET']).stdout ?? '').split('\n').filter((t) => t.startsWith(this.dir));
      for (const t of [...new Set([...mounted, ...this.mounts])].sort((a, b) => b.length - a.length)) sh(['umount', t]);
      for (const l of [...this.loops].reverse()) sh(['losetup', '-d', l]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
