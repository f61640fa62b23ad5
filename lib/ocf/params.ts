/**
 * Parameter declarations: each agent declares a parameter once, and meta-data, validate-all
 * and the typed values the actions read all come from that one declaration.
 */

export type ParamType = 'string' | 'integer' | 'boolean';

export interface ParamDecl<T> {
  readonly type: ParamType;
  readonly shortdesc: string;
  readonly longdesc: string;
  readonly required?: boolean;
  readonly unique?: boolean;
  /** Value when unset. For `required` parameters it is never used. */
  readonly default: T;
  /** Text for `<content default=…>` when it differs from `default` (e.g. "" for autodetected values). */
  readonly metaDefault?: string;
  /** Allowed values: `select` in OCF 1.1 meta-data, a checked string in 1.0. */
  readonly options?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly maxLength?: number;
  /** Returns what is wrong with a value that parsed, or undefined. */
  readonly check?: (value: T) => string | undefined;
  /** OCF 1.1: a change can be applied by `reload-agent` without a restart. */
  readonly reloadable?: boolean;
  /** Older names that are still accepted (OCF 1.1 `<deprecated>` in meta-data). */
  readonly aliases?: readonly string[];
}

// biome-ignore lint: each entry keeps its own value type; the record only constrains the shape
export type ParamDecls = Record<string, ParamDecl<any>>;

export type ParamValues<P extends ParamDecls> = {
  readonly [K in keyof P]: P[K] extends ParamDecl<infer T> ? T : never;
};

type Common<T> = Omit<ParamDecl<T>, 'type' | 'default' | 'options'>;

/** The longest value any string parameter takes; Pacemaker passes them in the environment. */
export const DEFAULT_MAX_LENGTH = 1024;

export const param = {
  string(d: Common<string> & { default?: string }): ParamDecl<string> {
    return { ...d, type: 'string', default: d.default ?? '' };
  },
  integer(d: Common<number> & { default: number }): ParamDecl<number> {
    return { ...d, type: 'integer' };
  },
  boolean(d: Common<boolean> & { default: boolean }): ParamDecl<boolean> {
    return { ...d, type: 'boolean' };
  },
  select<O extends string>(d: Common<O> & { options: readonly O[]; default: O }): ParamDecl<O> {
    return { ...d, type: 'string' };
  },
};

/** A check for path parameters: absolute, without . or .. components (a path that means what it says). */
export function checkAbsolutePath(v: string): string | undefined {
  if (!v.startsWith('/')) return 'is not an absolute path';
  return /(^|\/)\.\.?(\/|$)/.test(v) ? 'may not contain . or .. components' : undefined;
}

export interface ParamProblem {
  readonly param: string;
  readonly message: string;
}

export interface ParsedParams<P extends ParamDecls> {
  readonly values: ParamValues<P>;
  /** Names whose value came from the environment rather than the default. */
  readonly set: ReadonlySet<keyof P & string>;
  readonly problems: readonly ParamProblem[];
}

const TRUE = new Set(['1', 'true', 'yes', 'on', 'y']);
const FALSE = new Set(['0', 'false', 'no', 'off', 'n']);

export function parseBoolean(raw: string): boolean | undefined {
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return undefined;
}

/** Quotes a user value for a message, so control characters and empty strings stay visible. */
export function shown(raw: string, max = 60): string {
  const cut = raw.length > max ? `${raw.slice(0, max)}…` : raw;
  return JSON.stringify(cut);
}

function convert(decl: ParamDecl<unknown>, raw: string): { value?: unknown; problem?: string } {
  switch (decl.type) {
    case 'boolean': {
      const b = parseBoolean(raw);
      return b === undefined ? { problem: `${shown(raw)} is not a boolean (use true or false)` } : { value: b };
    }
    case 'integer': {
      const t = raw.trim();
      if (!/^[+-]?\d{1,15}$/.test(t)) return { problem: `${shown(raw)} is not an integer` };
      const n = Number(t);
      if (decl.min !== undefined && n < decl.min) return { problem: `${n} is below the minimum ${decl.min}` };
      if (decl.max !== undefined && n > decl.max) return { problem: `${n} is above the maximum ${decl.max}` };
      return { value: n };
    }
    case 'string': {
      const limit = decl.maxLength ?? DEFAULT_MAX_LENGTH;
      if (raw.length > limit) return { problem: `is ${raw.length} characters long, more than ${limit}` };
      if (/[\x00-\x1f\x7f]/.test(raw)) return { problem: `${shown(raw)} contains control characters` };
      if (decl.options && !decl.options.includes(raw)) {
        return { problem: `${shown(raw)} is not one of ${decl.options.join(', ')}` };
      }
      return { value: raw };
    }
  }
}

/** Reads `OCF_RESKEY_<name>` (or a deprecated alias) for every declared parameter. */
export function parseParams<P extends ParamDecls>(decls: P, env: NodeJS.ProcessEnv): ParsedParams<P> {
  const values: Record<string, unknown> = {};
  const set = new Set<string>();
  const problems: ParamProblem[] = [];
  for (const [name, decl] of Object.entries(decls)) {
    let raw = env[`OCF_RESKEY_${name}`];
    if (raw === undefined) {
      for (const alias of decl.aliases ?? []) {
        const a = env[`OCF_RESKEY_${alias}`];
        if (a !== undefined) {
          raw = a;
          break;
        }
      }
    }
    // An empty value means "not set": Pacemaker passes a parameter cleared with `pcs resource update x=` as "".
    if (raw === undefined || raw === '') {
      if (decl.required) problems.push({ param: name, message: 'is required but not set' });
      values[name] = decl.default;
      continue;
    }
    const { value, problem } = convert(decl, raw);
    if (problem !== undefined) {
      problems.push({ param: name, message: problem });
      values[name] = decl.default;
      continue;
    }
    const checked = decl.check?.(value);
    if (checked !== undefined) problems.push({ param: name, message: checked });
    values[name] = value;
    set.add(name);
  }
  return { values: values as ParamValues<P>, set: set as ReadonlySet<keyof P & string>, problems };
}

export function describeProblems(problems: readonly ParamProblem[]): string {
  // An unnamed problem is one across parameters (an agent's validate), worded whole.
  return problems.map((p) => (p.param ? `parameter ${p.param} ${p.message}` : p.message)).join('; ');
}

/**
 * VALUES with each parameter that PROBLEMS name back at its default: what a stop can act on when
 * the configuration no longer validates (a check tightened since the start).
 */
export function withDefaultsFor<P extends ParamDecls>(decls: P, values: ParamValues<P>, problems: readonly ParamProblem[]): ParamValues<P> {
  const out: Record<string, unknown> = { ...values };
  for (const p of problems) if (Object.hasOwn(decls, p.param)) out[p.param] = decls[p.param]!.default;
  return out as ParamValues<P>;
}
