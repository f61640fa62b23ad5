/**
 * Runs the shell blocks of README.md and docs/*.md (test/docs-blocks.ts says how they are marked)
 * with the built executable as `ocfkit` on PATH, in the sandbox that makes ocf:ocfkit:* visible to
 * crm_resource and pcs: a command the guides show that stops working fails here.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blocksOf, documents, isShell, read } from '../docs-blocks';
import { requireSandbox } from './netns';

requireSandbox();
const top = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'ocfkit-docs-'));
const bin = join(work, 'bin');
mkdirSync(bin);
symlinkSync(join(top, 'dist', 'ocfkit'), join(bin, 'ocfkit'));

describe.each(documents(top))('%s', (doc) => {
  const dir = join(work, doc.replace(/\//g, '_'));
  mkdirSync(dir);
  const blocks = blocksOf(read(top, doc));
  it('marks every shell block it does not run with a reason', () => {
    for (const b of blocks.filter(isShell)) if (b.notRun !== undefined) expect(b.notRun, `${doc}:${b.line}`).toMatch(/\w{3}/);
  });
  for (const b of blocks) {
    if (b.file !== undefined) writeFileSync(join(dir, b.file), b.text);
    if (!isShell(b) || b.file !== undefined) continue;
    const title = `line ${b.line}: ${b.text.split('\n')[0]}`;
    if (b.notRun !== undefined) {
      it.skip(`${title} (not run: ${b.notRun})`, () => {});
      continue;
    }
    // A stack apply is a dozen pcs starts (Python): beside two labs one took past 120 s.
    it(title, () => {
      const r = spawnSync('bash', ['-euo', 'pipefail', '-c', b.text], { cwd: b.inClone ? top : dir, encoding: 'utf8', timeout: 540_000, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
      expect(r.status, `${doc}:${b.line} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(b.exit);
    }, 600_000);
  }
});
