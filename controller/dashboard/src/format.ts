// Display formatting. Missing readings are an en dash, never a zero.

export const NONE = '–';

export function num(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined || !Number.isFinite(value) ? NONE : value.toFixed(digits);
}

export function mb(value: number | null | undefined): string {
  if (value === null || value === undefined) return NONE;
  return value >= 1024 ? `${(value / 1024).toFixed(1)} GB` : `${value.toFixed(0)} MB`;
}

export function bytes(value: number | null | undefined): string {
  return value === null || value === undefined ? NONE : mb(value / (1024 * 1024));
}

/** "4 s ago", "3 min ago", "2 h ago", "5 d ago"; "never" for null. */
export function ago(time: number | null, now: number): string {
  if (time === null) return 'never';
  const s = Math.max(0, Math.round((now - time) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

export function dateTime(time: number | null): string {
  return time === null ? NONE : new Date(time).toLocaleString();
}

export function labels(map: Record<string, string>): string[] {
  return Object.entries(map).map(([k, v]) => `${k}=${v}`);
}

/** Long machine messages (onnxruntime errors) cut for a table cell; the full text goes in the title. */
export function clip(text: string, max = 180): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
