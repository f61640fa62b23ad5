import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIND_HOLDERS, answerQuery, readReply, searchHolders, unfinished } from '../../lib/holder-search';
import { mountContaining, readMountinfo } from '../../lib/mounts';
import { Deadline } from '../../lib/ocf/deadline';
import { type RunResult, type Runner, run } from '../../lib/run';

const top = join(__dirname, '..', '..');
const runner: Runner = (argv, o) => run(argv, { ...o, deadline: new Deadline(20_000, 'test') });

let dir: string;
let held: ChildProcess | undefined;
afterEach(() => {
  held?.kill('SIGKILL');
  held = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A process whose working directory is a fresh directory: a holder of the mount that holds it. */
async function holderIn(): Promise<{ pid: number; query: string }> {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'ocfkit-holders-')));
  held = spawn('sleep', ['300'], { cwd: dir, stdio: 'ignore' });
  await new Promise((r) => held!.once('spawn', r));
  const target = mountContaining(readMountinfo(), dir)!;
  return { pid: held.pid!, query: JSON.stringify({ target }) };
}

const result = (r: Partial<RunResult>): RunResult => ({ argv: [FIND_HOLDERS], code: 0, signal: null, stdout: '', stderr: '', durationMs: 10, timedOut: false, abandoned: false, ...r });

describe('the holder search child: JSON in, JSON out', () => {
  it('answers a query with the holders of the mount it names', async () => {
    const { pid, query } = await holderIn();
    const out = JSON.parse(answerQuery(query));
    // The temporary directory may share its mount with the libraries sleep maps: those are uses too.
    expect(out.holders).toContainEqual({ pid, comm: 'sleep', uses: expect.arrayContaining([`cwd ${dir}`]) });
    expect(Array.isArray(out.foreign)).toBe(true);
  });

  it('refuses a query that names no mount', () => {
    expect(() => answerQuery('{}')).toThrow(/names no mount/);
    expect(() => answerQuery('not json')).toThrow();
  });

  it('through the executable (`find-holders` on stdin): the same answer, read back as holders', async () => {
    const { pid, query } = await holderIn();
    const target = JSON.parse(query).target;
    const found = await searchHolders(runner, { target }, { argv: [process.execPath, join(top, 'scripts', 'run-ts.mjs'), join(top, 'ocfkit.ts'), FIND_HOLDERS], timeoutMs: 15_000 });
    expect(unfinished(found)).toBe(false);
    expect(!unfinished(found) && found.holders.find((h) => h.pid === pid)?.uses).toContain(`cwd ${dir}`);
  });
});

describe('what the parent makes of the child', () => {
  it('a child that does not finish by its bound is killed, and the search says it cannot tell, never "no holders"', async () => {
    // A mount nothing holds (no such id): the reads that do not block find nobody either.
    const nobody = { ...readMountinfo()[0]!, id: 999_999_999, major: 4095, minor: 1_048_575 };
    const found = await searchHolders(runner, { target: nobody }, { argv: ['sleep', '30'], timeoutMs: 200 });
    expect(found).toEqual({ unfinished: expect.stringMatching(/^the holder search did not finish \(a process is stuck on a filesystem\): `find-holders` did not finish within [\d.]+s and was killed/) });
  });

  it('a child that does not finish: the holders the reads that do not block find (working directory, open files) are certain, and said to be without the memory maps', async () => {
    const { pid, query } = await holderIn();
    const found = await searchHolders(runner, { target: JSON.parse(query).target }, { argv: ['sleep', '30'], timeoutMs: 200 });
    expect(unfinished(found)).toBe(false);
    expect(!unfinished(found) && found.withoutMaps).toMatch(/^the holder search did not finish \(a process is stuck on a filesystem\)/);
    // /tmp may share its mount with / and sleep's executable: those count too, its maps do not.
    const uses = (!unfinished(found) && found.holders.find((h) => h.pid === pid)?.uses) || [];
    expect(uses).toContain(`cwd ${dir}`);
    expect(uses.filter((u) => u.startsWith('mmap '))).toEqual([]);
  });

  it('a child that failed, or answered something else, tells nothing either', async () => {
    expect(readReply(result({ code: 2, stderr: 'find-holders: the query names no mount' }), [FIND_HOLDERS])).toEqual({ unfinished: 'the holder search did not finish (`find-holders` exited 2: find-holders: the query names no mount)' });
    expect(readReply(result({ stdout: '{"holders":[]}' }), [FIND_HOLDERS])).toEqual({ unfinished: 'the holder search did not finish (`find-holders` answered something that is not a search result)' });
    expect(readReply(result({ stdout: '{"holders":[{"pid":"1"}],"foreign":[]}' }), [FIND_HOLDERS])).toHaveProperty('unfinished');
    expect(readReply(result({ stdout: 'garbage' }), [FIND_HOLDERS])).toHaveProperty('unfinished');
    expect(readReply(result({ abandoned: true, code: null }), [FIND_HOLDERS])).toHaveProperty('unfinished');
    const found = await searchHolders(runner, { target: { ...readMountinfo()[0]!, id: 999_999_999, major: 4095, minor: 1_048_575 } }, { argv: ['echo', '{"holders":[]}'] });
    expect(unfinished(found)).toBe(true);
  });

  it('a finished child: its holders and foreign holders as it wrote them', () => {
    const holders = [{ pid: 7, comm: 'x y', uses: ['fd 3 /srv/a', 'cwd /srv'] }];
    expect(readReply(result({ stdout: `${JSON.stringify({ holders, foreign: [] })}\n` }), [FIND_HOLDERS])).toEqual({ holders, foreign: [] });
  });
});
