/**
 * The one binary: it is every agent (busybox style, by the name it was called by) and the
 * `ocfkit` command. Nothing here may read the environment at load time: a V8 startup snapshot
 * freezes load-time state into the binary at build time.
 */
import * as v8 from 'node:v8';
import { dispatch } from './dispatch';
import { OCF } from './ocf/codes';

function fatal(e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`${process.env.OCF_EXIT_REASON_PREFIX || 'ocf-exit-reason:'}internal error: ${msg}\n`);
  process.exit(OCF.ERR_GENERIC);
}

function main(): void {
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  Promise.resolve()
    .then(() => dispatch(process.argv))
    .then((code) => process.exit(code), fatal);
}

if (v8.startupSnapshot?.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(main);
else main();
