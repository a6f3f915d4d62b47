/** Progress of a run over images: how many are done, of how many. */
export type ProgressCallback = (done: number, total: number) => void;

export interface ProgressBar {
  update: ProgressCallback;
  /** Clears the bar line (call before printing results). */
  finish(): void;
}

/**
 * A one-line bar on stderr, drawn only when stderr is a terminal, so piped
 * or --json output never carries control characters. Redraws at most ~10×/s.
 */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return { update: () => undefined, finish: () => undefined };
  const start = Date.now();
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (done < total && now - last < 100) return;
      last = now;
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      const secs = ((now - start) / 1000).toFixed(1);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${secs}s`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}
