// glibc's malloc settings for the profiling child. A fresh process starts with
// malloc's small thresholds: every buffer above 128 KiB that onnxruntime and
// the binding allocate per run (the output tensor, 2.7 MiB for yolov8n at 640)
// is handed back to the kernel when freed and faulted in again by the next run.
// A long-lived process (the agent serving, a test's own loop) has raised those
// thresholds long ago. Measured on this 2-core VM, float yolov8n at 640, two
// threads, 20 runs after 5 warm-up, three processes each: p50 44.6–46.1 ms with
// 516–691 page faults per run by default; 35.3–37.8 ms and 81–93 faults with
// both settings below; either one alone changes nothing (setting one turns off
// glibc's dynamic adjustment of the other). So the profile measured malloc, not
// the model, and read 10–20% slower than what the same device serves.

/** The environment variable glibc reads its tunables from, colon-separated. */
export const GLIBC_TUNABLES = 'GLIBC_TUNABLES';

/** Allocations below 32 MiB (glibc's ceiling) come from the heap, and freed memory stays with the process up to 256 MiB. */
const MALLOC_TUNABLES = ['glibc.malloc.mmap_threshold=33554432', 'glibc.malloc.trim_threshold=268435456'];

/**
 * The child's GLIBC_TUNABLES: the user's own, plus the malloc thresholds above
 * unless the user set either of them (theirs wins). musl and other platforms
 * ignore the variable.
 */
export function withMallocTunables(current: string | undefined): string {
  const own = (current ?? '').split(':').filter(Boolean);
  const names = new Set(own.map((t) => t.split('=')[0]));
  if (MALLOC_TUNABLES.some((t) => names.has(t.split('=')[0]))) return own.join(':');
  return [...own, ...MALLOC_TUNABLES].join(':');
}
