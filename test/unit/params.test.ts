import { describe, expect, it } from 'vitest';
import { describeProblems, param, parseBoolean, parseParams, withDefaultsFor } from '../../lib/ocf/params';

const decls = {
  name: param.string({ required: true, shortdesc: 's', longdesc: 'l', check: (v) => (v.includes('/') ? 'has a slash' : undefined) }),
  count: param.integer({ default: 5, min: 0, max: 10, shortdesc: 's', longdesc: 'l' }),
  flag: param.boolean({ default: false, shortdesc: 's', longdesc: 'l' }),
  mode: param.select({ default: 'safe', options: ['true', 'safe', 'false'] as const, shortdesc: 's', longdesc: 'l' }),
  renamed: param.string({ default: 'x', aliases: ['old_name'], shortdesc: 's', longdesc: 'l' }),
};

const env = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [`OCF_RESKEY_${k}`, v]));

describe('parseParams', () => {
  it('reads typed values and fills defaults', () => {
    const p = parseParams(decls, env({ name: 'a', count: '7', flag: 'yes' }));
    expect(p.problems).toEqual([]);
    expect(p.values).toEqual({ name: 'a', count: 7, flag: true, mode: 'safe', renamed: 'x' });
    expect([...p.set].sort()).toEqual(['count', 'flag', 'name']);
  });

  it('reports a missing required parameter, and treats an empty value as unset', () => {
    expect(parseParams(decls, {}).problems).toEqual([{ param: 'name', message: 'is required but not set' }]);
    expect(parseParams(decls, env({ name: '' })).problems[0]?.param).toBe('name');
    expect(parseParams(decls, env({ name: 'a', count: '' })).values.count).toBe(5);
  });

  it.each([
    ['count', '1.5', 'is not an integer'],
    ['count', '11', 'above the maximum 10'],
    ['count', '-1', 'below the minimum 0'],
    ['count', '5; rm -rf /', 'is not an integer'],
    ['count', '99999999999999999999', 'is not an integer'],
    ['flag', 'maybe', 'is not a boolean'],
    ['mode', 'force', 'is not one of true, safe, false'],
    ['name', 'a/b', 'has a slash'],
    ['name', 'a\nb', 'control characters'],
    ['name', 'x'.repeat(2000), 'more than 1024'],
  ])('rejects %s=%j', (k, v, msg) => {
    const p = parseParams(decls, env({ name: 'ok', [k]: v }));
    expect(p.problems).toHaveLength(1);
    expect(p.problems[0]!.param).toBe(k);
    expect(p.problems[0]!.message).toContain(msg);
  });

  it('accepts a deprecated alias', () => {
    expect(parseParams(decls, env({ name: 'a', old_name: 'legacy' })).values.renamed).toBe('legacy');
    expect(parseParams(decls, env({ name: 'a', old_name: 'legacy', renamed: 'new' })).values.renamed).toBe('new');
  });

  it('parses booleans like the shell library, strictly', () => {
    for (const t of ['1', 'true', 'YES', 'on', 'y']) expect(parseBoolean(t)).toBe(true);
    for (const f of ['0', 'false', 'No', 'off', 'n']) expect(parseBoolean(f)).toBe(false);
    expect(parseBoolean('ja')).toBeUndefined();
  });

  it('joins problems into one exit reason', () => {
    expect(describeProblems([{ param: 'a', message: 'is bad' }, { param: 'b', message: 'is worse' }])).toBe('parameter a is bad; parameter b is worse');
  });
});

describe('withDefaultsFor', () => {
  it('puts the parameters with problems back at their defaults and keeps the rest', () => {
    const p = parseParams(decls, env({ name: 'a/b', count: '11', mode: 'true' }));
    expect(withDefaultsFor(decls, p.values, p.problems.filter((x) => x.param !== 'name'))).toEqual({ name: 'a/b', count: 5, flag: false, mode: 'true', renamed: 'x' });
    expect(withDefaultsFor(decls, p.values, [{ param: '', message: 'across parameters' }])).toEqual(p.values);
  });

  it('describeProblems words an unnamed problem (one across parameters) whole', () => {
    expect(describeProblems([{ param: 'count', message: 'is not an integer' }, { param: '', message: 'fstype=none needs options=bind' }])).toBe('parameter count is not an integer; fstype=none needs options=bind');
  });
});
