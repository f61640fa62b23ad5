/**
 * Writes docs/reference/<agent>.md for every agent from its declarations (`npm run docs`).
 * test/unit/docs-reference.test.ts fails when the committed files differ from what this writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allAgents } from '../agents';
import { renderAgentReference } from '../lib/ocf/reference';

async function main(out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  for (const agent of Object.values(await allAgents())) {
    const file = join(out, `${agent.name}.md`);
    writeFileSync(file, renderAgentReference(agent, 'ocfkit'));
    process.stdout.write(`${file}\n`);
  }
}

main(process.argv[2] ?? 'docs/reference').catch((e: unknown) => {
  process.stderr.write(`docs-reference: ${(e as Error).message}\n`);
  process.exit(1);
});
