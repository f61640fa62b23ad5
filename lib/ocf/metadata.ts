import type { ParamDecl, ParamDecls } from './params';

/** One `<action>` line of the meta-data. Timeouts and intervals are in seconds. */
export interface ActionMeta {
  readonly timeout: number;
  readonly interval?: number;
  readonly depth?: number;
  readonly role?: 'Promoted' | 'Unpromoted';
}

export interface MetadataInput {
  readonly name: string;
  readonly version: string;
  readonly shortdesc: string;
  readonly longdesc: string;
  readonly params: ParamDecls;
  readonly actions: ReadonlyArray<readonly [string, ActionMeta]>;
}

/** The OCF API level the meta-data is written for. */
export type OcfApi = '1.0' | '1.1';

/**
 * Pacemaker ≥ 2.1 advertises OCF 1.1 through OCF_RA_VERSION_MAJOR/MINOR; ocf-tester and older
 * managers advertise nothing, and they validate against the 1.0 DTD.
 */
export function ocfApiFor(env: NodeJS.ProcessEnv): OcfApi {
  const major = Number(env.OCF_RA_VERSION_MAJOR ?? '');
  const minor = Number(env.OCF_RA_VERSION_MINOR ?? '');
  if (major > 1 || (major === 1 && minor >= 1)) return '1.1';
  return '1.0';
}

export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '&apos;',
  );
}

function contentDefault(decl: ParamDecl<unknown>): string {
  if (decl.metaDefault !== undefined) return decl.metaDefault;
  if (decl.required) return '';
  if (decl.type === 'boolean') return decl.default ? 'true' : 'false';
  return String(decl.default);
}

function content(decl: ParamDecl<unknown>, api: OcfApi): string {
  const dflt = contentDefault(decl);
  const attr = dflt === '' ? '' : ` default="${xmlEscape(dflt)}"`;
  if (api === '1.1' && decl.options) {
    const opts = decl.options.map((o) => `  <option value="${xmlEscape(o)}" />`).join('\n');
    return `<content type="select"${attr}>\n${opts}\n</content>`;
  }
  return `<content type="${decl.type}"${attr} />`;
}

function longdesc(decl: ParamDecl<unknown>, api: OcfApi): string {
  // The 1.0 DTD has no select type: the allowed values go into the text instead.
  if (api === '1.0' && decl.options) return `${decl.longdesc} Allowed values: ${decl.options.join(', ')}.`;
  return decl.longdesc;
}

function parameter(name: string, decl: ParamDecl<unknown>, api: OcfApi, deprecatedFor?: string): string {
  const attrs = [`name="${xmlEscape(name)}"`];
  if (decl.unique && !deprecatedFor) attrs.push(api === '1.1' ? `unique-group="${xmlEscape(name)}"` : 'unique="1"');
  if (decl.required && !deprecatedFor) attrs.push('required="1"');
  if (api === '1.1' && decl.reloadable) attrs.push('reloadable="1"');
  const dep =
    deprecatedFor && api === '1.1' ? `<deprecated><replaced-with name="${xmlEscape(deprecatedFor)}" /></deprecated>\n` : '';
  const short = deprecatedFor ? `Deprecated: use ${deprecatedFor}` : decl.shortdesc;
  return [
    `<parameter ${attrs.join(' ')}>`,
    `${dep}<longdesc lang="en">\n${xmlEscape(longdesc(decl, api))}\n</longdesc>`,
    `<shortdesc lang="en">${xmlEscape(short)}</shortdesc>`,
    content(decl, api),
    '</parameter>',
  ].join('\n');
}

/**
 * Role names as each OCF version has them. pcs copies an action's role into the CIB as it stands,
 * and Pacemaker 2.0's schema (pacemaker-3.5 and older) knows only Master and Slave: Pacemaker 2.0
 * asks for 1.0, 2.1 and later for 1.1.
 */
const ROLE_1_0: Readonly<Record<NonNullable<ActionMeta['role']>, string>> = { Promoted: 'Master', Unpromoted: 'Slave' };

function action(name: string, a: ActionMeta, api: OcfApi): string {
  const attrs = [`name="${name}"`, `timeout="${a.timeout}s"`];
  if (a.interval !== undefined) attrs.push(`interval="${a.interval}s"`);
  if (a.depth !== undefined) attrs.push(`depth="${a.depth}"`);
  if (a.role) attrs.push(`role="${api === '1.0' ? ROLE_1_0[a.role] : a.role}"`);
  return `<action ${attrs.join(' ')} />`;
}

/** Actions that exist only in OCF 1.1 and are left out of 1.0 meta-data (the DTD rejects them). */
const ONLY_1_1 = new Set(['reload-agent']);

export function renderMetadata(m: MetadataInput, api: OcfApi): string {
  const params: string[] = [];
  for (const [name, decl] of Object.entries(m.params)) {
    params.push(parameter(name, decl, api));
    for (const alias of decl.aliases ?? []) params.push(parameter(alias, decl, api, name));
  }
  const actions = m.actions.filter(([n]) => api === '1.1' || !ONLY_1_1.has(n)).map(([n, a]) => action(n, a, api));
  return [
    '<?xml version="1.0"?>',
    ...(api === '1.0' ? ['<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">'] : []),
    `<resource-agent name="${xmlEscape(m.name)}" version="${xmlEscape(m.version)}">`,
    `<version>${api}</version>`,
    `<longdesc lang="en">\n${xmlEscape(m.longdesc)}\n</longdesc>`,
    `<shortdesc lang="en">${xmlEscape(m.shortdesc)}</shortdesc>`,
    '<parameters>',
    ...params,
    '</parameters>',
    '<actions>',
    ...actions,
    '</actions>',
    '</resource-agent>',
    '',
  ].join('\n');
}
