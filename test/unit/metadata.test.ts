import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { allAgents } from '../../agents';

const AGENTS = await allAgents();
import { ocfApiFor, renderMetadata } from '../../lib/ocf/metadata';
import { param } from '../../lib/ocf/params';
import { metadataFor } from '../../lib/ocf/runtime';

const sample = {
  name: 'sample',
  version: '1.2.3',
  shortdesc: 'A <sample> & more',
  longdesc: 'Long "text"',
  params: {
    req: param.string({ required: true, unique: true, shortdesc: 'r', longdesc: 'R' }),
    mode: param.select({ default: 'b', options: ['a', 'b'] as const, reloadable: true, shortdesc: 'm', longdesc: 'M' }),
    n: param.integer({ default: 3, aliases: ['old_n'], shortdesc: 'n', longdesc: 'N' }),
  },
  actions: [
    ['start', { timeout: 20 }],
    ['monitor', { timeout: 20, interval: 10, depth: 0 }],
    ['monitor', { timeout: 30, interval: 11, role: 'Promoted' }],
    ['reload-agent', { timeout: 10 }],
  ] as const,
};

/** xmllint exit code and messages for a document against a schema. */
function xmllint(xml: string, args: string[], cwd?: string) {
  const r = spawnSync('xmllint', ['--noout', ...args, '-'], { input: xml, cwd, encoding: 'utf8' });
  return { code: r.status, err: r.stderr };
}
const dtd = (xml: string) => xmllint(xml, ['--valid'], '/usr/share/resource-agents');
const rng = (xml: string, file: string) => xmllint(xml, ['--relaxng', file]);

describe('meta-data', () => {
  it('picks OCF 1.1 only when the manager advertises it', () => {
    expect(ocfApiFor({})).toBe('1.0');
    expect(ocfApiFor({ OCF_RA_VERSION_MAJOR: '1', OCF_RA_VERSION_MINOR: '0' })).toBe('1.0');
    expect(ocfApiFor({ OCF_RA_VERSION_MAJOR: '1', OCF_RA_VERSION_MINOR: '1' })).toBe('1.1');
  });

  it('1.0: DOCTYPE, DTD order, select as string, no reload-agent, escaped text', () => {
    const xml = renderMetadata(sample, '1.0');
    expect(xml).toContain('<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">');
    expect(xml).toContain('<version>1.0</version>');
    expect(xml).toContain('A &lt;sample&gt; &amp; more');
    expect(xml).toContain('<parameter name="req" unique="1" required="1">');
    expect(xml).toContain('<content type="string" default="b" />');
    expect(xml).toContain('Allowed values: a, b.');
    expect(xml).not.toContain('reload-agent');
    expect(xml).not.toContain('reloadable');
    expect(xml).toContain('<action name="monitor" timeout="30s" interval="11s" role="Master" />');
    expect(dtd(xml)).toEqual({ code: 0, err: '' });
  });

  it('1.1: select, reloadable, unique-group, deprecated alias, reload-agent; valid for pcs', () => {
    const xml = renderMetadata(sample, '1.1');
    expect(xml).not.toContain('DOCTYPE');
    expect(xml).toContain('<version>1.1</version>');
    expect(xml).toContain('<parameter name="req" unique-group="req" required="1">');
    expect(xml).toContain('<content type="select" default="b">');
    expect(xml).toContain('<parameter name="mode" reloadable="1">');
    expect(xml).toContain('<deprecated><replaced-with name="n" /></deprecated>');
    expect(xml).toContain('<action name="reload-agent" timeout="10s" />');
    expect(rng(xml, '/usr/share/pcs/data/ocf-1.1.rng').code).toBe(0);
  });

  it("drbd-promote: role names of the OCF version asked for (Pacemaker 2.0's schema knows only Master/Slave)", () => {
    const v10 = metadataFor(AGENTS['drbd-promote']!, { OCF_RA_VERSION_MAJOR: '1', OCF_RA_VERSION_MINOR: '0' });
    const v11 = metadataFor(AGENTS['drbd-promote']!, { OCF_RA_VERSION_MAJOR: '1', OCF_RA_VERSION_MINOR: '1' });
    expect(v10).toMatch(/<action name="monitor" [^>]*role="Master"/);
    expect(v10).toMatch(/<action name="monitor" [^>]*role="Slave"/);
    expect(v10).not.toMatch(/Promoted|Unpromoted/);
    expect(v11).toMatch(/<action name="monitor" [^>]*role="Promoted"/);
    expect(v11).toMatch(/<action name="monitor" [^>]*role="Unpromoted"/);
    expect(v11).not.toMatch(/role="(Master|Slave)"/);
  });

  for (const [name, agent] of Object.entries(AGENTS)) {
    it(`${name}: valid against ra-api-1.dtd, metadata.rng and pcs' ocf-1.0/1.1 schemas`, () => {
      const v10 = metadataFor(agent, {});
      const v11 = metadataFor(agent, { OCF_RA_VERSION_MAJOR: '1', OCF_RA_VERSION_MINOR: '1' });
      expect(dtd(v10)).toEqual({ code: 0, err: '' });
      // resource-agents' metadata.rng (4.12) names roles the OCF 1.1 way only; the 1.0 names are what
      // Pacemaker 2.0 asks for, and the DTD and pcs's ocf-1.0.rng take both.
      expect(rng(v10.replace(/role="Master"/g, 'role="Promoted"').replace(/role="Slave"/g, 'role="Unpromoted"'), '/usr/share/resource-agents/metadata.rng').code).toBe(0);
      expect(rng(v10, '/usr/share/pcs/data/ocf-1.0.rng').code).toBe(0);
      expect(rng(v11, '/usr/share/pcs/data/ocf-1.1.rng').code).toBe(0);
      // Every action carries a timeout, every parameter a shortdesc (ocf-tester and pcs ask for both).
      for (const line of v10.split('\n').filter((l) => l.startsWith('<action '))) expect(line).toMatch(/timeout="\d+s"/);
      const params = execFileSync('xmllint', ['--xpath', 'count(//parameter)', '-'], { input: v10, encoding: 'utf8' });
      const shorts = execFileSync('xmllint', ['--xpath', 'count(//parameter/shortdesc)', '-'], { input: v10, encoding: 'utf8' });
      expect(shorts).toBe(params);
    });
  }
});
