/**
 * The lab's push (scripts/lab/stack.ts, PUSH), which the guests run with their own C tools: here
 * with the host's crm_diff and cibadmin on a CIB file (CIB_file), which checks a patch's versions
 * as the CIB manager does.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PUSH } from '../../scripts/lab/stack';

const dir = mkdtempSync(join(tmpdir(), 'ocfkit-lab-push-'));
const f = (name: string) => join(dir, name);
const tool = (argv: string[], cib: string) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, CIB_file: cib }, timeout: 60_000 });
/** PUSH of the difference between READ and NEXT into the CIB file LIVE. */
const push = (live: string, read: string, next: string) => spawnSync('bash', ['-c', PUSH, 'lab-push', read, next, f('patch.xml')], { encoding: 'utf8', env: { ...process.env, CIB_file: live }, timeout: 60_000 });

describe("the lab's push", () => {
  writeFileSync(f('read.xml'), spawnSync('cibadmin', ['--empty'], { encoding: 'utf8' }).stdout);
  copyFileSync(f('read.xml'), f('next.xml'));
  expect(tool(['cibadmin', '--create', '--scope', 'resources', '--xml-text', '<primitive id="planned" class="ocf" provider="pacemaker" type="Dummy"/>'], f('next.xml')).status).toBe(0);

  it('the CIB as it was read: the difference goes in', () => {
    copyFileSync(f('read.xml'), f('live.xml'));
    const r = push(f('live.xml'), f('read.xml'), f('next.xml'));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('pushed');
    expect(readFileSync(f('live.xml'), 'utf8')).toContain('id="planned"');
  });

  it('the CIB changed since it was read: nothing goes in, exit 75 (changeCib reads again)', () => {
    copyFileSync(f('read.xml'), f('live.xml'));
    expect(tool(['crm_attribute', '--type', 'crm_config', '--name', 'last-lrm-refresh', '--update', '1765100000'], f('live.xml')).status).toBe(0);
    const r = push(f('live.xml'), f('read.xml'), f('next.xml'));
    expect(r.status, r.stdout + r.stderr).toBe(75);
    const live = readFileSync(f('live.xml'), 'utf8');
    expect(live).not.toContain('id="planned"');
    expect(live).toContain('name="last-lrm-refresh"');
  });

  it('nothing changed: nothing to push', () => {
    copyFileSync(f('read.xml'), f('live.xml'));
    const r = push(f('live.xml'), f('read.xml'), f('read.xml'));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('no change to push');
  });
});
