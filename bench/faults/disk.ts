// A small tmpfs as an agent's state folder (its artifact cache, outbox and
// results), and the disk-full fault: a filler file takes every free byte but
// a few KiB, so the next artifact download fails with ENOSPC; removing it
// frees the disk again. Mount points carry this process's pid; those of dead
// runs are unmounted on start.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import path from 'node:path';
import { alive } from './netns.js';

/** The folder prefix of every mount point this campaign makes (under the OS temp dir). */
export const MOUNT_PREFIX = 'edgefit-fault-';
const FILLER = '.disk-filler';

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? (r.stderr || r.stdout).trim()}`);
}

/** Why a tmpfs cannot be mounted here (not root, a container without CAP_SYS_ADMIN), or null. */
export function tmpfsUnavailable(probeDir: string): string | null {
  const dir = path.join(probeDir, 'tmpfs-probe');
  mkdirSync(dir, { recursive: true });
  try {
    run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    run('umount', [dir]);
    return null;
  } catch (err) {
    return `cannot mount a tmpfs (${(err as Error).message.split('\n')[0]})`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function mountTmpfs(dir: string, sizeBytes: number): void {
  mkdirSync(dir, { recursive: true });
  run('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(sizeBytes / 1024)}k,mode=0755`, 'tmpfs', dir]);
}

export function unmount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/** Bytes free to an unprivileged writer on the file system holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Fills the disk under `dir` but `leaveBytes`; returns the filler's size. */
export function fillDisk(dir: string, leaveBytes = 16 * 1024): number {
  const file = path.join(dir, FILLER);
  const fd = openSync(file, 'a');
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  let written = 0;
  try {
    for (;;) {
      const room = freeBytes(dir) - leaveBytes;
      if (room <= 0) break;
      try {
        written += writeSync(fd, block, 0, Math.min(block.length, room));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

export function freeDisk(dir: string): void {
  rmSync(path.join(dir, FILLER), { force: true });
}

/** tmpfs mounts of runs whose process is gone. */
export function unmountLeftovers(): string[] {
  const removed: string[] = [];
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return removed;
  }
  for (const line of mounts.split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    const m = mountPoint && type === 'tmpfs' ? new RegExp(`/${MOUNT_PREFIX}(\\d+)-`).exec(mountPoint) : null;
    if (m && !alive(Number(m[1]))) {
      unmount(mountPoint);
      removed.push(mountPoint);
    }
  }
  return removed;
}
