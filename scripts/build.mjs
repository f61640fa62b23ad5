#!/usr/bin/env node
// Builds dist/ocfkit: one Bun standalone executable holding every agent and the ocfkit command,
// and one symlink per agent beside it. Bun comes from the pinned @oven/bun-linux-x64-baseline
// package (npm registry): the registry's baseline and modern x64 packages carry the same bytes
// (1.4.4 and 1.4.5), and that binary runs on a CPU without AVX2. A host build uses that bun
// itself, so nothing is downloaded. Bun 1.4.4, not 1.4.5: 1.4.5 starts with 11 MiB more RSS.
//   OCFKIT_BUNDLER=esbuild|bun   who makes the bundle (esbuild ships: docs/design.md#the-runtime)
//   OCFKIT_BYTECODE=0            no precompiled bytecode (for measuring only)
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// OCFKIT_DIST=dir OCFKIT_VERSION=x.y.z: the package test builds the newer version of an upgrade.
const dist = process.env.OCFKIT_DIST || join(root, 'dist');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const require = createRequire(import.meta.url);
const bundler = process.env.OCFKIT_BUNDLER || 'esbuild';
const bytecode = process.env.OCFKIT_BYTECODE !== '0';
const bun = join(dirname(require.resolve('@oven/bun-linux-x64-baseline/package.json')), 'bin', 'bun');
const define = { __OCFKIT_VERSION__: JSON.stringify(pkg.version) };

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
if (process.env.OCFKIT_VERSION) define.__OCFKIT_VERSION__ = JSON.stringify(process.env.OCFKIT_VERSION);

const bundle = join(dist, 'ocfkit.cjs');
if (bundler === 'esbuild') {
  await esbuild.build({
    entryPoints: [join(root, 'ocfkit.ts')],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    outfile: bundle,
    define,
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
}

const out = join(dist, 'ocfkit');
execFileSync(
  bun,
  [
    'build',
    '--compile',
    ...(bytecode ? ['--bytecode'] : []),
    '--format=cjs',
    '--target=bun',
    // The executable runs as root under Pacemaker, in whatever directory it is started from:
    // it must never read bunfig.toml (preload = arbitrary code), .env (parameters), tsconfig.json
    // or package.json from there.
    '--no-compile-autoload-bunfig',
    '--no-compile-autoload-dotenv',
    '--no-compile-autoload-tsconfig',
    '--no-compile-autoload-package-json',
    ...(bundler === 'bun' ? ['--minify-syntax', '--minify-whitespace', ...Object.entries(define).map(([k, v]) => `--define=${k}=${v}`)] : []),
    bundler === 'bun' ? join(root, 'ocfkit.ts') : bundle,
    '--outfile',
    out,
  ],
  // Bun would read the project's bunfig.toml for the build itself; there is none, and HOME's is not ours.
  { stdio: ['ignore', 'ignore', 'inherit'], cwd: dist, env: { ...process.env, BUN_INSTALL_CACHE_DIR: join(dist, '.bun-cache') } },
);
rmSync(join(dist, '.bun-cache'), { recursive: true, force: true });
chmodSync(out, 0o755);

const agents = execFileSync(out, ['agents'], { encoding: 'utf8' }).trim().split('\n');
for (const a of agents) symlinkSync('ocfkit', join(dist, a));
const version = execFileSync(out, ['--version'], { encoding: 'utf8' }).trim();
console.log(`built ${out} (${version}; ${bundler} bundle${bytecode ? ', bytecode' : ''}); agents: ${agents.join(', ')}`);
