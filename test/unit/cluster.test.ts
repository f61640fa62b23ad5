import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fencingLines } from '../../commands/doctor';
import { ClusterError, PromotionScores, crmResourceHasXml, parseCrmMon, parseFenceHistory, parsePacemakerVersion, promotedOn, promotionScoreCalls } from '../../lib/cluster';
import type { RunResult, Runner } from '../../lib/run';
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

describe('Pacemaker XML output', () => {
  it('crm_mon: resources, their roles and nodes', () => {
    const xml = crmMon('Promoted');
    expect(parseCrmMon(xml)).toEqual([
      { resource: 'drbd', role: 'Promoted', nodes: ['node1'] },
      { resource: 'drbd', role: 'Unpromoted', nodes: ['node2'] },
    ]);
  });
});

/** crm_mon's XML for a promotable clone, its promoted instance's role named ROLE (2.0: Master). */
function crmMon(role: string, status = 0): string {
  return `<pacemaker-result api-version="2.3" request="crm_mon"><resources><clone id="drbd-clone" multi_state="true">
<resource id="drbd" resource_agent="ocf::ocfkit:drbd-promote" role="${role}" nodes_running_on="1"><node name="node1" id="1" cached="true"/></resource>
<resource id="drbd" resource_agent="ocf::ocfkit:drbd-promote" role="${role === 'Master' ? 'Slave' : 'Unpromoted'}" nodes_running_on="1"><node name="node2" id="2" cached="true"/></resource>
</clone></resources><status code="${status}" message="OK"/></pacemaker-result>`;
}

/** A runner answering every call with RESULT, recording the calls. */
function answering(result: Partial<RunResult>): Runner & { calls: string[][] } {
  const calls: string[][] = [];
  const r = (async (argv: readonly string[]) => {
    calls.push([...argv]);
    return { argv: [...argv], code: 0, signal: null, stdout: '', stderr: '', durationMs: 1, timedOut: false, abandoned: false, ...result } as RunResult;
  }) as Runner & { calls: string[][] };
  r.calls = calls;
  return r;
}

describe('promotion scores: what crm_master runs, on every Pacemaker from 2.0 to 3.0', () => {
  it('crm_attribute -n master-<instance> -l reboot, on this node or a named one', () => {
    const t = promotionScoreCalls('drbd-r0');
    expect(t.set(5)).toEqual(['crm_attribute', '-n', 'master-drbd-r0', '-l', 'reboot', '-v', '5']);
    expect(t.get()).toEqual(['crm_attribute', '-n', 'master-drbd-r0', '-l', 'reboot', '-G', '-q']);
    expect(t.del()).toEqual(['crm_attribute', '-n', 'master-drbd-r0', '-l', 'reboot', '-D']);
    expect(promotionScoreCalls('drbd-r0', 'node2').set(5)).toEqual(['crm_attribute', '-N', 'node2', '-n', 'master-drbd-r0', '-l', 'reboot', '-v', '5']);
    expect(() => promotionScoreCalls(undefined)).toThrow(ClusterError);
  });
  it('reads the value, none when unset (105), an error otherwise', async () => {
    expect(await new PromotionScores(answering({ stdout: '1000\n' }), promotionScoreCalls('r')).get()).toBe(1000);
    expect(await new PromotionScores(answering({ stdout: 'INFINITY\n' }), promotionScoreCalls('r')).get()).toBe(1_000_000);
    expect(await new PromotionScores(answering({ code: 105, stderr: 'Error performing operation: No such device or address' }), promotionScoreCalls('r')).get()).toBeUndefined();
    await expect(new PromotionScores(answering({ code: 102, stderr: 'Could not connect to the CIB' }), promotionScoreCalls('r')).get()).rejects.toThrow(ClusterError);
  });
});

describe('where a resource is promoted, from crm_mon', () => {
  it('under either name of the role', async () => {
    for (const role of ['Promoted', 'Master']) expect(await promotedOn(answering({ stdout: crmMon(role) }), 'drbd')).toEqual(['node1']);
    expect(await promotedOn(answering({ stdout: crmMon('Unpromoted') }), 'drbd')).toEqual([]);
  });
  it('undefined when crm_mon cannot say: a failed call, a failed status, no XML', async () => {
    expect(await promotedOn(answering({ code: 102, stdout: '' }), 'drbd')).toBeUndefined();
    expect(await promotedOn(answering({ stdout: crmMon('Promoted', 102) }), 'drbd')).toBeUndefined();
    expect(await promotedOn(answering({ stdout: 'Connection to cluster failed' }), 'drbd')).toBeUndefined();
    // crm_mon 2.1 and later when it cannot reach the CIB: exit 0, status 0, an error and no resources.
    const unreached = '<pacemaker-result api-version="2.38"><status code="0" message="OK"><errors><error>Could not connect to the CIB: No such device or address</error></errors></status></pacemaker-result>';
    expect(await promotedOn(answering({ stdout: unreached }), 'drbd')).toBeUndefined();
    // The resource not listed (2.0 reads an unreadable CIB file as an empty CIB).
    expect(await promotedOn(answering({ stdout: crmMon('Promoted') }), 'other')).toBeUndefined();
  });
  it('crm_resource writes XML from Pacemaker 2.1 on', async () => {
    expect(parsePacemakerVersion('Pacemaker 2.0.5\nWritten by Andrew Beekhof\n')).toEqual([2, 0]);
    expect(await crmResourceHasXml(answering({ stdout: 'Pacemaker 2.0.5\n' }))).toBe(false);
    expect(await crmResourceHasXml(answering({ stdout: 'Pacemaker 2.1.5\n' }))).toBe(true);
    expect(await crmResourceHasXml(answering({ stdout: 'Pacemaker 3.0.0\n' }))).toBe(true);
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
