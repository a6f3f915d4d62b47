/**
 * Board identity from the device tree (`/proc/device-tree/model`, same content as
 * `/sys/firmware/devicetree/base/model`). The real file is NUL-terminated with no newline.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export type BoardFamily =
  | 'jetson-thor'
  | 'jetson-orin'
  | 'jetson-xavier'
  | 'jetson-tx2'
  | 'jetson-tx1'
  | 'jetson-nano'
  | 'jetson-other'
  | 'raspberry-pi-5'
  | 'raspberry-pi-4'
  | 'raspberry-pi-3'
  | 'raspberry-pi-other'
  | 'unknown';

export interface BoardIdentity {
  /** The model string without its NUL terminator. */
  model: string;
  family: BoardFamily;
}

/** Decode the raw file: drop NUL terminator(s) and surrounding whitespace; null when empty. */
export function parseModel(raw: Buffer | string): string | null {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  // A device-tree string property ends at its first NUL.
  const first = text.split('\0')[0].trim();
  return first === '' ? null : first;
}

/**
 * Family from the model string. Orin is tested before Nano because the Orin Nano's string
 * ("NVIDIA Orin Nano Developer Kit") contains "Nano". Legacy L4T strings: `jetson-nano` (before
 * L4T 32.2), `jetson-xavier` (32.1) and `Jetson-AGX` (32.2, the AGX Xavier).
 */
export function classifyBoard(model: string): BoardFamily {
  const m = model.toLowerCase();
  const pi = /raspberry pi (?:compute module )?(\d)/.exec(m);
  if (pi) {
    // Pi 400 / CM4 share the Pi 4's BCM2711, Pi 500 / CM5 the Pi 5's BCM2712.
    if (pi[1] === '5') return 'raspberry-pi-5';
    if (pi[1] === '4') return 'raspberry-pi-4';
    if (pi[1] === '3') return 'raspberry-pi-3';
    return 'raspberry-pi-other';
  }
  if (m.includes('raspberry pi')) return 'raspberry-pi-other';
  const jetson = m.includes('jetson') || m.includes('nvidia') || m.includes('orin') || m.includes('xavier');
  if (!jetson) return 'unknown';
  if (m.includes('thor')) return 'jetson-thor';
  if (m.includes('orin')) return 'jetson-orin';
  if (m.includes('xavier') || /^jetson[- ]agx$/.test(m)) return 'jetson-xavier';
  if (m.includes('tx2')) return 'jetson-tx2';
  if (m.includes('tx1')) return 'jetson-tx1';
  if (m.includes('nano')) return 'jetson-nano';
  return 'jetson-other';
}

export function identifyBoard(raw: Buffer | string): BoardIdentity | null {
  const model = parseModel(raw);
  return model === null ? null : { model, family: classifyBoard(model) };
}

export interface BoardModelRoots {
  /** Root under which `proc/device-tree/model` is read; default `/`. */
  procRoot?: string;
  /** Root under which `sys/firmware/devicetree/base/model` is read as a fallback; default `/`. */
  sysfsRoot?: string;
}

/** Read and classify the board; null when no device tree exists (x86 hosts). */
export async function readBoardIdentity(roots: BoardModelRoots = {}): Promise<BoardIdentity | null> {
  const candidates = [
    path.join(roots.procRoot ?? '/', 'proc', 'device-tree', 'model'),
    path.join(roots.sysfsRoot ?? '/', 'sys', 'firmware', 'devicetree', 'base', 'model'),
  ];
  for (const file of candidates) {
    try {
      const identity = identifyBoard(await readFile(file));
      if (identity) return identity;
    } catch {
      // Absent on hosts without a device tree; try the next location.
    }
  }
  return null;
}
