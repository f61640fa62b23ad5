import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fencingLines } from '../../commands/doctor';
import { ClusterError, parseAttribute, parseFenceHistory, parseLocate, promotionTool } from '../../lib/cluster';
import { XmlError, decodeEntities, findAll, parseXml } from '../../lib/xml';

const sample = (f: string) => readFileSync(join(__dirname, '..', 'samples', 'pacemaker', f), 'utf8');

describe('xml reader', () => {
  it('elements, attributes, text and entities', () => {
    const doc = parseXml('<?xml version="1.0"?>\n<!-- c --><a x="1 &amp; 2" y=\'q\'><b>t&lt;u&#62;&#x41;</b><b/></a>');
    expect(doc.attrs).toEqual({ x: '1 & 2', y: 'q' });
    expect(findAll(doc, 'b').map((b) => b.text)).toEqual(['t<u>A', '']);
    expect(decodeEntities('&quot;&apos;')).toBe(`"'`);
  });
  it('refuses broken documents', () => {
    for (const bad of ['<a><b></a>', '<a>', 'text', '<a/><b/>', '<a/>tail']) expect(() => parseXml(bad), bad).toThrow(XmlError);
  });
});

describe('Pacemaker XML output (captured from Pacemaker 2.1.5)', () => {
  it('crm_resource --locate: nodes and the promoted one', () => {
    expect(parseLocate(sample('locate-promoted.xml'))).toEqual([
      { node: 'node2', promoted: false },
      { node: 'node1', promoted: true },
    ]);
    expect(parseLocate(sample('locate-unpromoted.xml')).some((p) => p.promoted)).toBe(false);
  });
  it('crm_attribute -G: the value, none when unset, an error otherwise', () => {
    expect(parseAttribute(sample('attribute-get.xml'))).toBe('1000');
    expect(parseAttribute(sample('attribute-missing.xml'))).toBeUndefined();
    expect(() => parseAttribute('<pacemaker-result><status code="102" message="Not connected"/></pacemaker-result>')).toThrow(ClusterError);
  });
  it('uses crm_attribute --promotion unless only crm_master can do it', () => {
    const has = (list: string[]) => (b: string) => list.includes(b);
    expect(promotionTool({}, has(['crm_attribute'])).set(5)).toEqual(['crm_attribute', '--promotion', '-v', '5']);
    expect(promotionTool({ OCF_RESKEY_crm_feature_set: '3.16.2' }, has(['crm_attribute', 'crm_master'])).get()).toContain('--output-as=xml');
    expect(promotionTool({ OCF_RESKEY_crm_feature_set: '3.0.14' }, has(['crm_attribute', 'crm_master'])).set(5)[0]).toBe('crm_master');
  });
});

describe("the fencer's history (crm_mon --exclude=all --include=fencing, captured from Pacemaker 2.1.5)", () => {
  // One reboot under way, one that timed out in its device, one no device could do.
  const events = parseFenceHistory(sample('fencing-pending-failed.xml'));
  it('reads each event: what, whom, how it ended, who asked', () => {
    expect(events.map((e) => e.status)).toEqual(['pending', 'failed', 'failed']);
    expect(events[1]).toEqual({ action: 'reboot', target: 'ghost', status: 'failed', client: 'stonith_admin.3459', origin: 'sitea', delegate: 'sitea', completed: '2026-12-06 08:27:39Z', reason: 'Fence agent did not complete within 30s' });
    expect(events[2]).not.toHaveProperty('reason');
    expect(() => parseFenceHistory('<pacemaker-result><status code="102" message="Not connected"/></pacemaker-result>')).toThrow(/Not connected/);
  });
  it('doctor: a line for each failed or pending one, then what to do; one line when there are none', () => {
    const lines = fencingLines(events);
    expect(lines[0]).toBe('  FENCING PENDING: reboot of ghost, asked by stonith_admin.3650 on sitea');
    expect(lines[1]).toBe('  FENCING FAILED: reboot of ghost at 2026-12-06 08:27:39Z, asked by stonith_admin.3459 on sitea, the device on sitea: Fence agent did not complete within 30s');
    expect(lines[2]).toMatch(/^ {2}FENCING FAILED: reboot of ghost at 2026-12-06 08:26:54Z, .*: no reason given \(as when no device can fence it\)$/);
    expect(lines[3]).toMatch(/stonith_admin --confirm NODE` only for a node known to be off/);
    expect(fencingLines([])).toEqual(['  no failed or pending fencing']);
    expect(fencingLines([{ ...events[1]!, status: 'success' }])).toEqual(['  no failed or pending fencing']);
  });
});
