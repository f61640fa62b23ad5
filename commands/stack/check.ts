/**
 * `ocfkit stack check`: crm_verify, every agent's validate-all with the CIB's parameters, and
 * warnings for what invites a split brain (no fencing, quorum ignored, DRBD without fencing
 * handlers or quorum) or loses clients' state on failover (NFS state kept node-local).
 */
import { DrbdAdm, generation, readProcDrbd } from '../../lib/drbd';
import { configFindings, drbdConfigFacts } from '../../lib/drbd-config';
import { type Runner, describe } from '../../lib/run';
import { type XmlElement, find, findAll, parseXml } from '../../lib/xml';
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
  out.push(...nfsStateFindings(doc));
  if (drbdconf) out.push(...(await drbdFindings(run, stack, drbdconf)));
  return out;
}

/**
 * An nfs-export that starts the server with its state on the node's own disk: after a failover
 * the new server knows none of the clients, and they lose their locks and opens ("lost 1 locks").
 */
function nfsStateFindings(doc: XmlElement): Finding[] {
  const out: Finding[] = [];
  for (const p of findAll(doc, 'primitive')) {
    if (p.attrs.provider !== 'ocfkit' || p.attrs.type !== 'nfs-export') continue;
    const attr = (name: string) => findAll(p, 'nvpair').find((n) => n.attrs.name === name)?.attrs.value;
    const manage = (attr('manage_server') ?? 'true').toLowerCase();
    if (attr('nfs_shared_infodir') || ['false', 'no', '0', 'off', 'n'].includes(manage)) continue;
    out.push({
      level: 'error',
      text: `${p.attrs.id}: no nfs_shared_infodir: the NFS server keeps its clients' state on this node, so every failover loses their locks and opens; set nfs_shared_infodir to a directory on the replicated filesystem (e.g. <directory>/.nfs-state), or manage_server=false if something else runs the server`,
    });
  }
  return out;
}

/** Fencing or quorum, and what the configuration gets wrong for the loaded module. */
async function drbdFindings(run: Runner, stack: Stack, drbdconf: string): Promise<Finding[]> {
  const out: Finding[] = [];
  const adm = new DrbdAdm(run, drbdconf);
  const proc = readProcDrbd();
  if (!proc) out.push({ level: 'warning', text: 'no DRBD module is loaded here: the handlers and auto-promote were not checked against it (run check on a cluster node)' });
  for (const s of stack.services) {
    const d = await adm.dump(s.drbd_resource);
    const facts = d.code === 0 ? drbdConfigFacts(d.stdout, s.drbd_resource) : undefined;
    if (!facts) {
      out.push({ level: 'error', text: `DRBD ${s.drbd_resource}: ${describe(d)}` });
      continue;
    }
    const fencing = facts.fencing === 'resource-and-stonith' && facts.handlers['fence-peer'] !== undefined;
    const quorum = facts.quorum !== undefined && facts.quorum !== 'off';
    if (!fencing && !quorum) {
      out.push({ level: 'warning', text: `DRBD ${s.drbd_resource} has neither fencing (fencing resource-and-stonith with a fence-peer handler) nor quorum: DRBD alone cannot stop a split brain` });
    }
    if (proc) out.push(...configFindings(facts, generation(proc.version)));
  }
  return out;
}
