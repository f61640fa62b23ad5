import type { AnyAgent } from '../lib/ocf/agent';
import { drbdPromote } from './drbd-promote';
import { fsMount } from './fs-mount';
import { nfsExport } from './nfs-export';
import { vip } from './vip';

/** Every agent the binary carries, by the name it is installed (and called) under. */
export const AGENTS: Readonly<Record<string, AnyAgent>> = { vip, 'fs-mount': fsMount, 'drbd-promote': drbdPromote, 'nfs-export': nfsExport };
