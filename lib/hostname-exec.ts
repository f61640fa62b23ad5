/**
 * `ocfkit with-hostname NAME -- CMD…`: run CMD with the UTS hostname set to NAME. Started under
 * `unshare --uts`, it changes only that namespace: rpc.nfsd takes the NFSv4 server scope from the
 * hostname of the process that starts the threads, so both nodes can present one scope.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export function withHostname(args: readonly string[]): number {
  const [name, sep, ...cmd] = args;
  if (!name || sep !== '--' || cmd.length === 0 || !/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(name)) {
    process.stderr.write('usage: ocfkit with-hostname NAME -- CMD [ARG…]   (run under unshare --uts)\n');
    return 2;
  }
  try {
    writeFileSync('/proc/sys/kernel/hostname', name);
  } catch (e) {
    process.stderr.write(`with-hostname: cannot set the hostname: ${(e as Error).message}\n`);
    return 1;
  }
  const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: 'inherit' });
  if (r.error) {
    process.stderr.write(`with-hostname: ${cmd[0]}: ${r.error.message}\n`);
    return 127;
  }
  return r.status ?? 1;
}
