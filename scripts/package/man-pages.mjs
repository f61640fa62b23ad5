#!/usr/bin/env node
// Bundles scripts/package/man-pages.ts (agents, commands and the page writers) for Node and runs
// it: the pages come from the same declarations as the executable. Usage: man-pages.mjs OUTDIR
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'ocfkit-man-'));
try {
  const bundle = join(tmp, 'man-pages.cjs');
  await esbuild.build({
    entryPoints: [join(root, 'scripts/package/man-pages.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    define: { __OCFKIT_VERSION__: JSON.stringify(process.env.OCFKIT_VERSION || pkg.version) },
    logLevel: 'warning',
  });
  execFileSync(process.execPath, [bundle, process.argv[2] ?? join(root, 'dist', 'man')], { stdio: 'inherit' });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
