/**
 * Writes the man pages into the directory given: ocf_ocfkit_<agent>.7 for every agent and
 * ocfkit.8. Bundled and run by scripts/run-ts.mjs at package time, never shipped in
 * the executable.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allAgents } from '../../agents';
import { commandTree } from '../../commands/cli';
import { renderCommandPage } from '../../commands/manpage';
import { agentPageName, renderAgentPage } from '../../lib/ocf/manpage';
import { manDate } from '../../lib/roff';
import { VERSION } from '../../lib/version';

async function main(out: string | undefined): Promise<void> {
  if (!out) throw new Error('usage: man-pages OUTDIR');
  const AGENTS = await allAgents();
  const provider = 'ocfkit';
  const date = manDate();
  mkdirSync(out, { recursive: true });
  const pages: string[] = [];
  for (const agent of Object.values(AGENTS)) {
    const name = agentPageName(provider, agent.name);
    writeFileSync(join(out, `${name}.7`), renderAgentPage({ agent, provider, ocfRoot: '/usr/lib/ocf', date, version: VERSION }));
    pages.push(name);
  }
  writeFileSync(join(out, 'ocfkit.8'), renderCommandPage({ tree: commandTree(), agents: Object.keys(AGENTS), date, version: VERSION, agentPages: pages }));
  process.stdout.write(`${[...pages.map((p) => `${p}.7`), 'ocfkit.8'].join('\n')}\n`);
}

main(process.argv[2]).catch((e: unknown) => {
  process.stderr.write(`man-pages: ${(e as Error).message}\n`);
  process.exit(1);
});
