/**
 * Writing man(7) source. The output is ASCII only: groff without preconv reads its input as
 * Latin-1, so every other character goes out as a \[uXXXX] escape, which every groff since 1.20
 * and mandoc render.
 */

/** Text for the body of a line: escapes, and a \& where a line would start with a control character. */
export function roffText(s: string): string {
  const escaped = s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\x20-\x7e\n]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
  return escaped
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

/** An argument of a macro line (.TH, .SS …): quoted, with its inner quotes doubled. */
export function roffArg(s: string): string {
  return `"${roffText(s).replace(/"/g, '""')}"`;
}

/** A paragraph of running text; sentences stay on one source line each, as man-pages(7) asks. */
export function roffParagraph(s: string): string {
  return roffText(s.trim().replace(/([.;:?!])\s+(?=[A-Z(`"])/g, '$1\n'));
}

/** Literal lines (commands, configuration) that the formatter must not fill or adjust. */
export function roffExample(lines: readonly string[]): string {
  return ['.PP', '.RS 4', '.nf', ...lines.map(roffText), '.fi', '.RE'].join('\n');
}

export interface ManHead {
  readonly name: string;
  readonly section: number;
  /** YYYY-MM-DD; from SOURCE_DATE_EPOCH, so two builds of one commit write the same page. */
  readonly date: string;
  readonly source: string;
  readonly manual: string;
}

export function roffHead(h: ManHead): string {
  return `.TH ${roffArg(h.name.toUpperCase())} ${h.section} ${roffArg(h.date)} ${roffArg(h.source)} ${roffArg(h.manual)}`;
}

/** A term with its description below it, indented (.TP). */
export function roffItem(term: string, body: string): string {
  return ['.TP', term, body].join('\n');
}

/** The date a page carries: SOURCE_DATE_EPOCH when set (reproducible builds), else today. */
export function manDate(env: NodeJS.ProcessEnv = process.env): string {
  const epoch = Number(env.SOURCE_DATE_EPOCH);
  const d = Number.isFinite(epoch) && env.SOURCE_DATE_EPOCH !== '' ? new Date(epoch * 1000) : new Date();
  return d.toISOString().slice(0, 10);
}
