/** OCF 1.1 exit codes (resource-agent-api.md, "Exit Status Codes"). */
export const OCF = {
  SUCCESS: 0,
  ERR_GENERIC: 1,
  ERR_ARGS: 2,
  ERR_UNIMPLEMENTED: 3,
  ERR_PERM: 4,
  ERR_INSTALLED: 5,
  ERR_CONFIGURED: 6,
  NOT_RUNNING: 7,
  RUNNING_PROMOTED: 8,
  FAILED_PROMOTED: 9,
} as const;

export type OcfCode = (typeof OCF)[keyof typeof OCF];

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(OCF).map(([k, v]) => [v, k]),
);

export function codeName(code: number): string {
  return NAMES[code] ?? `UNKNOWN(${code})`;
}

/**
 * An outcome an action can end with anywhere in its call tree: thrown, caught once by the
 * runtime, and turned into the exit code plus the `ocf-exit-reason:` line.
 */
export class OcfError extends Error {
  constructor(
    readonly code: OcfCode,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'OcfError';
  }
}

export const fail = {
  generic: (reason: string) => new OcfError(OCF.ERR_GENERIC, reason),
  args: (reason: string) => new OcfError(OCF.ERR_ARGS, reason),
  perm: (reason: string) => new OcfError(OCF.ERR_PERM, reason),
  installed: (reason: string) => new OcfError(OCF.ERR_INSTALLED, reason),
  configured: (reason: string) => new OcfError(OCF.ERR_CONFIGURED, reason),
  notRunning: (reason: string) => new OcfError(OCF.NOT_RUNNING, reason),
};
