import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClusterError, parseAttribute, parseLocate, promotionTool } from '../../lib/cluster';
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
