import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allAgents } from '../../agents';

const AGENTS = await allAgents();
import { commandTree } from '../../commands/cli';
import { renderCommandPage } from '../../commands/manpage';
import type { ParamDecl } from '../../lib/ocf/params';
import { renderAgentPage } from '../../lib/ocf/manpage';
import { actionList } from '../../lib/ocf/runtime';
import { manDate, roffText } from '../../lib/roff';

const dir = mkdtempSync(join(tmpdir(), 'ocfkit-man-test-'));

/** The page as man(1) shows it, and what groff -ww and man --warnings said while formatting it. */
function format(name: string, source: string): { text: string; groff: string; man: string } {
  const file = join(dir, name);
  writeFileSync(file, source);
  const env = { ...process.env, LC_ALL: 'C.UTF-8', MANWIDTH: '200', MAN_KEEP_FORMATTING: '' };
  const groff = spawnSync('groff', ['-ww', '-man', '-Tutf8', '-z', file], { encoding: 'utf8', env });
  const man = spawnSync('man', ['--warnings=w', '-l', file], { encoding: 'utf8', env });
  // man pipes through col -b when not on a terminal; the hyphenation it may still do is turned off by the width.
  return { text: man.stdout, groff: groff.stderr, man: man.stderr };
}

describe('roff', () => {
  it('escapes backslashes, minus signs, control lines and non-ASCII', () => {
    expect(roffText('a\\b -x')).toBe('a\\eb \\-x');
    expect(roffText(".TH\n'x")).toBe('\\&.TH\n\\&\'x');
    expect(roffText('0–9 …')).toBe('0\\[u2013]9 \\[u2026]');
  });
  it('dates pages from SOURCE_DATE_EPOCH', () => {
    expect(manDate({ SOURCE_DATE_EPOCH: '1764547200' })).toBe('2025-12-01');
  });
});

describe.each(Object.values(AGENTS))('ocf_ocfkit_$name(7)', (agent) => {
  const src = renderAgentPage({ agent, provider: 'ocfkit', ocfRoot: '/usr/lib/ocf', date: '2026-12-01', version: '9.9.9' });
  const page = format(`ocf_ocfkit_${agent.name}.7`, src);

  it('formats without a warning (groff -ww, man --warnings)', () => {
    expect(page.groff).toBe('');
    expect(page.man).toBe('');
    expect(src).toMatch(/^[\x00-\x7f]*$/);
  });

  it('lists every declared parameter with its type and default, and every action with its timeout', () => {
    for (const [name, d] of Object.entries(agent.params) as Array<[string, ParamDecl<unknown>]>) {
      const entry = new RegExp(`^ *${name} \\((string|integer|boolean|select)[^)]*\\)$`, 'm');
      expect(page.text, name).toMatch(entry);
      if (!d.required && d.metaDefault === undefined && String(d.default) !== '') {
        const shown = d.type === 'boolean' ? (d.default ? 'true' : 'false') : String(d.default);
        expect(page.text).toContain(`Default: ${shown}`);
      }
    }
    for (const [name, a] of actionList(agent)) {
      expect(page.text).toMatch(new RegExp(`^ *${name}( +|\\n +)timeout ${a.timeout}s`, 'm'));
    }
  });

  it('has the exit codes and a pcs example', () => {
    expect(page.text).toMatch(/^EXIT STATUS/m);
    expect(page.text).toContain(`pcs resource create`);
    expect(page.text).toContain(`ocf:ocfkit:${agent.name}`);
    expect(page.text.includes('running and promoted')).toBe('promote' in agent.actions);
  });
});

describe('ocfkit(8)', () => {
  const src = renderCommandPage({ tree: commandTree(), agents: Object.keys(AGENTS), date: '2026-12-01', version: '9.9.9', agentPages: ['ocf_ocfkit_vip'] });
  const page = format('ocfkit.8', src);
  it('formats without a warning and lists every command and option of the tree', () => {
    expect(page.groff).toBe('');
    expect(page.man).toBe('');
    for (const c of commandTree().commands) {
      expect(page.text).toContain(`ocfkit ${c.name()}`);
      for (const sub of c.commands) for (const o of sub.options) expect(page.text).toContain(o.long!);
    }
  });
});
