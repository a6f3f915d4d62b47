import { describe, expect, it } from 'vitest';
import { withMallocTunables } from '../../agent/profile/malloc-tunables.js';

const OURS = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456';

describe("the profiling child's malloc tunables", () => {
  it('sets both thresholds when the user set none (either one alone left the page faults as they were)', () => {
    expect(withMallocTunables(undefined)).toBe(OURS);
    expect(withMallocTunables('')).toBe(OURS);
  });

  it("keeps the user's other tunables, in their order, before its own", () => {
    expect(withMallocTunables('glibc.cpu.hwcaps=-AVX512F:glibc.malloc.arena_max=2')).toBe(`glibc.cpu.hwcaps=-AVX512F:glibc.malloc.arena_max=2:${OURS}`);
  });

  it('leaves the malloc thresholds to a user who set either of them', () => {
    expect(withMallocTunables('glibc.malloc.trim_threshold=0')).toBe('glibc.malloc.trim_threshold=0');
    expect(withMallocTunables('glibc.malloc.mmap_threshold=65536::glibc.cpu.x86_rep_movsb_threshold=4096')).toBe('glibc.malloc.mmap_threshold=65536:glibc.cpu.x86_rep_movsb_threshold=4096');
  });
});
