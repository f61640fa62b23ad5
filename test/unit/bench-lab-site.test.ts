import { describe, expect, it } from 'vitest';
import { timingsLine } from '../../bench/lab-site';

describe('bench lab-site', () => {
  it("finds the site test's timings line behind vitest's colour codes", () => {
    const out = 'RUN v4\n\x1b[22m\x1b[39msite timings: {"a":{"b":1}}\n ✓ lab test/lab/site.test.ts\n';
    expect(timingsLine(out)).toBe('site timings: {"a":{"b":1}}');
    expect(timingsLine('nothing here\n')).toBeUndefined();
  });
});
