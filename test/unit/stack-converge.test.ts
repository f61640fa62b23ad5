/** `ocfkit stack apply`'s difference: the cluster's CIB against the plan's own, and what it leaves alone. */
import { describe, expect, it } from 'vitest';
import { canonical, converge, renderDifference, versionOf } from '../../commands/stack/converge';
import { type Ownership, markPlan, serviceOwner } from '../../commands/stack/ownership';
import { parseXml, renderXml } from '../../lib/xml';

const ip = (addr: string) => `<primitive id="nfs-ip" class="ocf" provider="ocfkit" type="vip">
  <instance_attributes id="nfs-ip-instance_attributes"><nvpair id="nfs-ip-instance_attributes-ip" name="ip" value="${addr}"/></instance_attributes>
  <operations><op name="monitor" interval="10s" id="nfs-ip-monitor-interval-10s"/></operations></primitive>`;
const clone = `<clone id="nfs-drbd-clone"><primitive id="nfs-drbd" class="ocf" provider="ocfkit" type="drbd-promote"/>
  <meta_attributes id="nfs-drbd-clone-meta_attributes"><nvpair id="nfs-drbd-clone-meta_attributes-promotable" name="promotable" value="true"/></meta_attributes></clone>`;
const order = '<rsc_order first="nfs-drbd-clone" then="nfs-ip" first-action="promote" then-action="start" id="order-nfs-drbd-clone-nfs-ip-mandatory"/>';

/** The plan's own CIB, as its pcs steps leave an empty one. */
const planCib = (addr = '192.0.2.10', stop = 'stop') => parseXml(`<cib validate-with="pacemaker-3.9" epoch="9" num_updates="0" admin_epoch="0"><configuration>
  <crm_config><cluster_property_set id="cib-bootstrap-options">
    <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="true"/>
    <nvpair id="cib-bootstrap-options-no-quorum-policy" name="no-quorum-policy" value="${stop}"/></cluster_property_set></crm_config>
  <nodes/><resources>${clone}${ip(addr)}</resources><constraints>${order}</constraints>
  <rsc_defaults><meta_attributes id="rsc_defaults-meta_attributes"><nvpair id="rsc_defaults-meta_attributes-resource-stickiness" name="resource-stickiness" value="100"/></meta_attributes></rsc_defaults>
</configuration><status/></cib>`);

/** A live cluster's CIB: Pacemaker's own properties, the operator's resource, a DRBD fence-peer constraint, status. */
const cluster = (resources = '', constraints = '', props = '') => parseXml(`<cib validate-with="pacemaker-3.9" epoch="41" num_updates="7" admin_epoch="0" have-quorum="1"><configuration>
  <crm_config><cluster_property_set id="cib-bootstrap-options">
    <nvpair id="cib-bootstrap-options-dc-version" name="dc-version" value="2.1.5"/>
    <nvpair id="cib-bootstrap-options-last-lrm-refresh" name="last-lrm-refresh" value="1765100000"/>${props}</cluster_property_set></crm_config>
  <nodes><node id="1" uname="node1"/></nodes>
  <resources><primitive id="operators-own" class="ocf" provider="heartbeat" type="Dummy"/>${resources}</resources>
  <constraints><rsc_location rsc="nfs-drbd-clone" id="drbd-fence-by-handler-r0-nfs-drbd-clone"><rule role="Promoted" score="-INFINITY" id="drbd-fence-by-handler-r0-rule-nfs-drbd-clone"><expression attribute="#uname" operation="ne" value="node1" id="drbd-fence-by-handler-r0-expr-nfs-drbd-clone"/></rule></rsc_location>${constraints}</constraints>
</configuration><status><node_state id="1" uname="node1"><lrm id="1"><lrm_resources><lrm_resource id="nfs-ip" type="vip" class="ocf" provider="ocfkit"/></lrm_resources></lrm></node_state></status></cib>`);

const applied = () => converge(cluster(), planCib()).target;
const ids = (xml: string) => [...xml.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);

describe('stack apply: the difference', () => {
  it("onto a cluster without the stack: every object of the plan created, in one change (epoch one up); Pacemaker's properties, the operator's resource, the fence-peer constraint and the status kept", () => {
    const before = cluster();
    const d = converge(before, planCib());
    expect(d.clashes).toEqual([]);
    expect(d.changes.map((c) => `${c.kind} ${c.what}`)).toEqual([
      'create property stonith-enabled',
      'create property no-quorum-policy',
      'create resource nfs-drbd-clone',
      'create resource nfs-ip',
      'create constraint order-nfs-drbd-clone-nfs-ip-mandatory',
      'create resource default resource-stickiness',
    ]);
    expect(versionOf(d.target)).toBe('0:42:0');
    const xml = renderXml(d.target);
    for (const kept of ['operators-own', 'drbd-fence-by-handler-r0-nfs-drbd-clone', 'cib-bootstrap-options-last-lrm-refresh', 'cib-bootstrap-options-dc-version']) expect(ids(xml)).toContain(kept);
    expect(xml).toContain('<lrm_resource id="nfs-ip"');
    // The properties go into the cluster's own set, beside Pacemaker's.
    expect(d.target.children[0]!.children[0]!.children[0]!.children.map((n) => n.attrs.name)).toEqual(['dc-version', 'last-lrm-refresh', 'stonith-enabled', 'no-quorum-policy']);
    // The input is not changed.
    expect(versionOf(before)).toBe('0:41:7');
    expect(renderXml(before)).not.toContain('nfs-ip-instance_attributes');
  });

  it('the same plan again: nothing to change, the CIB as it was (version unchanged)', () => {
    const now = applied();
    const d = converge(now, planCib());
    expect(d.changes).toEqual([]);
    expect(d.same).toBe(6);
    expect(canonical(d.target)).toBe(canonical(now));
    expect(renderDifference(d)).toEqual([]);
  });

  it('one flag changed (the address): only that resource, with the parameter that differs', () => {
    const d = converge(applied(), planCib('192.0.2.11'));
    expect(d.changes).toEqual([{ kind: 'change', what: 'resource nfs-ip', detail: ['~ ip=192.0.2.11 (was 192.0.2.10)'] }]);
    expect(d.same).toBe(5);
    expect(renderDifference(d)).toEqual(['change resource nfs-ip', '         ~ ip=192.0.2.11 (was 192.0.2.10)']);
    expect(renderXml(d.target)).toContain('value="192.0.2.11"');
  });

  it('a property changed by hand is set back in its own nvpair; a property the plan does not set stays', () => {
    const hand = cluster(clone + ip('192.0.2.10'), order, '<nvpair id="my-nqp" name="no-quorum-policy" value="ignore"/><nvpair id="my-se" name="stonith-enabled" value="true"/>');
    const d = converge(hand, planCib());
    expect(d.changes.map((c) => [c.what, ...c.detail])).toEqual([['property no-quorum-policy', '~ no-quorum-policy=stop (was ignore)'], ['resource default resource-stickiness']]);
    const xml = renderXml(d.target);
    expect(xml).toContain('<nvpair id="my-nqp" name="no-quorum-policy" value="stop"/>');
    expect(xml.match(/name="no-quorum-policy"/g)).toHaveLength(1);
  });

  it('parts added to and removed from an object are named', () => {
    const without = planCib();
    const prim = without.children[0]!.children[2]!.children[1]!;
    prim.children.push(parseXml('<meta_attributes id="nfs-ip-meta_attributes"><nvpair id="nfs-ip-meta_attributes-failure-timeout" name="failure-timeout" value="60s"/></meta_attributes>'));
    prim.children.splice(1, 1);
    expect(converge(applied(), without).changes).toEqual([{
      kind: 'change', what: 'resource nfs-ip',
      detail: ['+ meta_attributes nfs-ip-meta_attributes', '+ failure-timeout=60s', '- op nfs-ip-monitor-interval-10s'],
    }]);
  });

  it("an id of the plan held by an object that is not the plan's: left alone, said, and nothing of the plan applied", () => {
    // The operator's own primitive is called what the plan's clone holds.
    const d = converge(cluster('<primitive id="nfs-drbd" class="ocf" provider="linbit" type="drbd"/>'), planCib());
    expect(d.clashes).toEqual([{ id: 'nfs-drbd', theirs: 'primitive nfs-drbd in resources', ours: 'clone nfs-drbd-clone' }]);
    expect(renderDifference(d)).toContain("left alone: primitive nfs-drbd in resources is not the plan's, but the plan's clone nfs-drbd-clone needs the id nfs-drbd");
    expect(versionOf(d.target)).toBe('0:41:7');
    // A constraint with a resource's id clashes too.
    const c = converge(cluster('', '<rsc_location id="nfs-ip" rsc="operators-own" node="node1" score="10"/>'), planCib());
    expect(c.clashes.map((x) => x.theirs)).toEqual(['rsc_location nfs-ip in constraints']);
  });

  it('a schema newer in the plan (pcs moved it for what it wrote) goes with the change; an empty section of the plan adds nothing', () => {
    const p = planCib();
    (p.attrs as Record<string, string>)['validate-with'] = 'pacemaker-3.10';
    p.children[0]!.children.push(parseXml('<tags/>'));
    const d = converge(cluster(), p);
    expect(d.target.attrs['validate-with']).toBe('pacemaker-3.10');
    expect(d.changes.at(-1)).toEqual({ kind: 'change', what: 'schema', detail: ['~ validate-with=pacemaker-3.10 (was pacemaker-3.9)'] });
    expect(renderXml(d.target)).not.toContain('<tags');
    expect(converge(d.target, p).changes).toEqual([]);
  });
});

describe('renderXml', () => {
  it('what parseXml reads back is the same tree; attribute values escaped', () => {
    const x = parseXml('<a q="x &amp; &quot;y&quot; &lt;z&gt;" r="two&#10;lines&#9;"><b/><c id="1">t &amp; u</c><!-- gone --></a>');
    const again = parseXml(renderXml(x));
    expect(canonical(again)).toBe(canonical(x));
    expect(renderXml(x)).toBe('<a q="x &amp; &quot;y&quot; &lt;z&gt;" r="two&#10;lines&#9;">\n  <b/>\n  <c id="1">t &amp; u</c>\n</a>');
  });
});

describe("stack apply: the operator's controls on the plan's resources", () => {
  it('a resource the operator disabled (target-role=Stopped), unmanaged or tuned stays so; the rest of it is made as planned', () => {
    const disabled = ip('192.0.2.10').replace('</operations>', '</operations><meta_attributes id="nfs-ip-meta_attributes"><nvpair id="nfs-ip-meta_attributes-target-role" name="target-role" value="Stopped"/></meta_attributes>');
    const unmanaged = clone.replace('</meta_attributes>', '<nvpair id="nfs-drbd-clone-meta_attributes-is-managed" name="is-managed" value="false"/><nvpair id="nfs-drbd-clone-meta_attributes-migration-threshold" name="migration-threshold" value="3"/></meta_attributes>');
    const now = cluster(unmanaged + disabled, order, '<nvpair id="se" name="stonith-enabled" value="true"/><nvpair id="nqp" name="no-quorum-policy" value="stop"/>');
    (now.children[0]!.children as unknown[]).push(planCib().children[0]!.children.find((c) => c.name === 'rsc_defaults'));
    expect(converge(now, planCib()).changes).toEqual([]);
    const d = converge(now, planCib('192.0.2.11'));
    expect(d.changes).toEqual([{ kind: 'change', what: 'resource nfs-ip', detail: ['~ ip=192.0.2.11 (was 192.0.2.10)'] }]);
    const xml = renderXml(d.target);
    expect(xml).toContain('<nvpair id="nfs-ip-meta_attributes-target-role" name="target-role" value="Stopped"/>');
    expect(xml).toContain('name="is-managed" value="false"');
    // The operator's own tuning (pcs resource meta … migration-threshold=3) stays too.
    expect(xml).toContain('name="migration-threshold" value="3"');
  });
});

describe('stack apply: what an earlier apply made and the plan no longer names', () => {
  const fs = '<primitive id="nfs-fs" class="ocf" provider="ocfkit" type="fs-mount"/>';
  const fsFirst = '<rsc_colocation id="colocation-nfs-fs-nfs-drbd-clone-INFINITY" rsc="nfs-fs" with-rsc="nfs-drbd-clone" score="INFINITY" rsc-role="Started" with-rsc-role="Promoted"/>';
  const ticket = '<rsc_ticket id="nfs-ticket" ticket="ticket-nfs" rsc="nfs-drbd-clone" rsc-role="Promoted" loss-policy="demote"/>';
  /** The plan's CIB of one service "nfs", with or without its address and ticket. */
  const planOf = (o: { ip?: boolean; ticket?: boolean } = {}) => {
    const p = planCib();
    const conf = p.children[0]!;
    const res = conf.children.find((c) => c.name === 'resources')!;
    const cons = conf.children.find((c) => c.name === 'constraints')!;
    res.children.push(parseXml(fs));
    cons.children.push(parseXml(fsFirst));
    if (o.ticket) cons.children.push(parseXml(ticket));
    if (o.ip === false) {
      res.children.splice(res.children.findIndex((c) => c.attrs.id === 'nfs-ip'), 1);
      cons.children.splice(cons.children.findIndex((c) => c.attrs.id === 'order-nfs-drbd-clone-nfs-ip-mandatory'), 1);
    }
    return markPlan(p, new Map([['nfs-drbd-clone', serviceOwner('nfs')], ['nfs-fs', serviceOwner('nfs')], ['nfs-ip', serviceOwner('nfs')]]));
  };
  const own = (o: { services?: string[]; remove?: string[]; running?: string[] } = {}): Ownership => ({
    ownerOf: new Map(),
    services: new Set(o.services ?? ['nfs']),
    removeServices: new Set(o.remove ?? []),
    active: (ids) => ids.some((i) => (o.running ?? []).includes(i)),
  });
  const kinds = (d: { changes: readonly { kind: string; what: string }[] }) => d.changes.map((c) => `${c.kind} ${c.what}`);
  /** An applied stack, with the operator's location preference for the address (pcs resource move) and a fence-peer constraint. */
  const appliedWith = (p = planOf({ ticket: true })) => {
    const t = converge(cluster('', '<rsc_location id="cli-prefer-nfs-ip" rsc="nfs-ip" node="node1" score="INFINITY"/><rsc_location id="operators-pin" rsc="nfs-fs" node="node1" score="50"/>'), p, own()).target;
    return t;
  };

  it('the record: each resource its owner, each constraint on the resource it names first; applying it again changes nothing', () => {
    const xml = renderXml(planOf({ ticket: true }));
    expect(xml).toContain('name="ocfkit-owner" value="service nfs"');
    expect(xml).toContain('name="ocfkit-constraints" value="order-nfs-drbd-clone-nfs-ip-mandatory nfs-ticket"');
    expect(xml).toContain('<nvpair id="nfs-fs-meta_attributes-ocfkit-constraints" name="ocfkit-constraints" value="colocation-nfs-fs-nfs-drbd-clone-INFINITY"/>');
    expect(converge(appliedWith(), planOf({ ticket: true }), own()).changes).toEqual([]);
  });

  it('a resource dropped from the plan, stopped: removed with every constraint naming it (the operator\'s move too); the rest left', () => {
    const d = converge(appliedWith(), planOf({ ip: false, ticket: true }), own());
    expect(kinds(d)).toEqual(['change resource nfs-drbd-clone', 'remove resource nfs-ip', 'remove constraint cli-prefer-nfs-ip', 'remove constraint order-nfs-drbd-clone-nfs-ip-mandatory']);
    const xml = renderXml(d.target);
    for (const kept of ['operators-pin', 'drbd-fence-by-handler-r0-nfs-drbd-clone', 'operators-own', 'nfs-ticket']) expect(ids(xml)).toContain(kept);
    expect(xml).not.toContain('<primitive id="nfs-ip"');
    expect(d.pending).toEqual([]);
    expect(converge(d.target, planOf({ ip: false, ticket: true }), own()).changes).toEqual([]);
  });

  it('a resource dropped from the plan that runs: stopped first (target-role), its constraints kept for the stop order; removed by the next change once stopped', () => {
    const d = converge(appliedWith(), planOf({ ip: false, ticket: true }), own({ running: ['nfs-ip'] }));
    expect(kinds(d)).toEqual(['change resource nfs-drbd-clone', 'stop resource nfs-ip']);
    expect(d.pending).toEqual(['nfs-ip']);
    const xml = renderXml(d.target);
    expect(xml).toMatch(/<primitive id="nfs-ip"[\s\S]*name="target-role" value="Stopped"/);
    expect(ids(xml)).toContain('order-nfs-drbd-clone-nfs-ip-mandatory');
    expect(renderDifference(d)).toContain('stop   resource nfs-ip');
    // Still running after the stop was asked: nothing more to change, still pending.
    const again = converge(d.target, planOf({ ip: false, ticket: true }), own({ running: ['nfs-ip'] }));
    expect(again.changes).toEqual([]);
    expect(again.pending).toEqual(['nfs-ip']);
    // Stopped: removed.
    expect(kinds(converge(d.target, planOf({ ip: false, ticket: true }), own()))).toEqual(['remove resource nfs-ip', 'remove constraint cli-prefer-nfs-ip', 'remove constraint order-nfs-drbd-clone-nfs-ip-mandatory']);
  });

  it('a constraint the plan no longer makes goes (booth to manual: the ticket); one without the record stays', () => {
    const d = converge(appliedWith(), planOf(), own());
    expect(kinds(d)).toEqual(['change resource nfs-drbd-clone', 'remove constraint nfs-ticket']);
    expect(ids(renderXml(d.target))).toContain('operators-pin');
  });

  it('a service no longer in the configuration: left, and said, unless the operator names it', () => {
    const d = converge(appliedWith(), planOf({ ticket: true }), own({ services: [] }));
    expect(d.changes).toEqual([]);
    // Its objects are still the plan's by id: nothing to remove without the operator's word.
    const other = converge(appliedWith(), parseXml('<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0"><configuration><resources/></configuration></cib>'), own({ services: [] }));
    expect(other.changes).toEqual([]);
    expect(other.left).toEqual(['service nfs']);
    expect(renderDifference(other)).toContain('left alone: service nfs is not in the configuration; its resources stay as they are (apply --remove-service nfs stops and removes them)');
    const named = converge(appliedWith(), parseXml('<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0"><configuration><resources/></configuration></cib>'), own({ services: [], remove: ['nfs'], running: ['nfs-drbd'] }));
    // The address and the mount do not run: removed now, with every constraint naming them (one naming the clone too).
    expect(kinds(named)).toEqual(['stop resource nfs-drbd-clone', 'remove resource nfs-ip', 'remove resource nfs-fs', 'remove constraint cli-prefer-nfs-ip', 'remove constraint operators-pin', 'remove constraint order-nfs-drbd-clone-nfs-ip-mandatory', 'remove constraint colocation-nfs-fs-nfs-drbd-clone-INFINITY']);
    // The clone still runs: the constraints naming only it stay until it has stopped.
    expect(ids(renderXml(named.target))).toEqual(expect.arrayContaining(['nfs-ticket', 'drbd-fence-by-handler-r0-nfs-drbd-clone']));
  });

  it('resources without the record (the operator\'s, or made before the record existed) are never removed', () => {
    const d = converge(cluster(clone + ip('192.0.2.10'), order), planOf({ ip: false }), own());
    expect(kinds(d).filter((k) => k.startsWith('remove') || k.startsWith('stop'))).toEqual([]);
    expect(ids(renderXml(d.target))).toContain('nfs-ip');
  });
});
