/**
 * ocf_<provider>_<agent>(7), the page resource-agents ships per agent, written from the same
 * declarations as the meta-data: parameters, actions and their timeouts cannot disagree with
 * what the agent prints for Pacemaker. Never imported by the agents' start-up path.
 */
import type { AnyAgent } from './agent';
import { actionText, exitCodes, paramNotes, paramTraits } from './agent-facts';
import type { ParamDecl } from './params';
import { actionList } from './runtime';
import { type ManHead, roffExample, roffHead, roffItem, roffParagraph, roffText } from '../roff';

export interface AgentPageInput {
  readonly agent: AnyAgent;
  readonly provider: string;
  /** Where the agent is installed: the SYNOPSIS path. */
  readonly ocfRoot: string;
  readonly date: string;
  readonly version: string;
}

export function agentPageName(provider: string, agent: string): string {
  return `ocf_${provider}_${agent}`;
}

function paramItem(name: string, d: ParamDecl<unknown>): string {
  const lines = [roffParagraph(`${d.shortdesc}. ${d.longdesc}`)];
  for (const n of paramNotes(d)) lines.push('.br', roffText(n));
  return roffItem(`\\fB${roffText(name)}\\fR (${paramTraits(d).join(', ')})`, lines.join('\n'));
}

export function renderAgentPage(p: AgentPageInput): string {
  const { agent, provider } = p;
  const page = agentPageName(provider, agent.name);
  const path = `${p.ocfRoot}/resource.d/${provider}/${agent.name}`;
  const actions = actionList(agent);
  const promotable = 'promote' in agent.actions;
  const head: ManHead = { name: page, section: 7, date: p.date, source: `ocfkit ${p.version}`, manual: 'OCF resource agents' };
  const out: string[] = [
    `.\\" Generated from the declarations in agents/${agent.name}.ts; edit those, not this page.`,
    roffHead(head),
    '.SH NAME',
    `${roffText(page)} \\- ${roffText(agent.shortdesc)}`,
    '.SH SYNOPSIS',
    `.B ${roffText(path)}`,
    '.I action',
    '.PP',
    roffText(`where action is one of ${[...new Set(actions.map(([n]) => n))].join(', ')}.`),
    `Resource type \\fBocf:${roffText(provider)}:${roffText(agent.name)}\\fR; parameters arrive as \\fBOCF_RESKEY_\\fR\\fIname\\fR environment variables.`,
    '.SH DESCRIPTION',
    roffParagraph(agent.longdesc),
    '.SH PARAMETERS',
  ];
  for (const [name, d] of Object.entries(agent.params)) out.push(paramItem(name, d as ParamDecl<unknown>));
  out.push('.SH ACTIONS', 'Timeouts and intervals are the defaults the meta-data advertises; an operation\'s own timeout replaces them.');
  for (const [name, a] of actions) out.push(roffItem(`\\fB${roffText(name)}\\fR`, roffText(actionText(a))));
  out.push('.SH EXIT STATUS');
  for (const [code, text] of exitCodes(promotable)) out.push(roffItem(`\\fB${code}\\fR`, roffText(text)));
  out.push('.PP', 'Every failure also prints one \\fBocf\\-exit\\-reason:\\fR line on standard error; \\fBpcs status\\fR shows it.');
  if (agent.examples?.length) {
    out.push('.SH EXAMPLES');
    for (const e of agent.examples) out.push('.PP', roffParagraph(e.why), roffExample(e.lines));
  }
  out.push(
    '.SH SEE ALSO',
    '.BR ocfkit (8),',
    '.BR pcs (8),',
    '.BR crm_resource (8),',
    '.BR ocf\\-tester (8)',
    '',
  );
  return out.join('\n');
}
