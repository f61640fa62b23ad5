/** `ocfkit stack …`: generate, apply, check and simulate the HA NFS stack. */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { Deadline } from '../lib/ocf/deadline';
import { type Runner, run } from '../lib/run';
import { apply } from './stack/apply';
import { check } from './stack/check';
import { doctor } from './doctor';
import { type Stack, StackError, parseStack } from './stack/model';
import { PCS_VERSIONS, type PcsVersion, detectPcsVersion, forPcs, pcsVersionOf } from './stack/pcs-version';
import { plan, renderPlan } from './stack/plan';
import { renderOutcomes, simulate } from './stack/simulate';

interface Flags {
  config?: string;
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
}

/** A stack from --config FILE, or one service from flags. */
export function stackFromFlags(f: Flags): Stack {
  if (f.config) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(f.config, 'utf8'));
    } catch (e) {
      throw new StackError(`${f.config}: ${(e as Error).message}`);
    }
    return parseStack(raw);
  }
  const fencing =
    f.fencing === undefined || f.fencing === 'none'
      ? null
      : { agent: f.fencing, options: Object.fromEntries(f.fenceOption.map((o) => [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)])) };
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
      },
    ],
  });
}

function withStackOptions(c: Command): Command {
  return c
    .option('-c, --config <file>', 'stack description (JSON); see README')
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
    .addOption(new Option('--fence-option <k=v>', 'fence agent option (repeatable)').default([]).argParser((v: string, acc: string[]) => [...acc, v]));
}

/** --pcs-version, else the pcs of this node, else 0.11; and where the choice came from. */
async function pcsTarget(f: { pcsVersion?: string }, run: Runner): Promise<{ version: PcsVersion; from: string }> {
  if (f.pcsVersion !== undefined) {
    try {
      return { version: pcsVersionOf(f.pcsVersion), from: '--pcs-version' };
    } catch (e) {
      throw new StackError(`--pcs-version: ${(e as Error).message}`);
    }
  }
  const here = await detectPcsVersion(run);
  return here ? { version: here, from: 'pcs --version on this node' } : { version: '0.11', from: 'the default: no pcs on this machine' };
}

const PCS_VERSION_HELP = `pcs syntax of the target: ${PCS_VERSIONS.join(' or ')} (default: what pcs --version says here, else 0.11)`;

function runner(): Runner {
  const deadline = new Deadline(60 * 60_000, 'ocfkit stack');
  return (argv, o) => run(argv, { ...o, deadline });
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
      process.stdout.write(renderPlan(forPcs(steps, pcs.version)).replace('\n', `\n# For pcs ${pcs.version} (${pcs.from}).\n`));
    });
  withStackOptions(stack.command('apply').description('run the plan against a CIB file (pcs -f) or the live cluster'))
    .option('--cib <file>', 'CIB file to write (created when missing)')
    .option('--live', 'apply to the running cluster')
    .option('--pcs-version <version>', PCS_VERSION_HELP)
    .action(async (f: Flags & { cib?: string; live?: boolean; pcsVersion?: string }) => {
      if (!f.cib === !f.live) throw new StackError('give exactly one of --cib FILE and --live');
      const steps = plan(stackFromFlags(f));
      const run = runner();
      await apply(run, forPcs(steps, (await pcsTarget(f, run)).version), f.cib, (l) => process.stdout.write(`${l}\n`));
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
  program
    .command('doctor')
    .description("this node's view: cluster, DRBD, mounts, exports, addresses, scores, failed actions")
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
    return e instanceof StackError ? 2 : 1;
  }
  return code;
}
