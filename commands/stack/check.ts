/**
 * `ocfkit stack check`: crm_verify, every agent's validate-all with the CIB's parameters, and
 * warnings for what invites a split brain (no fencing, quorum ignored, DRBD without fencing
 * handlers or quorum) or loses clients' state on failover (NFS state kept node-local). At a
 * site, also what makes a takeover by the other site unsafe.
 */
import { DrbdAdm, generation, readProcDrbd } from '../../lib/drbd';
import { configFindings, drbdConfigFacts } from '../../lib/drbd-config';
import { crmResourceHasXml } from '../../lib/cluster';
import { type RunResult, type Runner, describe } from '../../lib/run';
import { type XmlElement, find, findAll, parseXml } from '../../lib/xml';
import { type Stack, ids } from './model';

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
  // The exit code is the agent's; the reason comes from the XML where crm_resource writes it (2.1 on).
  const xml = await crmResourceHasXml(run);
  for (const p of findAll(doc, 'primitive')) {
    if (p.attrs.class !== 'ocf' || p.attrs.provider !== 'ocfkit') continue;
    // 2.0 prints the agent's stderr (its exit reason among it) only with -V.
    const r = await run(['crm_resource', '--validate', '-r', p.attrs.id ?? '', ...(xml ? ['--output-as=xml'] : ['-V'])], { timeoutMs: 60_000, env });
    if (r.code !== 0) out.push({ level: 'error', text: `${p.attrs.id}: validate-all failed: ${validateReason(r, xml)}` });
  }
  const prop = (name: string) => findAll(doc, 'nvpair').find((n) => n.attrs.name === name)?.attrs.value;
  const stonith = findAll(doc, 'primitive').filter((p) => p.attrs.class === 'stonith');
  if (prop('stonith-enabled') === 'false' || stonith.length === 0) {
    out.push({ level: 'warning', text: 'no fencing: a node that stops answering is assumed dead; if it still runs, both nodes serve the same data (split brain)' });
  }
  if (stack.site) out.push(...ticketFindings(doc, stack));
  if (prop('no-quorum-policy') === 'ignore') out.push({ level: 'warning', text: 'no-quorum-policy=ignore: a partitioned node keeps running resources; use stop with corosync two_node' });
  out.push(...nfsStateFindings(doc));
  if (drbdconf) out.push(...(await drbdFindings(run, stack, drbdconf)));
  if (stack.site) out.push(...(await serviceUnitFindings(run)));
  out.push(...applicationFindings(doc, stack));
  out.push(...(await applicationUnitFindings(run, stack)));
  return out;
}

/**
 * Each service's application: in the CIB as its agent, placed with the mount and started after it.
 * Without the order Pacemaker may stop the mount first, and fs-mount's stop kills the application as
 * a holder; without the colocation it runs on a node where the data is not mounted.
 */
export function applicationFindings(doc: XmlElement, stack: Stack): Finding[] {
  const out: Finding[] = [];
  for (const s of stack.services) {
    const app = s.application;
    if (!app) continue;
    const id = ids(s);
    const p = findAll(doc, 'primitive').find((x) => x.attrs.id === id.app);
    const agent = p && [p.attrs.class, p.attrs.provider, p.attrs.type].filter((x) => x !== undefined).join(':');
    if (!p) out.push({ level: 'error', text: `${id.app} (${app.agent}) is not in the CIB: the application does not run with ${s.name}'s data (apply the plan)` });
    else if (agent !== app.agent) out.push({ level: 'error', text: `${id.app} runs ${agent}, the configuration says ${app.agent}` });
    const colocated = findAll(doc, 'rsc_colocation').some((c) => c.attrs.rsc === id.app && c.attrs['with-rsc'] === id.fs && c.attrs.score === 'INFINITY');
    if (!colocated) out.push({ level: 'error', text: `${id.app} is not colocated with ${id.fs} (INFINITY): it may run where ${s.directory} is not mounted` });
    const ordered = findAll(doc, 'rsc_order').some((o) => o.attrs.first === id.fs && o.attrs.then === id.app && (o.attrs['first-action'] ?? 'start') === 'start' && (o.attrs.kind ?? 'Mandatory') === 'Mandatory' && o.attrs.symmetrical !== 'false');
    if (!ordered) out.push({ level: 'error', text: `${id.app} is not ordered after ${id.fs}: Pacemaker may unmount under it, and fs-mount's stop then kills it as a holder of ${s.directory}` });
  }
  return out;
}

/** A systemd application enabled at boot starts outside Pacemaker, on whatever lies under the mount point. */
async function applicationUnitFindings(run: Runner, stack: Stack): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const s of stack.services) {
    const unit = s.application?.agent.startsWith('systemd:') ? s.application.agent.slice('systemd:'.length) : undefined;
    if (!unit) continue;
    const r = await run(['systemctl', 'is-enabled', unit], { timeoutMs: 10_000 });
    if (r.stdout.trim() === 'enabled') {
      out.push({ level: 'warning', text: `${unit} is enabled on this node: at boot systemd starts it outside Pacemaker, before (or without) the mount of ${s.directory}, and on a site without the ticket; disable it (systemctl disable ${unit}), Pacemaker starts it` });
    }
  }
  return out;
}

/** Why validate-all failed: the agent's exit reason when crm_resource passed it on, else its output. */
function validateReason(r: RunResult, xml: boolean): string {
  if (xml) {
    try {
      const reason = find(parseXml(r.stdout), 'agent-status')?.attrs.reason;
      if (reason) return reason;
    } catch {
      // not XML: keep what the command said
    }
  } else {
    // Pacemaker 2.0 with -V: the agent's stderr as " >  stderr: …", its exit reason "ocf-exit-reason:…".
    const reason = /(?:^|\s)ocf-exit-reason:(.*)$/m.exec(`${r.stdout}\n${r.stderr}`)?.[1]?.trim();
    if (reason) return reason;
  }
  return describe(r);
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
    if (stack.site) {
      out.push(...siteDrbdFindings(s.drbd_resource, d.stdout));
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

/** Ticket constraints of the site's services: present, on the promoted role, with a loss-policy. */
export function ticketFindings(doc: XmlElement, stack: Stack): Finding[] {
  const out: Finding[] = [];
  const tickets = findAll(doc, 'rsc_ticket');
  for (const s of stack.services) {
    const clone = ids(s).clone;
    const mine = tickets.filter((t) => t.attrs.ticket === s.ticket && t.attrs.rsc === clone);
    if (mine.length === 0) {
      out.push({ level: 'error', text: `${clone} is not bound to ticket ${s.ticket}: this site would promote without it, while the other site serves` });
      continue;
    }
    for (const t of mine) {
      if (!t.attrs['loss-policy']) out.push({ level: 'warning', text: `ticket constraint ${t.attrs.id} has no loss-policy: a revoked ${s.ticket} stops the whole clone instead of demoting it (use loss-policy=demote)` });
      const role = t.attrs['rsc-role'];
      if (role !== 'Promoted' && role !== 'Master') out.push({ level: 'warning', text: `ticket constraint ${t.attrs.id} binds ${role ?? 'every role'} of ${clone}: without the ticket DRBD should still run Unpromoted as the sync target (rsc-role=Promoted)` });
    }
  }
  return out;
}

/**
 * DRBD settings that break a takeover across sites: a fence-peer handler that asks this cluster to
 * fence a peer that is in the other cluster (crm-fence-peer places a constraint the other cluster
 * never sees), and auto-promote, which lets any opener promote without the ticket.
 */
export function siteDrbdFindings(res: string, dump: string): Finding[] {
  const out: Finding[] = [];
  if (/fence-peer\s+"?[^;]*crm-fence-peer/.test(dump)) {
    out.push({ level: 'warning', text: `DRBD ${res}: the fence-peer handler is crm-fence-peer, which fences the peer through this cluster's CIB; the peer is in the other site's cluster, so it freezes I/O for nothing or fails: use fencing dont-care (or resource-only with a handler that reaches the other site) and let the ticket keep one side Primary` });
  }
  const auto = /auto-promote\s+(yes|no)/.exec(dump)?.[1];
  if (auto === 'yes') out.push({ level: 'warning', text: `DRBD ${res}: auto-promote yes lets anything that opens the device promote it, with or without the ticket: set auto-promote no in its options` });
  else if (auto === undefined && /\bnode-id\b/.test(dump)) {
    // drbdadm dump prints only what is set; DRBD 9 (node-id in the configuration) defaults to auto-promote yes.
    out.push({ level: 'warning', text: `DRBD ${res}: auto-promote is not set, and DRBD 9 defaults it to yes: anything that opens the device promotes it without the ticket; set auto-promote no in its options` });
  }
  return out;
}

/** drbd.service would bring DRBD up (and with auto-promote, Primary) at boot, outside the cluster. */
async function serviceUnitFindings(run: Runner): Promise<Finding[]> {
  const r = await run(['systemctl', 'is-enabled', 'drbd.service'], { timeoutMs: 10_000 });
  if (r.stdout.trim() === 'enabled') {
    return [{ level: 'warning', text: 'drbd.service is enabled on this node: at boot it brings DRBD up outside Pacemaker, where no ticket guards it; disable it (systemctl disable drbd.service)' }];
  }
  return [];
}
