/**
 * The one executable: it is every agent (busybox style, by the name it was called by) and the
 * `ocfkit` command. It sits above agents/ and commands/, which both build on lib/; nothing below
 * imports it.
 */
import { basename } from 'node:path';
import { AGENT_NAMES, agentNamed } from './agents';
import { FIND_HOLDERS, findHoldersCommand } from './lib/holder-search';
import { withHostname } from './lib/hostname-exec';
import { OCF } from './lib/ocf/codes';
import { runAgent } from './lib/ocf/runtime';
import { makeStdioSynchronous } from './lib/stdio';
import { RUNTIME, VERSION } from './lib/version';

function fatal(e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`${process.env.OCF_EXIT_REASON_PREFIX || 'ocf-exit-reason:'}internal error: ${msg}\n`);
  process.exit(OCF.ERR_GENERIC);
}

function ocfkitCommand(args: readonly string[]): Promise<number> | number {
  const [first, ...rest] = args;
  const agent = first ? agentNamed(first) : undefined;
  if (agent) return agent.then((a) => runAgent(a, rest));
  if (first === '--version' || first === 'version') {
    process.stdout.write(`ocfkit ${VERSION} (${RUNTIME})\n`);
    return 0;
  }
  if (first === 'with-hostname') return withHostname(rest);
  if (first === 'install-nfs-units') return (require('./lib/nfs-units') as typeof import('./lib/nfs-units')).installNfsUnits(rest);
  if (first === FIND_HOLDERS) return findHoldersCommand();
  // Loaded only here: agent start-ups never evaluate commander or the commands' code.
  if (first === 'stack' || first === 'doctor' || first === 'site') return (require('./commands/cli') as typeof import('./commands/cli')).main(args);
  if (first === 'agents') {
    process.stdout.write(`${AGENT_NAMES.join('\n')}\n`);
    return 0;
  }
  process.stderr.write(
    `usage: ocfkit <agent> <action>   (agents: ${AGENT_NAMES.join(', ')})\n       ocfkit stack plan|apply|check|simulate|booth-conf …   (ocfkit stack --help)\n       ocfkit site status|takeover|handover|rejoin …   (ocfkit site --help)\n       ocfkit doctor | --version | agents\n`,
  );
  return first === undefined || first === 'help' || first === '--help' ? 0 : OCF.ERR_ARGS;
}

/**
 * The name the executable was called by. A Bun executable keeps it in process.argv0 (argv[1] is
 * its embedded script, `/$bunfs/root/…`); under plain node or bun, argv[1] is the script.
 */
export function calledAs(): string {
  const bunfs = process.argv[1]?.startsWith('/$bunfs/');
  return basename((bunfs ? process.argv0 : process.argv[1]) ?? '');
}

export function dispatch(name: string, args: readonly string[]): Promise<number> | number {
  const agent = agentNamed(name);
  if (agent) return agent.then((a) => runAgent(a, args));
  return ocfkitCommand(args);
}

makeStdioSynchronous();
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
Promise.resolve()
  .then(() => dispatch(calledAs(), process.argv.slice(2)))
  .then((code) => process.exit(code), fatal);
