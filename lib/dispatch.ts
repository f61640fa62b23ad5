import { basename } from 'node:path';
import { AGENTS } from '../agents';
import { OCF } from './ocf/codes';
import { runAgent } from './ocf/runtime';
import { withHostname } from './hostname-exec';
import { VERSION } from './version';

function ocfkitCommand(args: readonly string[]): Promise<number> | number {
  const [first, ...rest] = args;
  if (first && AGENTS[first]) return runAgent(AGENTS[first], rest);
  if (first === '--version' || first === 'version') {
    process.stdout.write(`ocfkit ${VERSION} (node ${process.version})\n`);
    return 0;
  }
  if (first === 'with-hostname') return withHostname(rest);
  // Loaded only here: agent start-ups never evaluate commander or the stack code.
  if (first === 'stack' || first === 'doctor') return (require('./stack/cli') as typeof import('./stack/cli')).main(args);
  if (first === 'agents') {
    process.stdout.write(`${Object.keys(AGENTS).join('\n')}\n`);
    return 0;
  }
  process.stderr.write(
    `usage: ocfkit <agent> <action>   (agents: ${Object.keys(AGENTS).join(', ')})\n       ocfkit stack plan|apply|check|simulate …   (ocfkit stack --help)\n       ocfkit --version | agents\n`,
  );
  return first === undefined || first === 'help' || first === '--help' ? 0 : OCF.ERR_ARGS;
}

/** In a single-executable build argv[1] is the name we were called by; under plain node it is the script. */
export function dispatch(argv: readonly string[]): Promise<number> | number {
  const name = basename(argv[1] ?? '');
  const agent = AGENTS[name];
  if (agent) return runAgent(agent, argv.slice(2));
  return ocfkitCommand(argv.slice(2));
}

