/**
 * What an agent's man page and its markdown reference both say about it, worded once from the
 * declarations: the two formats cannot disagree on a default, a range or an exit code.
 */
import { OCF } from './codes';
import type { ActionMeta } from './metadata';
import type { ParamDecl } from './params';

export function shownDefault(d: ParamDecl<unknown>): string | undefined {
  if (d.required) return undefined;
  if (d.metaDefault !== undefined) return d.metaDefault === '' ? undefined : d.metaDefault;
  if (d.type === 'boolean') return d.default ? 'true' : 'false';
  const s = String(d.default);
  return s === '' ? undefined : s;
}

/** Type, then required / unique / reloadable. */
export function paramTraits(d: ParamDecl<unknown>): string[] {
  const traits = [d.type === 'string' && d.options ? 'select' : d.type];
  if (d.required) traits.push('required');
  if (d.unique) traits.push('unique');
  if (d.reloadable) traits.push('reloadable');
  return traits;
}

/** The sentences after the description: values, default, range, older names. */
export function paramNotes(d: ParamDecl<unknown>): string[] {
  const notes: string[] = [];
  if (d.options) notes.push(`Values: ${d.options.join(', ')}.`);
  const dflt = shownDefault(d);
  notes.push(dflt === undefined ? (d.required ? 'No default: it must be set.' : 'Default: empty.') : `Default: ${dflt}`);
  if (d.min !== undefined || d.max !== undefined) notes.push(`Range: ${d.min ?? '…'} to ${d.max ?? '…'}.`);
  if (d.aliases?.length) notes.push(`Also accepted under the older name ${d.aliases.join(', ')}.`);
  return notes;
}

export function actionText(a: ActionMeta): string {
  const parts = [`timeout ${a.timeout}s`];
  if (a.interval !== undefined) parts.push(`interval ${a.interval}s`);
  if (a.depth !== undefined) parts.push(`depth ${a.depth}`);
  if (a.role) parts.push(`role ${a.role}`);
  return parts.join(', ');
}

/** What each OCF exit code means for an agent; 8 and 9 only for promotable ones. */
export function exitCodes(promotable: boolean): Array<[number, string]> {
  const codes: Array<[number, string]> = [
    [OCF.SUCCESS, 'success; for monitor: running (unpromoted, for a promotable agent)'],
    [OCF.ERR_GENERIC, 'generic error; for monitor: failed (the exit reason says why)'],
    [OCF.ERR_ARGS, 'wrong arguments'],
    [OCF.ERR_UNIMPLEMENTED, 'action not implemented'],
    [OCF.ERR_PERM, 'insufficient privileges'],
    [OCF.ERR_INSTALLED, 'something this node needs is missing (a tool, a device, an interface): the resource cannot run here'],
    [OCF.ERR_CONFIGURED, 'the parameters are wrong: the resource cannot run anywhere'],
    [OCF.NOT_RUNNING, 'monitor: cleanly stopped'],
  ];
  if (promotable) codes.push([OCF.RUNNING_PROMOTED, 'monitor: running and promoted'], [OCF.FAILED_PROMOTED, 'monitor: failed while promoted']);
  return codes;
}
