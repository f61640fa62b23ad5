#!/usr/bin/env node
// Bundles a TypeScript entry (agents, commands and their writers) for Node and runs it with the
// remaining arguments: the man pages (scripts/package/man-pages.ts) and the agents' markdown
// reference (scripts/docs-reference.ts) come from the same declarations as the executable.
// Usage: run-ts.mjs ENTRY.ts [ARGS...]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: run-ts.mjs ENTRY.ts [ARGS...]\n');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'ocfkit-run-ts-'));
try {
  const bundle = join(tmp, `${basename(entry, '.ts')}.cjs`);
  await esbuild.build({
    entryPoints: [resolve(entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    define: { __OCFKIT_VERSION__: JSON.stringify(process.env.OCFKIT_VERSION || pkg.version) },
    logLevel: 'warning',
  });
  execFileSync(process.execPath, [bundle, ...args], { stdio: 'inherit' });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
