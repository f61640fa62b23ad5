/**
 * The command blocks of README.md and docs/*.md, as test/integration/docs.test.ts runs them.
 * Markers, each an HTML comment on the lines just before a fenced block:
 *   <!-- not run: REASON -->   a sh block that cannot run in CI (a live cluster, another OS)
 *   <!-- file: NAME -->        the block's text is written to NAME in the document's work directory
 *   <!-- exit: N -->           the sh block is expected to exit N, not 0
 *   <!-- cwd: clone -->         the sh block runs in the repository (npm run …), not the work directory
 * Every ```sh or ```bash block is run unless marked; other blocks only when they name a file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Block {
  readonly line: number;
  readonly lang: string;
  readonly text: string;
  readonly notRun?: string;
  readonly file?: string;
  readonly exit: number;
  /** Run in the repository rather than the document's work directory. */
  readonly inClone: boolean;
}

const FENCE = /^(\s*)```(\S*)\s*$/;
const MARK = /^<!--\s*(not run|file|exit|cwd):\s*(.*?)\s*-->\s*$/;

export function blocksOf(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const out: Block[] = [];
  let marks: Record<string, string> = {};
  for (let i = 0; i < lines.length; i++) {
    const m = MARK.exec(lines[i]!.trim());
    if (m) {
      marks[m[1]!] = m[2]!;
      continue;
    }
    const f = FENCE.exec(lines[i]!);
    if (!f) {
      if (lines[i]!.trim() !== '') marks = {};
      continue;
    }
    const indent = f[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
    if (j === lines.length) throw new Error(`line ${i + 1}: a code block that never ends`);
    out.push({ line: i + 1, lang: f[2]!, text: `${body.join('\n')}\n`, notRun: marks['not run'], file: marks.file, exit: marks.exit === undefined ? 0 : Number(marks.exit), inClone: marks.cwd === 'clone' });
    marks = {};
    i = j;
  }
  return out;
}

export const isShell = (b: Block): boolean => b.lang === 'sh' || b.lang === 'bash';

/** README.md and the guides, not the generated reference (its examples are the agents' own). */
export function documents(top: string): string[] {
  return ['README.md', ...readdirSync(join(top, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

export function read(top: string, doc: string): string {
  return readFileSync(join(top, doc), 'utf8');
}
