/**
 * What differs between a cluster's configuration and a plan's, and the configuration with the
 * plan's part made as planned. The plan's part is what its pcs steps build in an empty CIB (the
 * plan's own CIB): every top-level object they create, by id (resources, constraints and ticket
 * constraints, any other section of objects), and every name they set in a section of name/value
 * sets (cluster properties, resource and operation defaults). Nothing else in the cluster's
 * configuration is touched: the operator's own resources and constraints, a DRBD fence-peer
 * constraint, the properties Pacemaker and other tools set (last-lrm-refresh, dc-version …).
 */
import type { XmlElement } from '../../lib/xml';
import { CONSTRAINTS, OWNER, type Ownership, STACK_OWNER, allIds, constraintResources, metaOf, serviceOwner, setMeta, unusedId } from './ownership';

/** Sections of name/value sets: the plan owns the names it sets, never the sets themselves. */
const SET_SECTIONS: Readonly<Record<string, string>> = { crm_config: 'property', rsc_defaults: 'resource default', op_defaults: 'operation default' };
/** Sections the plan has no part in even if its pcs wrote there. */
const NOT_OWNED = new Set(['nodes']);

export interface Change {
  /** stop: a resource to remove that still runs; it is stopped first (target-role), removed once stopped. */
  readonly kind: 'create' | 'change' | 'stop' | 'remove';
  /** "resource nfs-ip", "constraint order-…", "property no-quorum-policy". */
  readonly what: string;
  /** For a change: what inside it differs, one line each. */
  readonly detail: readonly string[];
}

/** An object that is not the plan's, in the way of one that is: left alone, and the plan not applied. */
export interface Clash {
  readonly id: string;
  readonly theirs: string;
  readonly ours: string;
}

export interface Difference {
  readonly changes: readonly Change[];
  readonly clashes: readonly Clash[];
  /** How many of the plan's objects are already as planned. */
  readonly same: number;
  /** Resources to remove that run: stopped by this change, removed by the next once stopped. */
  readonly pending: readonly string[];
  /** Owners (services no longer configured) whose objects are left where they are. */
  readonly left: readonly string[];
  /** The cluster's configuration with the changes made (epoch one higher when there are any). */
  readonly target: XmlElement;
}

const clone = (e: XmlElement): XmlElement => ({ name: e.name, attrs: { ...e.attrs }, children: e.children.map(clone), text: e.text });

/** Attribute order and whitespace do not count; the order of children does. */
export function canonical(e: XmlElement): string {
  const attrs = Object.keys(e.attrs).sort().map((k) => `${k}=${JSON.stringify(e.attrs[k])}`).join(' ');
  return `<${e.name} ${attrs}>${e.text.trim()}${e.children.map(canonical).join('')}</${e.name}>`;
}

const KIND: Readonly<Record<string, string>> = { resources: 'resource', constraints: 'constraint' };
const kindOf = (section: string) => KIND[section] ?? section;

function walk(e: XmlElement, visit: (e: XmlElement, parent: XmlElement) => void): void {
  for (const c of e.children) {
    visit(c, e);
    walk(c, visit);
  }
}

/** Every element with an id below `e`, each with its attributes only (its children count as their own). */
function byId(e: XmlElement): Map<string, XmlElement> {
  const out = new Map<string, XmlElement>();
  if (e.attrs.id !== undefined) out.set(e.attrs.id, e);
  walk(e, (c) => {
    if (c.attrs.id !== undefined) out.set(c.attrs.id, c);
  });
  return out;
}

const holdsIds = (e: XmlElement): boolean => e.attrs.id !== undefined || e.children.some(holdsIds);
/** An element without its parts that have ids of their own (they are compared on their own). */
const shallow = (e: XmlElement) => canonical({ ...e, children: e.children.filter((c) => !holdsIds(c)) });
const label = (e: XmlElement) => (e.name === 'nvpair' ? `${e.attrs.name}=${e.attrs.value ?? ''}` : `${e.name} ${e.attrs.id}`);

/** What differs inside one object: its parts by id, added, removed or changed. */
function details(was: XmlElement, now: XmlElement): string[] {
  const [a, b] = [byId(was), byId(now)];
  const out: string[] = [];
  for (const [id, e] of b) {
    const old = a.get(id);
    if (!old) out.push(`+ ${label(e)}`);
    else if (shallow(old) !== shallow(e)) out.push(e.name === 'nvpair' && old.name === 'nvpair' ? `~ ${e.attrs.name}=${e.attrs.value ?? ''} (was ${old.attrs.value ?? ''})` : `~ ${label(e)}`);
  }
  for (const [id, e] of a) if (!b.has(id)) out.push(`- ${label(e)}`);
  return out;
}

/**
 * The plan's object with the meta attributes that `mine` (the cluster's) carries and the plan does
 * not set: the operator's. Those that stop, unmanage or freeze a resource (`pcs resource disable`,
 * `unmanage`, maintenance) are the state it is in, and applying the plan again must not start a
 * resource the operator stopped; the others (`pcs resource meta … migration-threshold=3`) are the
 * operator's tuning, which the plan has no word on. What the plan sets, it sets.
 */
function withControls(mine: XmlElement, planned: XmlElement): XmlElement {
  const out = clone(planned);
  const parts = byId(out);
  for (const [, el] of byId(mine)) {
    for (const set of el.children.filter((c) => c.name === 'meta_attributes' && !c.children.some((x) => x.name === 'rule'))) {
      const owner = parts.get(el.attrs.id!);
      if (!owner) continue;
      for (const nv of set.children.filter((c) => c.name === 'nvpair')) {
        const sets = owner.children.filter((c) => c.name === 'meta_attributes');
        if (sets.some((x) => x.children.some((c) => c.name === 'nvpair' && c.attrs.name === nv.attrs.name))) continue;
        let into = sets.find((x) => x.attrs.id === set.attrs.id);
        if (!into) {
          if (parts.has(set.attrs.id!)) continue;
          into = { name: 'meta_attributes', attrs: { id: set.attrs.id! }, children: [], text: '' };
          owner.children.push(into);
          parts.set(set.attrs.id!, into);
        }
        if (!parts.has(nv.attrs.id!)) {
          into.children.push(clone(nv));
          parts.set(nv.attrs.id!, nv);
        }
      }
    }
  }
  return out;
}

/** Where each id of the configuration is: its element and the top-level object it is part of. */
function idIndex(conf: XmlElement): Map<string, { el: XmlElement; top: XmlElement; section: string }> {
  const out = new Map<string, { el: XmlElement; top: XmlElement; section: string }>();
  for (const section of conf.children) {
    for (const top of section.children) {
      for (const [id, el] of byId(top)) if (!out.has(id)) out.set(id, { el, top, section: section.name });
    }
  }
  return out;
}

function child(parent: XmlElement, name: string): XmlElement {
  let c = parent.children.find((x) => x.name === name);
  if (!c) {
    c = { name, attrs: {}, children: [], text: '' };
    parent.children.push(c);
  }
  return c;
}

function schemaNumber(v: string | undefined): number[] | undefined {
  const m = /^pacemaker-(\d+)\.(\d+)$/.exec(v ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * The difference between the cluster's CIB (`current`) and the plan's own (`plan`), and the
 * cluster's CIB with the plan's part as planned. `current` is not modified.
 */
export function converge(current: XmlElement, plan: XmlElement, own?: Ownership): Difference {
  const target = clone(current);
  const conf = child(target, 'configuration');
  const planConf = plan.children.find((c) => c.name === 'configuration');
  const ids = idIndex(conf);
  const changes: Change[] = [];
  const clashes: Clash[] = [];
  let same = 0;
  for (const section of planConf?.children ?? []) {
    if (NOT_OWNED.has(section.name)) continue;
    // Made only when something goes into it: an empty section is no change.
    const found = conf.children.find((c) => c.name === section.name);
    const here: XmlElement = found ?? { name: section.name, attrs: {}, children: [], text: '' };
    const made = () => {
      if (!conf.children.includes(here)) conf.children.push(here);
    };
    const setKind = SET_SECTIONS[section.name];
    if (setKind) {
      for (const set of section.children) {
        for (const nv of set.children.filter((c) => c.name === 'nvpair')) {
          const name = nv.attrs.name!;
          const value = nv.attrs.value ?? '';
          // A set with a rule applies only sometimes: the plan's value goes to the unconditional ones.
          const sets = here.children.filter((s) => s.name === set.name && !s.children.some((c) => c.name === 'rule'));
          const have = sets.flatMap((s) => s.children.filter((c) => c.name === 'nvpair' && c.attrs.name === name));
          const what = `${setKind} ${name}`;
          if (have.length > 0 && have.every((f) => f.attrs.value === value)) {
            same++;
          } else if (have.length > 0) {
            changes.push({ kind: 'change', what, detail: [`~ ${name}=${value} (was ${have.map((f) => f.attrs.value ?? '').join(', ')})`] });
            for (const f of have) (f.attrs as Record<string, string>).value = value;
          } else {
            let into = sets.find((s) => s.attrs.id === set.attrs.id) ?? sets[0];
            if (!into) {
              into = { name: set.name, attrs: { ...set.attrs, id: unusedId(set.attrs.id!, ids) }, children: [], text: '' };
              ids.set(into.attrs.id!, { el: into, top: into, section: section.name });
              here.children.push(into);
              made();
            }
            const id = unusedId(`${into.attrs.id}-${name}`, ids);
            const added: XmlElement = { name: 'nvpair', attrs: { id, name, value }, children: [], text: '' };
            ids.set(id, { el: added, top: into, section: section.name });
            into.children.push(added);
            changes.push({ kind: 'create', what, detail: [] });
          }
        }
      }
      continue;
    }
    for (const obj of section.children) {
      const id = obj.attrs.id;
      if (id === undefined) continue;
      const what = `${kindOf(section.name)} ${id}`;
      const at = here.children.findIndex((c) => c.name === obj.name && c.attrs.id === id);
      const mine = at >= 0 ? here.children[at] : undefined;
      // Each id the object holds must be free, or be part of the same object already there.
      const theirs = [...byId(obj).keys()].flatMap((x) => {
        const where = ids.get(x);
        return where && where.top !== mine ? [{ id: x, theirs: `${where.el.name} ${x} in ${where.section}${where.top !== where.el ? ` (part of ${where.top.name} ${where.top.attrs.id})` : ''}`, ours: `${obj.name} ${id}` }] : [];
      });
      if (theirs.length > 0) {
        clashes.push(...theirs);
      } else if (!mine) {
        here.children.push(clone(obj));
        made();
        changes.push({ kind: 'create', what, detail: [] });
      } else {
        const planned = withControls(mine, obj);
        if (canonical(mine) === canonical(planned)) same++;
        else {
          here.children[at] = planned;
          changes.push({ kind: 'change', what, detail: details(mine, planned) });
        }
      }
    }
  }
  const removed = own ? removeUnplanned(current, conf, planConf, own, ids) : { changes: [], pending: [], left: [] };
  changes.push(...removed.changes);
  // pcs may have moved the plan's CIB to a newer schema for what it wrote (Promoted roles on an old one).
  const [have, want] = [schemaNumber(target.attrs['validate-with']), schemaNumber(plan.attrs['validate-with'])];
  if (have && want && (want[0]! > have[0]! || (want[0] === have[0] && want[1]! > have[1]!)) && changes.length > 0) {
    (target.attrs as Record<string, string>)['validate-with'] = plan.attrs['validate-with']!;
    changes.push({ kind: 'change', what: 'schema', detail: [`~ validate-with=${plan.attrs['validate-with']} (was ${current.attrs['validate-with']})`] });
  }
  if (changes.length > 0 && clashes.length === 0) {
    const t = target.attrs as Record<string, string>;
    t.epoch = String(Number(current.attrs.epoch ?? 0) + 1);
    t.num_updates = '0';
  }
  return { changes, clashes, same, pending: removed.pending, left: removed.left, target };
}

/**
 * What an earlier apply made (ownership.ts) and this plan no longer names, taken out of `conf` (the
 * target's): resources of this configuration's services and of the stack, stopped first where they
 * run (their constraints stay until then, so the stop keeps its order); the constraints recorded
 * for them; and every constraint naming a removed resource, as `pcs resource delete` takes them.
 * A service no longer in the configuration is left unless the operator named it.
 */
function removeUnplanned(current: XmlElement, conf: XmlElement, planConf: XmlElement | undefined, own: Ownership, ids: Map<string, unknown>): { changes: Change[]; pending: string[]; left: string[] } {
  const planned = new Set<string>();
  for (const section of planConf?.children ?? []) for (const o of section.children) if (o.attrs.id !== undefined) planned.add(o.attrs.id);
  const owners = new Set([STACK_OWNER, ...[...own.services, ...own.removeServices].map(serviceOwner)]);
  const changes: Change[] = [];
  const pending: string[] = [];
  const left = new Set<string>();
  const gone = new Set<string>();
  const stopping = new Set<string>();
  const recorded = new Set<string>();
  // The record as it was before this change: the target holds the plan's, for the objects it keeps.
  const before = current.children.find((c) => c.name === 'configuration')?.children.find((c) => c.name === 'resources');
  for (const r of before?.children ?? []) {
    const owner = metaOf(r, OWNER);
    if (owner !== undefined && owners.has(owner)) for (const id of (metaOf(r, CONSTRAINTS) ?? '').split(/\s+/)) if (id) recorded.add(id);
  }
  const resources = conf.children.find((c) => c.name === 'resources');
  for (const r of [...(resources?.children ?? [])]) {
    const id = r.attrs.id;
    const owner = metaOf(r, OWNER);
    if (id === undefined || owner === undefined || planned.has(id)) continue;
    if (!owners.has(owner)) {
      left.add(owner);
      continue;
    }
    const parts = [...allIds(r)];
    if (own.active(parts)) {
      for (const p of parts) stopping.add(p);
      pending.push(id);
      if (metaOf(r, 'target-role') !== 'Stopped') {
        setMeta(r, 'target-role', 'Stopped', ids);
        changes.push({ kind: 'stop', what: `resource ${id}`, detail: ['runs: stopped first (target-role=Stopped), in the order its constraints give; removed once stopped'] });
      }
      continue;
    }
    resources!.children.splice(resources!.children.indexOf(r), 1);
    for (const p of parts) gone.add(p);
    changes.push({ kind: 'remove', what: `resource ${id}`, detail: [] });
  }
  const constraints = conf.children.find((c) => c.name === 'constraints');
  for (const c of [...(constraints?.children ?? [])]) {
    const names = constraintResources(c);
    if (c.attrs.id === undefined) continue;
    // A reference to a removed resource would not validate; one to a resource still stopping orders its stop.
    const named = names.some((n) => gone.has(n));
    if (named || (!names.some((n) => stopping.has(n)) && recorded.has(c.attrs.id) && !planned.has(c.attrs.id))) {
      constraints!.children.splice(constraints!.children.indexOf(c), 1);
      changes.push({ kind: 'remove', what: `constraint ${c.attrs.id}`, detail: [] });
    }
  }
  return { changes, pending, left: [...left] };
}

/** admin_epoch:epoch:num_updates, as crm_mon and the CIB's logs write a version. */
export const versionOf = (cib: XmlElement) => `${cib.attrs.admin_epoch ?? 0}:${cib.attrs.epoch ?? 0}:${cib.attrs.num_updates ?? 0}`;

/** The difference for people: one line per object created or changed, with what changed inside. */
export function renderDifference(d: Difference): string[] {
  const out: string[] = [];
  for (const c of d.changes) {
    out.push(`${c.kind.padEnd(7)}${c.what}`);
    for (const line of c.detail) out.push(`         ${line}`);
  }
  for (const owner of d.left) {
    const name = owner.replace(/^service /, '');
    out.push(`left alone: ${owner} is not in the configuration; its resources stay as they are (apply --remove-service ${name} stops and removes them)`);
  }
  for (const c of d.clashes) out.push(`left alone: ${c.theirs} is not the plan's, but the plan's ${c.ours} needs the id ${c.id}`);
  return out;
}
