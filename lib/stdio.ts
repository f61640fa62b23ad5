/**
 * Synchronous standard output and error. Under Bun a write to a pipe is queued and process.exit()
 * drops whatever the pipe has not taken yet (seen: 64 KiB of a 144 KiB `stack plan` read by a slow
 * reader). An agent's exit reason, its meta-data and a command's output must never be cut, so
 * every write to fd 1 and 2 goes straight to the descriptor before the call returns.
 */
import { writeSync } from 'node:fs';

/** How long a full pipe (a reader that stopped reading) may hold up one write. */
const STALL_LIMIT_MS = 5000;
const pause = new Int32Array(new SharedArrayBuffer(4));

export function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  let stalledSince = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
      stalledSince = 0;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A descriptor left non-blocking by whoever started us: wait for the reader, boundedly.
      if (code !== 'EAGAIN') return;
      const now = performance.now();
      if (stalledSince === 0) stalledSince = now;
      else if (now - stalledSince > STALL_LIMIT_MS) return;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}

type WriteCallback = (err?: Error | null) => void;

function syncWrite(fd: number) {
  return (chunk: string | Uint8Array, encOrCb?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean => {
    const data = typeof chunk === 'string' && typeof encOrCb === 'string' && encOrCb !== 'utf8' ? Buffer.from(chunk, encOrCb) : chunk;
    writeAll(fd, data);
    const done = typeof encOrCb === 'function' ? encOrCb : cb;
    if (done) queueMicrotask(() => done(null));
    return true;
  };
}

/** Makes process.stdout.write and process.stderr.write synchronous, for every module at once. */
export function makeStdioSynchronous(): void {
  process.stdout.write = syncWrite(1) as typeof process.stdout.write;
  process.stderr.write = syncWrite(2) as typeof process.stderr.write;
}
