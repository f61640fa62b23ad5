/**
 * `ocfkit doctor`: this node's view in plain words. Cluster state from `crm_mon --output-as=xml`
 * (also against a CIB file with CIB_file), DRBD from events2 or /proc/drbd, mounts from
 * mountinfo, exports from `exportfs -s`, addresses from `ip -j`. Never human text.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { PathHung, boundedFs } from '../lib/bounded-fs';
import { CRM_MON_FENCING, CRM_MON_XML, type FenceEvent, parseFailures, parseFenceHistory } from '../lib/cluster';
import { DrbdAdm, generation, parseEvents2, readProcDrbd } from '../lib/drbd';
import { configFindings, drbdConfigFacts } from '../lib/drbd-config';
import { LIST_ARGV, parseExportLines } from '../lib/exportfs';
import * as nfsUnits from '../lib/nfs-units';
import { findAddress, parseAddrJson } from '../lib/ip';
import { mountUnder, readMountinfo } from '../lib/mounts';
import { type Runner, describe } from '../lib/run';
import { findAll, parseXml } from '../lib/xml';

/** One line per fencing action that failed or is under way, and what to do about a failed one. */
export function fencingLines(events: readonly FenceEvent[]): string[] {
  const open = events.filter((e) => e.status === 'failed' || e.status === 'pending');
  if (open.length === 0) return ['  no failed or pending fencing'];
  const out = open.map((e) => {
    const who = `asked by ${e.client} on ${e.origin}${e.delegate ? `, the device on ${e.delegate}` : ''}`;
    return e.status === 'pending' ? `  FENCING PENDING: ${e.action} of ${e.target}, ${who}` : `  FENCING FAILED: ${e.action} of ${e.target}${e.completed ? ` at ${e.completed}` : ''}, ${who}: ${e.reason ?? 'no reason given (as when no device can fence it)'}`;
  });
  if (open.some((e) => e.status === 'failed')) {
    out.push('  a node whose fencing failed is not recovered from while it is unclean (Pacemaker tries again, up to stonith-max-attempts): fix the device; `stonith_admin --confirm NODE` only for a node known to be off, never one that may still run; `stonith_admin --cleanup --history NODE` clears the record');
  }
  return out;
}

/**
 * Each fs-mount resource's mount point must sit on a shared mount: a service systemd starts while
 * the filesystem is mounted keeps copies of it (one, under the service's moved root, in no mount
 * table), and only an unmount that propagates from the mount below removes them. Otherwise the
 * stop fails and DRBD refuses to demote until that service restarts.
 */
function propagationLines(points: ReadonlyArray<{ id: string; dir: string }>): string[] {
  const mounts = readMountinfo();
  const out: string[] = [];
  for (const { id, dir } of points) {
    const below = mountUnder(mounts, dir);
    if (below && !below.shared) {
      out.push(`mount point ${dir} (${id}): WARNING: the mount below it, ${below.target}, is not shared: a service started while the filesystem is mounted (systemd's ProtectSystem, PrivateTmp) keeps copies the stop's unmount cannot reach, and the stop fails. mount --make-rshared ${below.target}, as systemd does at boot on a machine`);
    }
  }
  return out;
}

/** The fencer's history, read apart from the rest: the fencer may be what does not answer. */
async function fencing(run: Runner): Promise<string[]> {
  const r = await run([...CRM_MON_FENCING], { timeoutMs: 10_000 });
  try {
    if (r.code !== 0) throw new Error(describe(r));
    return fencingLines(parseFenceHistory(r.stdout));
  } catch (e) {
    return [`  fencing: the fencer's history could not be read (${(e as Error).message}); is pacemaker-fenced busy or stuck? \`crm_mon -1 --fence-history=2\``];
  }
}

/**
 * The nfsd thread count, read in a bounded child: the read waits on nfsd's mutex, which nfsd holds
 * while it starts or stops threads, and that can last as long as it is stuck.
 */
async function nfsdThreads(run: Runner): Promise<string> {
  try {
    const text = await boundedFs(run).read('/proc/fs/nfsd/threads');
    return text === undefined ? 'not loaded' : `${text.trim()} nfsd threads`;
  } catch (e) {
    const msg = (e as Error).message;
    return e instanceof PathHung ? `${msg} (nfsd stuck starting or stopping threads? it holds the mutex this read waits on)` : msg;
  }
}

export async function doctor(run: Runner): Promise<string[]> {
  const out: string[] = [];
  const say = (s: string) => out.push(s);
  const node = hostname();
  say(`ocfkit doctor on ${node}`);

  // Cluster
  const mon = await run([...CRM_MON_XML, '-A'], { timeoutMs: 15_000 });
  const vips: Array<{ id: string; ip: string }> = [];
  const mountPoints: Array<{ id: string; dir: string }> = [];
  // crm_mon 2.1 and later that cannot reach the CIB exits 0 with its errors in the XML.
  const monErrors = mon.code === 0 && mon.stdout.trim().startsWith('<') ? findAll(parseXml(mon.stdout), 'error').map((e) => e.text.trim()) : [];
  if (mon.code !== 0 || !mon.stdout.trim().startsWith('<') || monErrors.length > 0) {
    say(`cluster: not reachable from here (is pacemaker running?)${monErrors.length ? `: ${monErrors.join('; ')}` : ''}`);
  } else {
    const doc = parseXml(mon.stdout);
    const nodes = findAll(doc, 'node').filter((n) => n.attrs.online !== undefined);
    say(`cluster: ${nodes.map((n) => `${n.attrs.name} ${n.attrs.online === 'true' ? 'online' : 'OFFLINE'}${n.attrs.standby === 'true' ? ' (standby)' : ''}`).join(', ') || 'no nodes'}`);
    for (const r of findAll(doc, 'resource')) {
      const where = r.children.filter((c) => c.name === 'node').map((c) => c.attrs.name).join(', ');
      // Pacemaker 2.0 writes the agent as ocf::provider:type.
      say(`  ${r.attrs.id} (${r.attrs.resource_agent?.replace(/^ocf::/, 'ocf:')}): ${r.attrs.role}${where ? ` on ${where}` : ''}${r.attrs.failed === 'true' ? ', FAILED' : ''}`);
    }
    for (const n of findAll(doc, 'node').filter((x) => x.children.some((c) => c.name === 'attribute'))) {
      for (const a of n.children.filter((c) => c.name === 'attribute' && (c.attrs.name ?? '').startsWith('master-'))) {
        say(`  promotion score ${a.attrs.name!.slice('master-'.length)} on ${n.attrs.name}: ${a.attrs.value}`);
      }
    }
    const failures = parseFailures(doc);
    for (const f of failures) say(`  FAILED ${f.opKey} on ${f.node}: ${f.reason} (rc ${f.exitCode})`);
    if (failures.length === 0) say('  no failed actions');
    // A CIB file has no fencer to ask.
    if (!process.env.CIB_file) for (const l of await fencing(run)) say(l);
    const cib = await run(['cibadmin', '-Q', '--scope', 'resources'], { timeoutMs: 15_000 });
    if (cib.code === 0) {
      const res = parseXml(cib.stdout);
      for (const p of findAll(res, 'primitive').filter((x) => x.attrs.provider === 'ocfkit')) {
        const pairs = findAll(p, 'nvpair');
        const value = (name: string) => pairs.find((n) => n.attrs.name === name)?.attrs.value;
        const ip = value('ip');
        if (p.attrs.type === 'vip' && ip) vips.push({ id: p.attrs.id ?? '', ip });
        const dir = value('directory');
        if (p.attrs.type === 'fs-mount' && dir?.startsWith('/')) mountPoints.push({ id: p.attrs.id ?? '', dir });
      }
    }
  }

  // DRBD
  const p = readProcDrbd();
  if (!p) say('drbd: module not loaded');
  else {
    const adm = new DrbdAdm(run, '/etc/drbd.conf');
    let names: string[];
    if (generation(p.version) === 9) {
      const ev = await run(['drbdsetup', 'events2', '--now'], { timeoutMs: 10_000 });
      const all = [...parseEvents2(ev.stdout).values()];
      for (const r of all) {
        say(`drbd ${r.name}: ${r.role}, disk ${r.devices.map((d) => d.disk).join('/')}; ${r.connections.map((c) => `${c.peer} ${c.connection} ${c.peerRole}, peer disk ${c.peerDevices.map((x) => x.peerDisk).join('/')}`).join('; ') || 'no peers'}`);
      }
      names = all.map((r) => r.name);
    } else {
      say(`drbd ${p.version}:`);
      for (const m of p.minors.values()) say(`  minor ${m.minor}: ${m.cs}, ${m.role}/${m.peerRole}, disk ${m.disk}/${m.peerDisk}`);
      // 8.4 names minors, not resources: the configuration names them.
      const sh = await adm.exec(['sh-resources'], 10_000);
      names = sh.code === 0 ? sh.stdout.split(/\s+/).filter(Boolean) : [];
    }
    // Each resource's configuration as drbdadm reads it: what it gets wrong for this module.
    for (const name of names) {
      const d = await adm.dump(name);
      const facts = d.code === 0 ? drbdConfigFacts(d.stdout, name) : undefined;
      for (const f of facts ? configFindings(facts, generation(p.version)) : []) say(`  ${f.level.toUpperCase()}: ${f.text}`);
    }
  }

  // Mounts of DRBD devices
  const drbdMounts = readMountinfo().filter((m) => m.major === 147);
  say(drbdMounts.length ? `mounts: ${drbdMounts.map((m) => `${m.source} on ${m.target} (${m.fstype})`).join(', ')}` : 'mounts: no DRBD device mounted');
  for (const l of propagationLines(mountPoints)) say(l);

  // Exports
  const ex = await run([...LIST_ARGV], { timeoutMs: 10_000 });
  if (ex.spawnError) say('exports: exportfs not installed');
  else {
    const list = parseExportLines(ex.stdout);
    say(list.length ? `exports: ${list.map((e) => `${e.dir} → ${e.client} (${e.options.find((o) => o.startsWith('fsid=')) ?? 'no fsid'})`).join(', ')}` : 'exports: none');
  }
  say(`nfs server: ${await nfsdThreads(run)}`);
  if (existsSync('/run/systemd/system')) {
    const { missing, why } = await nfsUnits.staticMissing(run, [...nfsUnits.STATIC_UNITS], 10_000);
    say(
      missing.length === 0
        ? `nfs units: ocfkit's drop-ins loaded (${nfsUnits.STATIC_DROPIN}); nfs-export starts the server without a daemon-reload${existsSync(nfsUnits.ENV_FILE) ? `, and ${nfsUnits.ENV_FILE} points the units at a resource's settings now` : ''}`
        : `nfs units: WARNING: ${missing.join(', ')} without ocfkit's drop-in ${nfsUnits.STATIC_DROPIN}${why ? ` (${why})` : ''}: nfs-export falls back to runtime drop-ins and a systemctl daemon-reload at every server start; ${nfsUnits.INSTALL_HINT}`,
    );
  }

  // Addresses of the cluster's vip resources
  const ipj = await run(['ip', '-j', 'addr', 'show'], { timeoutMs: 10_000 });
  const links = ipj.code === 0 ? parseAddrJson(ipj.stdout) : [];
  for (const v of vips) {
    const here = findAddress(links, v.ip);
    say(`address ${v.ip} (${v.id}): ${here.length ? `on ${here.map((h) => `${h.link.ifname} (${h.link.operstate})`).join(', ')}` : 'not on this node'}`);
  }
  return out;
}
