import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allAgents } from '../../agents';
import type { ParamDecl } from '../../lib/ocf/params';
import { mdText, renderAgentReference } from '../../lib/ocf/reference';

const AGENTS = await allAgents();
// By name: vitest's $name does not reach a getter.
const byName = Object.values(AGENTS).map((a) => [a.name, a] as const);
const dir = join(__dirname, '..', '..', 'docs', 'reference');

describe('docs/reference', () => {
  it('holds one page per agent and nothing else', () => {
    expect(readdirSync(dir).sort()).toEqual(Object.keys(AGENTS).map((n) => `${n}.md`).sort());
  });
  it.each(byName)('%s.md is what `npm run docs` writes from the declarations', (_name, agent) => {
    const committed = readFileSync(join(dir, `${agent.name}.md`), 'utf8');
    expect(committed, `docs/reference/${agent.name}.md is stale: run npm run docs and commit it`).toBe(renderAgentReference(agent, 'ocfkit'));
  });
  it.each(byName)('%s.md has every parameter, action and default the meta-data has', (_name, agent) => {
    const page = renderAgentReference(agent, 'ocfkit');
    for (const [name, d] of Object.entries(agent.params) as Array<[string, ParamDecl<unknown>]>) {
      expect(page).toContain(`### \`${name}\``);
      expect(page).toContain(mdText(d.shortdesc));
    }
    for (const action of Object.keys(agent.actions)) expect(page).toContain(`| \`${action}\` |`);
  });
});

describe('mdText', () => {
  it('escapes what markdown would read as markup, and leaves words with underscores alone', () => {
    expect(mdText('a *b* <c> [d] `e` f|g h\\i')).toBe('a \\*b\\* \\<c\\> \\[d\\] \\`e\\` f\\|g h\\\\i');
    expect(mdText('run_arping and _x_')).toBe('run_arping and \\_x\\_');
  });
});
