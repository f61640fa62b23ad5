/** `ocfkit stack …`: generate, apply, check and simulate the HA NFS stack. */
import { existsSync, readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { Deadline } from '../lib/ocf/deadline';
import { PEER_STATE_DIR } from '../lib/drbd-peer';
import { type Runner, run as runWith } from '../lib/run';
import { hostname } from 'node:os';
import { apply } from './stack/apply';
import { check } from './stack/check';
import { doctor } from './doctor';
import { boothConf } from './site/booth';
import { EXIT } from './site/decide';
import { handover } from './site/handover';
import { rejoin } from './site/rejoin';
import { SALVAGE_ROOT, salvage, salvageDir, salvageDone } from './site/salvage';
import { SiteError, pick, procDrbdFile, siteStates } from './site/state';
import { renderText, renderXml, view } from './site/status';
import { type SiteCtx, clockFrom } from './site/steps';
import { takeover } from './site/takeover';
import { type Service, type Stack, StackError, ids, parseDeployment, parseStack, stackOf } from './stack/model';
import { serviceOwner } from './stack/ownership';
import { PCS_VERSIONS, type PcsRelease, detectPcsVersion, forPcs, pcsReleaseOf } from './stack/pcs-version';
import { plan, renderPlan } from './stack/plan';
import { renderOutcomes, simulate } from './stack/simulate';

interface Flags {
  config?: string;
  site?: string;
  name: string;
  nodes?: string;
  drbdResource?: string;
  device?: string;
  directory?: string;
  fstype?: string;
  ip?: string;
  nic?: string;
  clients?: string;
  exportOptions?: string;
  fsid?: string;
  infodir?: string;
  nfsv4LeaseTime?: string;
  fencing?: string;
  fenceOption: string[];
  application?: string;
  applicationOption: string[];
}

/** Where `ocfkit stack` and `ocfkit site` look for the configuration when none is named. */
export const DEFAULT_CONFIG = '/etc/ocfkit/stack.json';

/** The flags that describe one service on the command line instead of a configuration file. */
const SERVICE_FLAGS = ['nodes', 'drbdResource', 'device', 'directory', 'fstype', 'ip', 'nic', 'clients', 'fsid', 'infodir', 'nfsv4LeaseTime', 'fencing', 'application'] as const;

function readDeployment(file: string) {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new StackError(`${file}: ${(e as Error).message}`);
  }
  return parseDeployment(raw);
}

/** The site named, or the one whose nodes include this host (sites only). */
function siteOfHost(d: ReturnType<typeof parseDeployment>, named: string | undefined): string | undefined {
  if (named !== undefined || !d.sites) return named;
  const me = hostname();
  const site = d.sites.find((s) => s.nodes.includes(me))?.name;
  if (!site) throw new StackError(`this host (${me}) is in no site's nodes: say which site with --site ${d.sites.map((s) => s.name).join('|')}`);
  return site;
}

/**
 * A stack from --config FILE, or one service from flags; with neither, DEFAULT_CONFIG where it
 * exists, as `ocfkit site` reads it. With sites, --site defaults to this host's site.
 */
export function stackFromFlags(f: Flags, defaultConfig = DEFAULT_CONFIG): Stack {
  const config = f.config ?? (SERVICE_FLAGS.every((k) => f[k] === undefined) && existsSync(defaultConfig) ? defaultConfig : undefined);
  if (config) {
    const d = readDeployment(config);
    return stackOf(d, siteOfHost(d, f.site));
  }
  if (f.site !== undefined) throw new StackError('--site needs --config FILE naming the sites');
  const keyValues = (opts: readonly string[]) => Object.fromEntries(opts.map((o) => [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)]));
  const fencing = f.fencing === undefined || f.fencing === 'none' ? null : { agent: f.fencing, options: keyValues(f.fenceOption) };
  if (f.applicationOption?.length && f.application === undefined) throw new StackError('--application-option needs --application ocf:PROVIDER:TYPE');
  if (f.fencing === undefined) throw new StackError('say how nodes are fenced: --fencing fence_<agent> (with --fence-option key=value) or --fencing none');
  return parseStack({
    nodes: (f.nodes ?? '').split(',').filter(Boolean),
    fencing,
    services: [
      {
        name: f.name,
        drbd_resource: f.drbdResource,
        device: f.device,
        directory: f.directory,
        fstype: f.fstype,
        ip: f.ip,
        nic: f.nic,
        clients: (f.clients ?? '').split(/[\s,]+/).filter(Boolean),
        export_options: f.exportOptions,
        fsid: f.fsid,
        nfs_shared_infodir: f.infodir,
        nfsv4_lease_time: f.nfsv4LeaseTime,
        ...(f.application !== undefined ? { application: { agent: f.application, options: keyValues(f.applicationOption ?? []) } } : {}),
      },
    ],
  });
}

function withStackOptions(c: Command): Command {
  return c
    .option('-c, --config <file>', `stack description (JSON); see README (default: ${DEFAULT_CONFIG} when it exists and no service is described by flags)`)
    .option('--site <name>', "with a configuration of two sites: the stack of this site (default: the site whose nodes include this host's name)")
    .option('--name <name>', 'service name, the prefix of the resource ids', 'nfs')
    .option('--nodes <a,b>', 'the two cluster nodes')
    .option('--drbd-resource <res>', 'DRBD resource name')
    .option('--device <dev>', 'DRBD device, e.g. /dev/drbd0')
    .option('--directory <dir>', 'mount point and export')
    .option('--fstype <type>', 'ext4 or xfs')
    .option('--ip <addr/len>', 'floating address with prefix length')
    .option('--nic <ifname>', 'interface for the floating address')
    .option('--clients <specs>', 'export clients, comma or space separated')
    .option('--export-options <opts>', 'exportfs options', 'rw,sync,no_subtree_check')
    .option('--fsid <fsid>', 'export fsid (default: derived from the resource name)')
    .option('--infodir <dir>', 'NFS client state directory on the DRBD filesystem')
    .option('--nfsv4-lease-time <secs>', 'NFSv4 lease seconds (default: the kernel\'s 90; the grace becomes the longer of 90 and lease + 30); shorter makes failovers shorter')
    .option('--fencing <agent|none>', 'fence agent for both nodes, or none (tests only)')
    .addOption(new Option('--fence-option <k=v>', 'fence agent option (repeatable)').default([]).argParser((v: string, acc: string[]) => [...acc, v]))
    .option('--application <agent>', 'what runs on the mounted data, started after the mount and stopped before it: systemd:UNIT or ocf:PROVIDER:TYPE')
    .addOption(new Option('--application-option <k=v>', "the OCF application's parameter (repeatable)").default([]).argParser((v: string, acc: string[]) => [...acc, v]));
}

interface SiteFlags {
  config: string;
  site?: string;
  all?: boolean;
  drbdconf: string;
  stateDir: string;
  timeout: string;
  outputAs?: string;
  json?: boolean;
  acceptDataLoss?: boolean;
  discardLocal?: boolean;
  otherSiteReleased?: boolean;
  to?: string;
  mountAt?: string;
  /** false with --no-replay */
  replay?: boolean;
  done?: boolean;
}

function withSiteOptions(c: Command): Command {
  return c
    .option('-c, --config <file>', 'the two-site configuration (JSON); see README', DEFAULT_CONFIG)
    .option('--site <name>', "this site (default: the site whose nodes include this host's name)")
    .option('--drbdconf <file>', 'DRBD configuration', '/etc/drbd.conf')
    .option('--state-dir <dir>', "where drbd-promote records the peer (its peer_state_dir)", PEER_STATE_DIR)
    .option('--timeout <secs>', 'longest wait for each service', '300');
}

/** This site's stack: --site, or the site listing this host among its nodes. */
function siteStack(f: SiteFlags): Stack {
  const d = readDeployment(f.config);
  if (!d.sites) throw new StackError(`${f.config} names no sites: ocfkit site needs a two-site configuration`);
  return stackOf(d, siteOfHost(d, f.site));
}

function siteCtx(f: SiteFlags, stack: Stack): SiteCtx {
  const secs = Number(f.timeout);
  if (!Number.isInteger(secs) || secs < 1 || secs > 86400) throw new StackError(`--timeout ${f.timeout} is not 1 to 86400 seconds`);
  const deadline = new Deadline((secs * stack.services.length + 120) * 1000, 'ocfkit site');
  const run: Runner = (argv, o) => runWith(argv, { ...o, deadline });
  return { stack, src: { run, drbdconf: f.drbdconf, stateDir: f.stateDir, procDrbd: procDrbdFile }, deadline, waitMs: secs * 1000, say: (l) => process.stdout.write(`${l}\n`), clock: clockFrom() };
}

function servicesOf(stack: Stack, name: string | undefined, all: boolean | undefined): Service[] {
  if (all && name) throw new StackError('give a service or --all, not both');
  if (!all && !name) throw new StackError(`name a service (${stack.services.map((s) => s.name).join(', ')}) or --all`);
  return pick(stack, name ? [name] : []);
}
/** --pcs-version, else the pcs of this node, else 0.11; and where the choice came from. */
async function pcsTarget(f: { pcsVersion?: string }, run: Runner): Promise<PcsRelease & { from: string }> {
  if (f.pcsVersion !== undefined) {
    try {
      return { ...pcsReleaseOf(f.pcsVersion), from: '--pcs-version' };
    } catch (e) {
      throw new StackError(`--pcs-version: ${(e as Error).message}`);
    }
  }
  const here = await detectPcsVersion(run);
  return here ? { ...here, from: 'pcs --version on this node' } : { version: '0.11', from: 'the default: no pcs on this machine' };
}

const PCS_VERSION_HELP = `pcs syntax of the target: ${PCS_VERSIONS.join(', ')} or a release such as 0.10.8 (default: what pcs --version says here, else 0.11)`;

/**
 * The integration tests' hooks into apply. OCFKIT_TEST_BEFORE_PUSH, a JSON array of argv words, run
 * once before the first push: a change to the CIB between apply's reading and its push (a race).
 * OCFKIT_TEST_PLAN_CACHE, a directory: the plan's pcs steps run once for the same plan (ApplyOptions.planCache).
 */
function testHook(): { beforeFirstPush?: string[]; planCache?: string } {
  const cache = process.env.OCFKIT_TEST_PLAN_CACHE;
  const planCache = cache ? { planCache: cache } : {};
  const v = process.env.OCFKIT_TEST_BEFORE_PUSH;
  if (!v) return planCache;
  const argv = JSON.parse(v) as unknown;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((w) => typeof w === 'string')) throw new StackError('OCFKIT_TEST_BEFORE_PUSH: not a JSON array of strings');
  return { beforeFirstPush: argv as string[], ...planCache };
}

function runner(): Runner {
  const deadline = new Deadline(60 * 60_000, 'ocfkit stack');
  return (argv, o) => runWith(argv, { ...o, deadline });
}

/** The command tree; also what ocfkit(8) is written from. `fail` sets the exit code of an action. */
export function commandTree(fail: (code: number) => void = () => {}): Command {
  const program = new Command('ocfkit').exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const stack = program.command('stack').description('generate, apply, check and simulate the HA NFS stack');
  withStackOptions(stack.command('plan').description('print the pcs commands, with the reason for each'))
    .option('--pcs-version <version>', PCS_VERSION_HELP)
    .action(async (f: Flags & { pcsVersion?: string }) => {
      const steps = plan(stackFromFlags(f));
      const pcs = await pcsTarget(f, runner());
      // The first line stays the #! line: the plan is a script.
      process.stdout.write(renderPlan(forPcs(steps, pcs.version, pcs.patch)).replace('\n', `\n# For pcs ${pcs.version} (${pcs.from}).\n`));
    });
  withStackOptions(stack.command('apply').description("make a CIB file or the live cluster hold the plan: only what differs changes, in one change; the rest of the configuration is left alone"))
    .option('--cib <file>', 'CIB file to change (created when missing)')
    .option('--live', 'apply to the running cluster')
    .option('--dry-run', 'show what would change, change nothing')
    .option('--remove-service <name>', 'stop and remove the resources an earlier apply made for a service that is no longer in the configuration (repeatable); without it they are left', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--pcs-version <version>', PCS_VERSION_HELP)
    .action(async (f: Flags & { cib?: string; live?: boolean; dryRun?: boolean; pcsVersion?: string; removeService: string[] }) => {
      if (!f.cib === !f.live) throw new StackError('give exactly one of --cib FILE and --live');
      const stack = stackFromFlags(f);
      const kept = f.removeService.filter((n) => stack.services.some((s) => s.name === n));
      if (kept.length > 0) throw new StackError(`--remove-service ${kept.join(', ')}: still in the configuration; take it out of the configuration first`);
      const steps = plan(stack);
      const run = runner();
      const pcs = await pcsTarget(f, run);
      const ownerOf = new Map<string, string>();
      for (const s of stack.services) {
        const id = ids(s);
        for (const r of [id.clone, id.fs, id.export, id.ip, id.app]) ownerOf.set(r, serviceOwner(s.name));
      }
      const ownership = { ownerOf, services: new Set(stack.services.map((s) => s.name)), removeServices: new Set(f.removeService) };
      const opts = { ...(f.cib ? { cib: f.cib } : {}), dryRun: !!f.dryRun, ownership, ...testHook() };
      await apply(run, forPcs(steps, pcs.version, pcs.patch), opts, (l) => process.stdout.write(`${l}\n`));
    });
  withStackOptions(stack.command('check').description('crm_verify, validate-all of every agent, split-brain warnings'))
    .requiredOption('--cib <file>', 'CIB file (or the live cluster\'s, from cibadmin -Q)')
    .option('--drbdconf <file>', 'DRBD configuration to check for fencing or quorum')
    .action(async (f: Flags & { cib: string; drbdconf?: string }) => {
      const findings = await check(runner(), stackFromFlags(f), f.cib, f.drbdconf);
      for (const x of findings) process.stdout.write(`${x.level.toUpperCase()}: ${x.text}\n`);
      if (findings.some((x) => x.level === 'error')) fail(1);
      else process.stdout.write(`checked: ${findings.length === 0 ? 'clean' : `${findings.length} warning(s)`}\n`);
    });
  withStackOptions(stack.command('simulate').description('what Pacemaker does when a node, a resource or the link fails (crm_simulate)'))
    .requiredOption('--cib <file>', 'CIB file holding the stack')
    .action(async (f: Flags & { cib: string }) => {
      const outcomes = await simulate(runner(), stackFromFlags(f), f.cib);
      process.stdout.write(renderOutcomes(outcomes));
      if (outcomes.some((o) => !o.ok)) fail(1);
    });
  withStackOptions(stack.command('booth-conf').description('print booth.conf for both sites and the arbitrator (a configuration with sites and booth)')).action((f: Flags) => {
    const st = stackFromFlags(f);
    if (!st.site?.booth) throw new StackError('booth-conf needs a configuration with sites and booth, and --site');
    process.stdout.write(boothConf(st.site.booth, st.services.map((s) => s.ticket)));
  });
  const site = program.command('site').description('two-site disaster recovery: status, takeover, handover, rejoin, salvage');
  withSiteOptions(site.command('status').argument('[service]').description('per service: the ticket, DRBD here, the peer as last seen'))
    .option('--output-as <fmt>', 'text or xml', 'text')
    .option('--json', 'JSON')
    .action(async (name: string | undefined, f: SiteFlags) => {
      const st = siteStack(f);
      const ctx = siteCtx(f, st);
      const views = (await siteStates(ctx.src, st, name ? [name] : [])).map((x) => view(x, st.site?.booth));
      if (f.json) process.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
      else if (f.outputAs === 'xml') process.stdout.write(renderXml(views));
      else if (f.outputAs === 'text') process.stdout.write(renderText(views));
      else throw new StackError(`--output-as ${f.outputAs}: text or xml`);
    });
  /** A site command acting on one service or --all. */
  const acting = (cmd: string, what: string, act: (ctx: SiteCtx, services: Service[], f: SiteFlags) => Promise<number>) =>
    withSiteOptions(site.command(cmd).argument('[service]').description(what))
      .option('--all', 'every service')
      .action(async (name: string | undefined, f: SiteFlags) => {
        const st = siteStack(f);
        fail(await act(siteCtx(f, st), servicesOf(st, name, f.all), f));
      });
  acting('takeover', 'serve here after the other site is lost: grant the ticket, guarded', (c, s, f) => takeover(c, s, !!f.acceptDataLoss))
    .option('--accept-data-loss', 'serve even though the other site may have acknowledged writes this copy lacks');
  acting('handover', 'planned switch, both sites up: run at the serving site, then at --to', (c, s, f) => handover(c, s, f.to!, !!f.otherSiteReleased))
    .requiredOption('--to <site>', 'the site that is to serve')
    .option('--other-site-released', 'at the receiving site, manual mode: the handover at the serving site finished (it prints this command); without it nothing is granted');
  acting('rejoin', 'at a returning site: reconnect DRBD as the sync target; never promotes', (c, s, f) => rejoin(c, s, !!f.discardLocal))
    .option('--discard-local', "after a split brain: throw away this site's writes since the split");
  withSiteOptions(site.command('salvage').argument('<service>').description("at a returning site in split brain: this side's data read-only, to copy from before rejoin --discard-local; --done puts it back"))
    .option('--mount-at <dir>', `where to mount it read-only (default: ${SALVAGE_ROOT}/SERVICE)`)
    .option('--no-replay', "mount without replaying the filesystem's journal (the copy untouched; writes only in the journal not shown)")
    .option('--done', 'unmount, demote and give the DRBD clone back to Pacemaker as it was')
    .action(async (name: string, f: SiteFlags) => {
      const st = siteStack(f);
      const [s] = pick(st, [name]);
      if (f.done && (f.mountAt !== undefined || f.replay === false)) throw new StackError('--done takes no --mount-at or --no-replay: it undoes the salvage recorded here');
      if (!f.done) salvageDir(s!, f.mountAt);
      const ctx = siteCtx(f, st);
      fail(f.done ? await salvageDone(ctx, s!) : await salvage(ctx, s!, f.mountAt, f.replay !== false));
    });
  program
    .command('doctor')
    .description("this node's view: cluster, scores, failed actions, failed or pending fencing, DRBD, mounts, exports, addresses")
    .action(async () => {
      process.stdout.write(`${(await doctor(runner())).join('\n')}\n`);
    });
  return program;
}

export async function main(args: readonly string[]): Promise<number> {
  let code = 0;
  const program = commandTree((c) => {
    code = c;
  });
  try {
    await program.parseAsync(['node', 'ocfkit', ...args]);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
    if (err.code?.startsWith('commander.')) return err.exitCode ?? 2;
    process.stderr.write(`ocfkit: ${err.message ?? String(e)}\n`);
    return e instanceof StackError || e instanceof SiteError ? EXIT.USAGE : EXIT.ERROR;
  }
  return code;
}
