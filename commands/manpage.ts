/**
 * ocfkit(8), written from the command tree itself (commander's commands and options) and the
 * agent registry, so the page lists what the executable accepts and nothing else.
 */
import type { Command, Option } from 'commander';
import { roffArg, roffHead, roffItem, roffParagraph, roffText } from '../lib/roff';

export interface CommandPageInput {
  readonly tree: Command;
  readonly agents: readonly string[];
  readonly date: string;
  readonly version: string;
  readonly agentPages: readonly string[];
}

function optionItem(o: Option): string {
  const dflt = o.defaultValue === undefined || (Array.isArray(o.defaultValue) && o.defaultValue.length === 0) ? '' : ` (default: ${String(o.defaultValue)})`;
  return roffItem(`\\fB${roffText(o.flags)}\\fR`, roffText(`${o.description}${dflt}`));
}

function sentence(s: string): string {
  return `${s}.`;
}

function commandSection(path: string, c: Command, shared: ReadonlySet<string> = new Set()): string[] {
  const out = [`.SS ${roffArg(`${path} ${c.name()}`)}`, roffParagraph(sentence(c.description()))];
  const own = (c.options as readonly Option[]).filter((o) => !shared.has(o.flags));
  if (shared.size > 0 && own.length > 0) out.push('.PP', roffText('Its own options, besides those of every command above:'));
  for (const o of own) out.push(optionItem(o));
  return out;
}

/** Options every subcommand of a group takes (the stack description): listed once, under the group. */
function sharedOptions(subs: readonly Command[]): Option[] {
  const [first, ...rest] = subs;
  if (!first || rest.length === 0) return [];
  return (first.options as readonly Option[]).filter((o) => rest.every((c) => (c.options as readonly Option[]).some((x) => x.flags === o.flags)));
}

export function renderCommandPage(p: CommandPageInput): string {
  const out: string[] = [
    '.\\" Generated from commands/cli.ts and agents/index.ts; edit those, not this page.',
    roffHead({ name: 'ocfkit', section: 8, date: p.date, source: `ocfkit ${p.version}`, manual: 'System Administration' }),
    '.SH NAME',
    'ocfkit \\- high-availability storage agents for Pacemaker and the tools that build their stack',
    '.SH SYNOPSIS',
    '.B ocfkit',
    '.I agent action',
    '.br',
    '.B ocfkit stack',
    '.RB { plan | apply | check | simulate }',
    '.RI [ options ]',
    '.br',
    '.B ocfkit',
    '.RB { doctor | agents | \\-\\-version }',
    '.SH DESCRIPTION',
    roffParagraph(
      `One executable is every agent (${p.agents.join(', ')}): installed as /usr/lib/ocfkit/ocfkit, with one link per agent in /usr/lib/ocf/resource.d/ocfkit/, it acts as the agent it is called by. Called as ocfkit, the first argument names the agent or a command.`,
    ),
    '.SH COMMANDS',
    roffItem('\\fIagent action\\fR', roffText('Runs one OCF action of an agent, as Pacemaker would through the agent link.')),
    roffItem('\\fBagents\\fR', roffText('Lists the agents the executable carries, one a line.')),
    roffItem('\\fB\\-\\-version\\fR', roffText('Prints the version and the runtime it was built with.')),
  ];
  for (const c of p.tree.commands as readonly Command[]) {
    if (c.commands.length === 0) out.push(...commandSection('ocfkit', c));
    else {
      const subs = c.commands as readonly Command[];
      const shared = sharedOptions(subs);
      out.push(`.SS ${roffArg(`ocfkit ${c.name()}`)}`, roffParagraph(sentence(c.description())));
      if (shared.length > 0) out.push('.PP', roffText(`Options of every ocfkit ${c.name()} command:`), ...shared.map(optionItem));
      for (const sub of subs) out.push(...commandSection(`ocfkit ${c.name()}`, sub, new Set(shared.map((o) => o.flags))));
    }
  }
  out.push(
    '.SH EXIT STATUS',
    roffParagraph('As an agent: the OCF exit code of the action (see the agent pages). As a command: 0 on success, 1 when a check or a simulation found a problem or a command failed, 2 for a stack description that does not hold together or wrong arguments.'),
    '.SH FILES',
    roffItem('\\fI/usr/lib/ocfkit/ocfkit\\fR', roffText('the executable')),
    roffItem('\\fI/usr/lib/ocf/resource.d/ocfkit/\\fR', roffText('one link per agent')),
    '.SH EXAMPLES',
    '.PP',
    '.RS 4',
    '.nf',
    roffText('ocfkit stack plan --config stack.json'),
    roffText('ocfkit stack apply --config stack.json --cib cib.xml'),
    roffText('ocfkit stack check --config stack.json --cib cib.xml'),
    '.fi',
    '.RE',
    '.SH SEE ALSO',
    ...p.agentPages.map((n) => `.BR ${roffText(n)} (7),`),
    '.BR pcs (8),',
    '.BR crm_resource (8)',
    '',
  );
  return out.join('\n');
}
