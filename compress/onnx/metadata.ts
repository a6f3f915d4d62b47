// Ultralytics export metadata (ONNX metadata_props): class names as a Python
// dict literal, imgsz as a list, stride, task, version. Parsed leniently: a
// field that is missing or malformed comes back undefined, never throws.
import type { Model } from './ir.js';

export interface UltralyticsMetadata {
  /** Class id → name, from the `names` Python dict literal. */
  names?: Record<number, string>;
  /** [height, width]. */
  imgsz?: [number, number];
  stride?: number;
  task?: string;
  version?: string;
  batch?: number;
  description?: string;
  author?: string;
  license?: string;
  date?: string;
}

/**
 * Parses Python's repr of a dict of int → str, e.g. `{0: 'person', 1: "child's toy"}`.
 * Returns undefined on anything else.
 */
export function parsePythonNames(text: string): Record<number, string> | undefined {
  const out: Record<number, string> = {};
  let i = 0;
  const ws = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const expect = (c: string) => { ws(); if (text[i] !== c) throw new Error(`expected ${c}`); i++; };
  try {
    expect('{');
    ws();
    if (text[i] === '}') return out;
    for (;;) {
      ws();
      const m = /^-?\d+/.exec(text.slice(i));
      if (!m) throw new Error('expected an integer key');
      i += m[0].length;
      expect(':');
      ws();
      const q = text[i];
      if (q !== "'" && q !== '"') throw new Error('expected a string');
      i++;
      let s = '';
      while (i < text.length && text[i] !== q) {
        if (text[i] === '\\') {
          const e = text[++i];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        } else s += text[i];
        i++;
      }
      if (text[i] !== q) throw new Error('unterminated string');
      i++;
      out[Number(m[0])] = s;
      ws();
      if (text[i] === ',') { i++; ws(); if (text[i] === '}') break; continue; }
      if (text[i] === '}') break;
      throw new Error('expected , or }');
    }
    i++;
    ws();
    return i === text.length ? out : undefined;
  } catch {
    return undefined;
  }
}

function parseImgsz(text: string): [number, number] | undefined {
  const nums = text.match(/\d+/g)?.map(Number);
  if (!nums || nums.length === 0 || nums.length > 2) return undefined;
  return nums.length === 1 ? [nums[0], nums[0]] : [nums[0], nums[1]];
}

function parseInt10(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return Number.isInteger(n) ? n : undefined;
}

export function ultralyticsMetadata(model: Model): UltralyticsMetadata {
  const m = model.metadata;
  const out: UltralyticsMetadata = {};
  const names = m.get('names');
  if (names !== undefined) {
    const parsed = parsePythonNames(names);
    if (parsed) out.names = parsed;
  }
  const imgsz = m.get('imgsz');
  if (imgsz !== undefined) {
    const parsed = parseImgsz(imgsz);
    if (parsed) out.imgsz = parsed;
  }
  const stride = parseInt10(m.get('stride'));
  if (stride !== undefined) out.stride = stride;
  const batch = parseInt10(m.get('batch'));
  if (batch !== undefined) out.batch = batch;
  for (const key of ['task', 'version', 'description', 'author', 'license', 'date'] as const) {
    const v = m.get(key);
    if (v !== undefined) out[key] = v;
  }
  return out;
}
