/** The record `site salvage` keeps of what it changed at this site, beside drbd-promote's peer records. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeDurably } from '../../lib/durable-file';

/** What `site salvage` left behind at this site (commands/site/salvage.ts keeps it on disk). */
export interface SalvageRecord {
  readonly service: string;
  readonly drbd_resource: string;
  readonly mountAt: string;
  /** The clone's maintenance meta attribute before salvage set it (null: it had none). */
  readonly maintenanceBefore: string | null;
  readonly at: string;
}

const recordPath = (stateDir: string, service: string) => join(stateDir, `salvage-${service}.json`);

export function readSalvageRecord(stateDir: string, service: string): SalvageRecord | undefined {
  let text: string;
  try {
    text = readFileSync(recordPath(stateDir, service), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as SalvageRecord;
  } catch (e) {
    throw new Error(`${recordPath(stateDir, service)}: not a salvage record (${(e as Error).message}): look at it, undo by hand what it names, remove it`);
  }
}

/** Written before the first change and made durable: a crash in between must not lose what to restore. */
export function writeSalvageRecord(stateDir: string, rec: SalvageRecord): void {
  writeDurably(recordPath(stateDir, rec.service), `${JSON.stringify(rec, null, 1)}\n`);
}

export function removeSalvageRecord(stateDir: string, service: string): void {
  rmSync(recordPath(stateDir, service), { force: true });
}
