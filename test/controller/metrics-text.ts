// A small reader of the Prometheus text exposition format (0.0.4), for the
// metrics suites: prom-client writes the format but cannot read it back.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function value(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const v = Number(text);
  // prom-client writes NaN as 'Nan'; Prometheus reads it as Go's ParseFloat does, in any case
  if (Number.isNaN(v) && text.toLowerCase() !== 'nan') throw new Error(`not a sample value: ${text}`);
  return v;
}

/** Every sample line of a scrape; comments (# HELP, # TYPE) and blank lines skipped. A line that is neither throws. */
export function parseExposition(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1], labels, value: value(m[3]) });
  }
  return samples;
}

/** The samples of one metric whose labels include all of `labels`. */
export function samplesOf(samples: PromSample[], name: string, labels: Record<string, string> = {}): PromSample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The names under `# HELP` lines: every metric the scrape declares, with or without samples now. */
export function declaredMetrics(text: string): Set<string> {
  return new Set([...text.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]));
}
