/**
 * The pcs commands that build a stack, each with the reason it is there. Commands are argv
 * arrays (apply runs them as they are); the rendering for people quotes them for a shell.
 */
import { boothSteps } from '../site/booth';
import { type Application, type NfsPart, type Service, type Stack, ids } from './model';

export interface Step {
  readonly why: string;
  readonly argv: readonly string[];
}

/**
 * nfsd's grace starts when the export starts, before the address has moved and before clients
 * retry: a grace of one lease can be over before a client comes back to reclaim (seen in the lab).
 */
export function graceFor(lease: number): number {
  // With nfsdcld the kernel ends the grace as soon as every known NFSv4.1+ client has reclaimed,
  // so a long one costs little; a short one strands clients when the address comes up late (the
  // lab measured 55 s from nfsd's start to the address on a loaded node, against a grace of 40).
  return Math.max(90, lease + 30);
}

/**
 * Where the NFS server keeps its clients' state: given, or a directory on the replicated
 * filesystem, so the server that takes over knows the clients (node-local state loses their
 * locks and opens on every failover).
 */
function infodirFor(s: Service, n: NfsPart): { dir: string; defaulted: boolean } {
  return n.nfs_shared_infodir ? { dir: n.nfs_shared_infodir, defaulted: false } : { dir: `${s.directory.replace(/\/+$/, '')}/.nfs-state`, defaulted: true };
}

function drbdAndMount(s: Service, stack: Stack): Step[] {
  const id = ids(s);
  const pcs = (...a: string[]) => ['pcs', ...a];
  // At a site, the clone runs on the site's own nodes; its other DRBD peer is at the other site.
  const cloneMax = stack.site ? stack.nodes.length : 2;
  return [
    {
      why: `${s.name}: DRBD resource ${s.drbd_resource} as a promotable clone: one instance per node, one promoted; notifications let a starting peer reconnect. Monitors differ per role, as Pacemaker requires.`,
      argv: pcs('resource', 'create', id.drbd, 'ocf:ocfkit:drbd-promote', `drbd_resource=${s.drbd_resource}`,
        'op', 'monitor', 'interval=10s', 'role=Promoted', 'op', 'monitor', 'interval=20s', 'role=Unpromoted',
        'promotable', 'promoted-max=1', 'promoted-node-max=1', `clone-max=${cloneMax}`, 'clone-node-max=1', 'notify=true'),
    },
    {
      why: `${s.name}: the ${s.fstype} filesystem on ${s.device}, mounted at ${s.directory}; a deep monitor (depth 20) writes and reads back a status file, catching a device that stopped accepting I/O.`,
      argv: pcs('resource', 'create', id.fs, 'ocf:ocfkit:fs-mount', `device=${s.device}`, `directory=${s.directory}`, `fstype=${s.fstype}`,
        'op', 'monitor', 'interval=20s', 'op', 'monitor', 'interval=61s', 'timeout=60s', 'OCF_CHECK_LEVEL=20'),
    },
  ];
}

function nfsSteps(s: Service, n: NfsPart): Step[] {
  const id = ids(s);
  const infodir = infodirFor(s, n);
  const pcs = (...a: string[]) => ['pcs', ...a];
  const exportParams = [
    `directory=${s.directory}`,
    `clientspec=${n.clients.join(' ')}`,
    `options=${n.export_options}`,
    ...(n.fsid ? [`fsid=${n.fsid}`] : []),
    `nfs_shared_infodir=${infodir.dir}`,
    `nfs_server_scope=${n.ip.replace(/:/g, '-')}`,
    `nfs_ip=${n.ip}`,
    ...(n.nfsv4_lease_time ? [`nfsv4_lease_time=${n.nfsv4_lease_time}`, `nfsv4_grace_time=${graceFor(n.nfsv4_lease_time)}`] : []),
  ];
  return [
    {
      why: `${s.name}: the export, with one fsid and one server scope on both nodes so clients keep their file handles and locks across a failover; the clients' state in ${infodir.dir}${infodir.defaulted ? ' (by default: on the replicated filesystem, so the server taking over knows them; --infodir or "nfs_shared_infodir" sets another)' : ''}.${n.nfsv4_lease_time ? ` NFSv4 lease ${n.nfsv4_lease_time} s (the kernel's default is 90); the grace period, ${graceFor(n.nfsv4_lease_time)} s, also covers the address moving and the clients' retries, and ends early once every known client has reclaimed.` : ''}`,
      argv: pcs('resource', 'create', id.export, 'ocf:ocfkit:nfs-export', ...exportParams, 'op', 'monitor', 'interval=10s'),
    },
    {
      why: `${s.name}: the floating address clients mount through; it comes up last and goes down first, so a client never reaches a node that does not serve yet. Its monitor records the clients' TCP connections in ${infodir.dir} (tickle_dir); the node taking over tickles them, so clients of a node that died reconnect as soon as the address is back, not at their next TCP retransmission (tens of seconds later). failure-timeout lets it come back by itself after a link outage on every node. Start and stop get 40 s (the agent's default is 20): both end as soon as the address is added or removed, and seconds lost on a loaded node are no reason to fail the start or fence the node on a stop.`,
      argv: pcs('resource', 'create', id.ip, 'ocf:ocfkit:vip', `ip=${n.ip}`, `cidr_netmask=${n.cidr_netmask}`, ...(n.nic ? [`nic=${n.nic}`] : []), `tickle_dir=${infodir.dir}`,
        'op', 'monitor', 'interval=10s', 'start', 'timeout=40s', 'stop', 'timeout=40s', 'meta', 'failure-timeout=60s'),
    },
  ];
}

/**
 * The application on the mounted data: created after the mount, colocated with it and started after
 * it, so Pacemaker stops it before the unmount (a revoked ticket too: loss-policy=demote stops all
 * placed with the promoted role, in reverse order). Stopped by anything else, fs-mount's stop would
 * kill it as a holder of the mount.
 */
function applicationSteps(s: Service, app: Application): Step[] {
  const id = ids(s);
  const pcs = (...a: string[]) => ['pcs', ...a];
  const params = Object.entries(app.options).map(([k, v]) => `${k}=${v}`);
  return [
    {
      why: `${s.name}: the application, ${app.agent}, run by Pacemaker on the node that mounts ${s.directory}. Start and stop get 120 s (Pacemaker's default is 20): a database or key-value store flushes and syncs its data on stop, and a stop that times out fences the node. Its monitor says when it died, and Pacemaker restarts it where the data is.`,
      argv: pcs('resource', 'create', id.app, app.agent, ...params, 'op', 'monitor', 'interval=20s', 'timeout=60s', 'start', 'timeout=120s', 'stop', 'timeout=120s'),
    },
    { why: `${s.name}: the application runs where the data is mounted …`, argv: pcs('constraint', 'colocation', 'add', id.app, 'with', id.fs, 'INFINITY') },
    { why: '… after the mount, and stops before the unmount: through Pacemaker, never killed as a holder of the mount.', argv: pcs('constraint', 'order', 'start', id.fs, 'then', 'start', id.app) },
  ];
}

function serviceSteps(s: Service, stack: Stack): Step[] {
  const id = ids(s);
  const pcs = (...a: string[]) => ['pcs', ...a];
  const steps = [
    ...drbdAndMount(s, stack),
    ...(s.nfs ? nfsSteps(s, s.nfs) : []),
    { why: `${s.name}: mount only where DRBD is Primary …`, argv: pcs('constraint', 'colocation', 'add', id.fs, 'with', 'Promoted', id.clone, 'INFINITY') },
    { why: '… and only after it was promoted.', argv: pcs('constraint', 'order', 'promote', id.clone, 'then', 'start', id.fs) },
  ];
  if (s.nfs) {
    steps.push(
      { why: `${s.name}: export where it is mounted …`, argv: pcs('constraint', 'colocation', 'add', id.export, 'with', id.fs, 'INFINITY') },
      { why: '… after the mount (and unexport before the unmount).', argv: pcs('constraint', 'order', 'start', id.fs, 'then', 'start', id.export) },
      { why: `${s.name}: the address goes where the export is …`, argv: pcs('constraint', 'colocation', 'add', id.ip, 'with', id.export, 'INFINITY') },
      { why: '… after the export (and away before the unexport).', argv: pcs('constraint', 'order', 'start', id.export, 'then', 'start', id.ip) },
    );
  }
  if (s.application) steps.push(...applicationSteps(s, s.application));
  if (stack.site) {
    const other = stack.site.sites.find((x) => x.name !== stack.site!.name)!.name;
    steps.push({
      why: `${s.name}: site ${stack.site.name} promotes only while it holds ticket ${s.ticket}; the other site (${other}) holds it otherwise. Losing the ticket demotes DRBD here (loss-policy=demote), which first stops everything placed with the promoted role${s.application ? ' (the application first, then the mount)' : ''}; without a loss-policy Pacemaker would stop the whole clone and, for a ticket revoked by booth, could leave the data Primary nowhere to hand over from.`,
      argv: pcs('constraint', 'ticket', 'add', s.ticket, 'Promoted', id.clone, 'loss-policy=demote', `id=${id.ticket}`),
    });
  }
  return steps;
}

export function plan(stack: Stack): Step[] {
  const steps: Step[] = [];
  const pcs = (...a: string[]) => ['pcs', ...a];
  if (stack.fencing) {
    const f = stack.fencing;
    for (const node of stack.nodes) {
      const opts = { ...f.options, ...(f.per_node?.[node] ?? {}) };
      steps.push({
        why: `fencing for ${node}: when it stops answering, the survivor powers it off before taking over its data.`,
        argv: pcs('stonith', 'create', `fence-${node}`, f.agent, ...Object.entries(opts).map(([k, v]) => `${k}=${v}`), `pcmk_host_list=${node}`),
      });
    }
    steps.push({ why: 'never run resources without fencing: two nodes both Primary is a split brain that loses data.', argv: pcs('property', 'set', 'stonith-enabled=true') });
  } else {
    steps.push({ why: 'WARNING: fencing is off (fencing: none). A node that stops answering is assumed dead; if it is not, both nodes serve the same data. Use only for tests.', argv: pcs('property', 'set', 'stonith-enabled=false') });
  }
  steps.push({
    why: stack.site
      ? `site ${stack.site.name}'s own cluster: a part of it that loses quorum stops rather than serves (the other site is not part of this quorum; the ticket decides between the sites).`
      : 'two nodes: corosync two_node keeps quorum on the survivor, so losing quorum means something is wrong: stop rather than serve.',
    argv: pcs('property', 'set', 'no-quorum-policy=stop'),
  });
  steps.push({ why: 'resources stay where they run after a failover instead of moving back when the old node returns.', argv: pcs('resource', 'defaults', 'update', 'resource-stickiness=100') });
  steps.push(...boothSteps(stack));
  for (const s of stack.services) steps.push(...serviceSteps(s, stack));
  return steps;
}

/** Quotes one word for a POSIX shell when it needs it. */
export function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

export function renderPlan(steps: readonly Step[]): string {
  const out: string[] = ['#!/bin/sh', '# Generated by `ocfkit stack plan`. Run on one node of the cluster; pcs applies it cluster-wide.', 'set -e', ''];
  for (const s of steps) {
    out.push(`# ${s.why}`);
    out.push(s.argv.map(shellWord).join(' '));
    out.push('');
  }
  return out.join('\n');
}
