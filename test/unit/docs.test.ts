import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blocksOf, documents, isShell, read } from '../docs-blocks';

const top = join(__dirname, '..', '..');
/** What users read: the README, the guides, the reference, and the two READMEs beside code. */
const READ = [...documents(top), ...readdirSync(join(top, 'docs', 'reference')).map((f) => `docs/reference/${f}`), 'bench/README.md', 'scripts/lab/README.md'];

describe('docs blocks', () => {
  it('reads markers, fences, indentation and expected exits', () => {
    const md = ['text', '<!-- not run: needs a live cluster -->', '```sh', 'pcs status', '```', '', '<!-- file: stack.json -->', '```json', '{}', '```', '- item', '  <!-- exit: 1 -->', '  <!-- cwd: clone -->', '  ```sh', '  false', '  ```', '```text', 'x', '```'].join('\n');
    const b = blocksOf(md);
    expect(b.map((x) => [x.line, x.lang, x.notRun, x.file, x.exit, x.inClone, x.text])).toEqual([
      [3, 'sh', 'needs a live cluster', undefined, 0, false, 'pcs status\n'],
      [8, 'json', undefined, 'stack.json', 0, false, '{}\n'],
      [14, 'sh', undefined, undefined, 1, true, 'false\n'],
      [17, 'text', undefined, undefined, 0, false, 'x\n'],
    ]);
  });
  it('forgets a marker that text separates from its block', () => {
    expect(blocksOf('<!-- not run: x -->\nsome text\n```sh\ntrue\n```\n')[0]!.notRun).toBeUndefined();
  });
  it('refuses a block that never ends', () => {
    expect(() => blocksOf('```sh\ntrue\n')).toThrow(/never ends/);
  });
});

describe('README.md', () => {
  const readme = read(top, 'README.md');
  it('is short: at most 300 lines, the rest is in the guides', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(301);
  });
  it('names the test command CI runs', () => {
    const ci = readFileSync(join(top, '.ci', 'run'), 'utf8');
    const command = /^npm test$/m.exec(ci)?.[0];
    expect(command, '.ci/run runs npm test').toBe('npm test');
    expect(blocksOf(readme).filter(isShell).some((b) => b.text.split('\n').includes(command!))).toBe(true);
  });
  it('links every guide in docs/', () => {
    for (const f of readdirSync(join(top, 'docs')).filter((x) => x.endsWith('.md'))) expect(readme).toContain(`(docs/${f})`);
  });
});

describe.each(READ)('%s', (doc) => {
  const text = read(top, doc);
  it('links only to files that exist', () => {
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      expect(existsSync(join(top, dirname(doc), target!)), `${doc} links to ${target}`).toBe(true);
    }
  });
  it('marks every shell block it does not want run with a reason', () => {
    for (const b of blocksOf(text).filter(isShell)) if (b.notRun !== undefined) expect(b.notRun.length, `${doc}:${b.line}`).toBeGreaterThan(3);
  });
  it('tells no development history: no stop or issue numbers, no first person', () => {
    const prose = text.replace(/```[\s\S]*?```/g, '');
    for (const re of [/\b(at|since|before|until|of|in) stop \d+/i, /\bstop \d{2,}\b/i, /\bissue \d+/i, /\bissue #?\d+/i, /(^|[^\w'-])I(?=[ '])/m, /\b(we|our|us)\b/i, /\bwe tried\b/i, /\buntil (stop|issue)\b/i]) {
      const m = re.exec(prose);
      expect(m ? prose.slice(Math.max(0, m.index - 60), m.index + 60) : null, `${doc} ${re}`).toBeNull();
    }
  });
});
