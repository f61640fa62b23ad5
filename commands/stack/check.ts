/**
 * `ocfkit stack check`: crm_verify, every agent's validate-all with the CIB's parameters, and
 * warnings for what invites a split brain (no fencing, quorum ignored, DRBD without fencing
 * handlers or quorum).
 */
import { type Runner, describe } from '../../lib/run';
import { find, findAll, parseXml } from '../../lib/xml';
import type { Stack } from './model';

export interface Finding {
  readonly level: 'error' | 'warning';
  readonly text: string;
}

export async function check(run: Runner, stack: Stack, cib: string, drbdconf?: string): Promise<Finding[]> {
  const out: Finding[] = [];
  const env = { CIB_file: cib };
  const verify = await run(['crm_verify', '-x', cib, '-V'], { timeoutMs: 60_000 });
  if (verify.code !== 0) out.push({ level: 'error', text: `crm_verify: ${(verify.stderr || verify.stdout).trim().split('\n').join(' / ')}` });
  const doc = parseXml((await run(['cibadmin', '-Q'], { timeoutMs: 30_000, env })).stdout || '<cib/>');
  for (const p of findAll(doc, 'primitive')) {
    if (p.attrs.class !== 'ocf' || p.attrs.provider !== 'ocfkit') continue;
    const r = await run(['crm_resource', '--validate', '-r', p.attrs.id ?? '', '--output-as=xml'], { timeoutMs: 60_000, env });
    if (r.code !== 0) {
      let reason = describe(r);
      try {
        reason = find(parseXml(r.stdout), 'agent-status')?.attrs.reason || reason;
      } catch {
        // not XML: keep what the command said
      }
      out.push({ level: 'error', text: `${p.attrs.id}: validate-all failed: ${reason}` });
    }
  }
  const prop = (name: string) => findAll(doc, 'nvpair').find((n) => n.attrs.name === name)?.attrs.value;
  const stonith = findAll(doc, 'primitive').filter((p) => p.attrs.class === 'stonith');
  if (prop('stonith-enabled') === 'false' || stonith.length === 0) {
    out.push({ level: 'warning', text: 'no fencing: a node that stops answering is assumed dead; if it still runs, both nodes serve the same data (split brain)' });
  }
  if (prop('no-quorum-policy') === 'ignore') out.push({ level: 'warning', text: 'no-quorum-policy=ignore: a partitioned node keeps running resources; use stop with corosync two_node' });
  if (drbdconf) {
    for (const s of stack.services) {
      const d = await run(['drbdadm', '-c', drbdconf, 'dump', s.drbd_resource], { timeoutMs: 30_000 });
      if (d.code !== 0) {
        out.push({ level: 'error', text: `drbdadm dump ${s.drbd_resource}: ${describe(d)}` });
        continue;
      }
      const fencing = /fencing\s+resource-and-stonith/.test(d.stdout) && /fence-peer\s+/.test(d.stdout);
      const quorum = /quorum\s+(majority|all|\d+)/.test(d.stdout);
      if (!fencing && !quorum) {
        out.push({ level: 'warning', text: `DRBD ${s.drbd_resource} has neither fencing (fencing resource-and-stonith with a fence-peer handler) nor quorum: DRBD alone cannot stop a split brain` });
      }
    }
  }
  return out;
}
