import { mkdirSync, mkdtempSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DrbdAdm } from '../../lib/drbd';
import { MinorsCache, configFingerprint, includes } from '../../lib/drbd-minors-cache';
import type { RunResult, Runner } from '../../lib/run';

function tree() {
  const dir = mkdtempSync(join(tmpdir(), 'ocfkit-minors-'));
  mkdirSync(join(dir, 'drbd.d'));
  writeFileSync(join(dir, 'drbd.conf'), '# include "ignored/*.conf";\ninclude "drbd.d/global_common.conf";\ninclude "drbd.d/*.res";\n');
  writeFileSync(join(dir, 'drbd.d', 'global_common.conf'), 'global { usage-count no; }\n');
  writeFileSync(join(dir, 'drbd.d', 'r0.res'), 'resource r0 { device minor 0; }\n');
  return dir;
}

function counting(minor: string) {
  const calls: string[] = [];
  const run: Runner = async (argv) => {
    calls.push(argv.slice(3).join(' '));
    return { argv, code: 0, signal: null, stdout: minor, stderr: '', durationMs: 1, timedOut: false, abandoned: false } satisfies RunResult;
  };
  return { run, calls };
}

describe('the configuration fingerprint behind the kept minors', () => {
  it('reads include statements, quoted or bare, and not in comments', () => {
    expect(includes('# include "a";\ninclude "drbd.d/*.res";\n  include other.conf;\nresource r0 { }')).toEqual(['drbd.d/*.res', 'other.conf']);
  });

  it('changes when any file drbdadm reads changes, one is added to a glob, or one is renamed away', () => {
    const dir = tree();
    const conf = join(dir, 'drbd.conf');
    const first = configFingerprint(conf);
    expect(first).toBeDefined();
    expect(configFingerprint(conf)).toBe(first);
    writeFileSync(join(dir, 'drbd.d', 'r0.res'), 'resource r0 { device minor 1; }\n');
    const edited = configFingerprint(conf);
    expect(edited).not.toBe(first);
    // The same size and mtime put back: the ctime still differs.
    utimesSync(join(dir, 'drbd.d', 'r0.res'), new Date(0), new Date(0));
    expect(configFingerprint(conf)).not.toBe(edited);
    const before = configFingerprint(conf);
    writeFileSync(join(dir, 'drbd.d', 'r1.res'), 'resource r1 { device minor 1; }\n');
    const added = configFingerprint(conf);
    expect(added).not.toBe(before);
    renameSync(join(dir, 'drbd.d', 'r1.res'), join(dir, 'drbd.d', 'r1.res.off'));
    expect(configFingerprint(conf)).not.toBe(added);
  });

  it('is not taken (no cache) when a file is missing or a directory part is a glob', () => {
    const dir = tree();
    expect(configFingerprint(join(dir, 'missing.conf'))).toBeUndefined();
    writeFileSync(join(dir, 'drbd.conf'), 'include "drbd.d/global_common.conf";\ninclude "drbd.d/nested.conf";\n');
    expect(configFingerprint(join(dir, 'drbd.conf'))).toBeUndefined();
    writeFileSync(join(dir, 'drbd.conf'), 'include "*/r0.res";\n');
    expect(configFingerprint(join(dir, 'drbd.conf'))).toBeUndefined();
  });
});

describe('DrbdAdm.minors kept across actions', () => {
  it('a monitor reuses what the last action read; a changed configuration or a state-changing action reads afresh', async () => {
    const dir = tree();
    const conf = join(dir, 'drbd.conf');
    const cache = new MinorsCache(join(dir, 'run'));
    const f = counting('0\n');
    expect(await new DrbdAdm(f.run, conf, { cache, reuse: true }).minors('r0')).toEqual([0]);
    expect(await new DrbdAdm(f.run, conf, { cache, reuse: true }).minors('r0')).toEqual([0]);
    expect(f.calls).toEqual(['sh-minor r0']);
    // start, stop, promote, demote: always sh-minor.
    await new DrbdAdm(f.run, conf, { cache, reuse: false }).minors('r0');
    expect(f.calls).toHaveLength(2);
    writeFileSync(join(dir, 'drbd.d', 'r0.res'), 'resource r0 { device minor 3; }\n');
    const g = counting('3\n');
    expect(await new DrbdAdm(g.run, conf, { cache, reuse: true }).minors('r0')).toEqual([3]);
    expect(await new DrbdAdm(g.run, conf, { cache, reuse: true }).minors('r0')).toEqual([3]);
    expect(g.calls).toEqual(['sh-minor r0']);
    // Another configuration file for the same resource name is not answered from this one's.
    const other = tree();
    await new DrbdAdm(g.run, join(other, 'drbd.conf'), { cache, reuse: true }).minors('r0');
    expect(g.calls).toHaveLength(2);
  });

  it('a resource the configuration no longer names forgets what was kept', async () => {
    const dir = tree();
    const conf = join(dir, 'drbd.conf');
    const cache = new MinorsCache(join(dir, 'run'));
    await new DrbdAdm(counting('0\n').run, conf, { cache, reuse: true }).minors('r0');
    const gone: Runner = async (argv) => ({ argv, code: 10, signal: null, stdout: '', stderr: "'r0' not defined in your config (for this host).", durationMs: 1, timedOut: false, abandoned: false });
    expect(await new DrbdAdm(gone, conf, { cache, reuse: false }).minors('r0')).toBeUndefined();
    const f = counting('0\n');
    await new DrbdAdm(f.run, conf, { cache, reuse: true }).minors('r0');
    expect(f.calls).toEqual(['sh-minor r0']);
  });
});
