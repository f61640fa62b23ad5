/**
 * Which objects of a cluster's configuration an earlier apply made, so that an apply can remove
 * those its plan no longer names. The record is on the plan's resources themselves, as meta
 * attributes Pacemaker ignores: `ocfkit-owner` (the service, or the stack's own objects: fencing,
 * booth) and `ocfkit-constraints` (the ids of the plan's constraints that name this resource
 * first). Not a <tag>: pcs refuses to delete a resource a tag names, and leaves a removed
 * constraint's reference behind. A resource deleted by hand (pcs resource delete) takes its record
 * with it; constraints and resources without a record (the operator's, a fence-peer constraint,
 * `pcs resource move`'s) are never removed.
 */
import type { XmlElement } from '../../lib/xml';

export const OWNER = 'ocfkit-owner';
export const CONSTRAINTS = 'ocfkit-constraints';
/** The owner of the stack's own objects (fencing devices, booth); never a service name (they are lower case). */
export const STACK_OWNER = 'Stack';

export const serviceOwner = (name: string) => `service ${name}`;

export interface Ownership {
  /** The owner of each top-level resource id the plan makes: serviceOwner(name), else STACK_OWNER. */
  readonly ownerOf: ReadonlyMap<string, string>;
  /** Services of this configuration: what their earlier applies made and the plan no longer names goes. */
  readonly services: ReadonlySet<string>;
  /** Services not in the configuration any more whose objects go too (named by the operator). */
  readonly removeServices: ReadonlySet<string>;
  /** Whether any instance of the resource (or a part of it) runs (crm_mon); a CIB file: never. */
  readonly active: (ids: readonly string[]) => boolean;
}

/** The resources a constraint names, in its order (rsc, with-rsc, first, then, or its sets' refs). */
export function constraintResources(c: XmlElement): string[] {
  const out: string[] = [];
  for (const a of ['rsc', 'first', 'with-rsc', 'then']) if (c.attrs[a]) out.push(c.attrs[a]!);
  for (const set of c.children.filter((x) => x.name === 'resource_set')) for (const r of set.children.filter((x) => x.name === 'resource_ref')) if (r.attrs.id) out.push(r.attrs.id);
  return out;
}

/** The value of a meta attribute of a top-level resource (its unconditional sets). */
export function metaOf(r: XmlElement, name: string): string | undefined {
  for (const set of r.children.filter((c) => c.name === 'meta_attributes' && !c.children.some((x) => x.name === 'rule'))) {
    const nv = set.children.find((c) => c.name === 'nvpair' && c.attrs.name === name);
    if (nv) return nv.attrs.value ?? '';
  }
  return undefined;
}

/** WANT, or WANT-1, WANT-2 … : the first id not taken. */
export function unusedId(want: string, taken: { has(id: string): boolean }): string {
  if (!taken.has(want)) return want;
  for (let i = 1; ; i++) if (!taken.has(`${want}-${i}`)) return `${want}-${i}`;
}

/** Sets a meta attribute of a top-level resource, in its first unconditional set (made when it has none). */
export function setMeta(r: XmlElement, name: string, value: string, taken: { has(id: string): boolean }): void {
  let set = r.children.find((c) => c.name === 'meta_attributes' && !c.children.some((x) => x.name === 'rule'));
  if (!set) {
    set = { name: 'meta_attributes', attrs: { id: unusedId(`${r.attrs.id}-meta_attributes`, taken) }, children: [], text: '' };
    // Before the children Pacemaker's schema puts after meta_attributes (operations, utilization …).
    const at = r.children.findIndex((c) => c.name !== 'instance_attributes');
    r.children.splice(at < 0 ? r.children.length : at, 0, set);
  }
  const nv = set.children.find((c) => c.name === 'nvpair' && c.attrs.name === name);
  if (nv) (nv.attrs as Record<string, string>).value = value;
  else set.children.push({ name: 'nvpair', attrs: { id: unusedId(`${set.attrs.id}-${name}`, taken), name, value }, children: [], text: '' });
}

/** Every id in `e` and below it, into `into`. */
export function allIds(e: XmlElement, into = new Set<string>()): Set<string> {
  if (e.attrs.id !== undefined) into.add(e.attrs.id);
  for (const c of e.children) allIds(c, into);
  return into;
}

/**
 * The plan's own CIB with the record on each of its resources. A constraint is recorded on the
 * top-level resource it names first (for a clone's primitive: the clone).
 */
export function markPlan(plan: XmlElement, ownerOf: ReadonlyMap<string, string>): XmlElement {
  const conf = plan.children.find((c) => c.name === 'configuration');
  const resources = conf?.children.find((c) => c.name === 'resources');
  if (!conf || !resources) return plan;
  const ids = allIds(plan);
  const topOf = new Map<string, XmlElement>();
  for (const top of resources.children) for (const id of allIds(top)) topOf.set(id, top);
  const listed = new Map<XmlElement, string[]>();
  for (const c of conf.children.find((x) => x.name === 'constraints')?.children ?? []) {
    const top = constraintResources(c).map((id) => topOf.get(id)).find((t) => t !== undefined);
    if (top && c.attrs.id) listed.set(top, [...(listed.get(top) ?? []), c.attrs.id]);
  }
  for (const top of resources.children) {
    if (!top.attrs.id) continue;
    const add = (name: string, value: string) => {
      setMeta(top, name, value, ids);
      allIds(top, ids);
    };
    add(OWNER, ownerOf.get(top.attrs.id) ?? STACK_OWNER);
    const cs = listed.get(top);
    if (cs) add(CONSTRAINTS, cs.join(' '));
  }
  return plan;
}
