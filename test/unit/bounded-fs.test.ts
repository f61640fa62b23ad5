import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BoundedFs, PathHung, S_IFDIR } from '../../lib/bounded-fs';
import { OcfError } from '../../lib/ocf/codes';
import { Deadline } from '../../lib/ocf/deadline';
import { run } from '../../lib/run';

const work = mkdtempSync(join(tmpdir(), 'ocfkit-bfs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const fsb = (ms?: number) => new BoundedFs((argv, opts) => run(argv, { ...opts, deadline: new Deadline(10_000, 'test') }), ms);

describe('BoundedFs', () => {
  it('realpath follows links and says undefined for what is missing', async () => {
    mkdirSync(join(work, 'real dir'));
    symlinkSync(join(work, 'real dir'), join(work, 'link'));
    expect(await fsb().realpath(join(work, 'link'))).toBe(join(work, 'real dir'));
    expect(await fsb().realpath(join(work, 'nope', 'x'))).toBeUndefined();
  });

  it('stat gives type, device and inode; undefined for what is missing', async () => {
    const st = await fsb().stat(join(work, 'link'));
    expect(st?.type).toBe(S_IFDIR);
    expect(st?.ino).toBeGreaterThan(0);
    expect(await fsb().stat(join(work, 'missing'))).toBeUndefined();
  });

  it('read and write: one write into an existing file, never creating one', async () => {
    const f = join(work, 'f');
    writeFileSync(f, 'old contents\n');
    expect(await fsb().write(f, 'new\n')).toBeUndefined();
    expect(readFileSync(f, 'utf8').startsWith('new\n')).toBe(true);
    expect(await fsb().read(join(work, 'missing'))).toBeUndefined();
    // A failure that is no hang is an OcfError of its own: callers keep their old answer for it.
    const e = await fsb().read(work).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(OcfError);
    expect(e).not.toBeInstanceOf(PathHung);
    expect((e as OcfError).reason).toMatch(/Is a directory/);
    expect(await fsb().write(join(work, 'missing'), 'x')).toMatch(/No such file/);
  });

  it('a path that never answers (a FIFO nobody writes) throws in time, naming the call and the path', async () => {
    const fifo = join(work, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = performance.now();
    const e = await fsb(300)
      .read(fifo, 'reading the backup')
      .then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(PathHung);
    expect((e as OcfError).reason).toMatch(new RegExp(`^reading the backup ${fifo} hung: \`cat\` did not finish within [\\d.]+s and was killed$`));
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
