/** Replaced at build time from package.json. */
declare const __OCFKIT_VERSION__: string | undefined;
export const VERSION: string = typeof __OCFKIT_VERSION__ === 'string' ? __OCFKIT_VERSION__ : '0.0.0-dev';

/** The runtime this process runs on, for `--version` and bug reports. */
export const RUNTIME: string = process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.version}`;
