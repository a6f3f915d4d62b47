// Where a malformed ONNX file goes in, each as its command or daemon runs it,
// in this process: `model info` (read, then analyse), `models add` (the
// controller's catalog, with its SQLite and artifact store), and the agent's
// loader (the detector on onnxruntime, then one frame through it, as serving
// starts). Each answers 'ok' or a rejection; a rejection is clear when it is
// the target's own error type and its message is one printable line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DetectorError, openDetector, type Detector } from '../../compress/detect/detector.js';
import { modelInfo } from '../../compress/onnx/info.js';
import type { Model } from '../../compress/onnx/ir.js';
import { ModelFormatError, readModelFile } from '../../compress/onnx/read.js';
import { ArtifactStore } from '../../controller/artifacts/store.js';
import { loadOrCreateSigningKey } from '../../controller/artifacts/signing.js';
import { Catalog, CatalogError } from '../../controller/catalog/catalog.js';
import { openDb, type Db } from '../../controller/db.js';
import { oneLine } from '../../protocol/one-line.js';

export const TARGETS = ['model info', 'models add', 'agent loader'] as const;
export type Target = (typeof TARGETS)[number];

/**
 * `clear`: what the user sees is one printable line from the target's own
 * refusal. `raw`: the cause was a JavaScript error of the code itself
 * (TypeError, RangeError: 'Invalid typed array length', 'Cannot read
 * properties of undefined'), a bug to fix even where a last-resort handler
 * turns it into one line.
 */
export type Outcome = { target: Target; result: 'ok' } | { target: Target; result: 'rejected'; clear: boolean; raw: boolean; message: string };

const isRaw = (err: unknown) => err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError || err instanceof ReferenceError;

function judged(target: Target, err: unknown, ownType: boolean): Outcome {
  const message = err instanceof Error ? err.message : String(err);
  return { target, result: 'rejected', clear: ownType && !isRaw(err) && message.length > 0 && oneLine(message, 2000) === message, raw: isRaw(err), message };
}

export class OnnxTargets {
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-fuzz-onnx-'));
  private readonly db: Db;
  private readonly catalog: Catalog;
  private n = 0;

  constructor() {
    this.db = openDb(this.dir);
    this.catalog = new Catalog(this.db, new ArtifactStore(this.db, this.dir, loadOrCreateSigningKey(this.dir)));
  }

  /** `edgefit model info FILE` as cli/model-info.ts runs it: a ModelFormatError from reading, or one line for an analysis that failed. */
  modelInfo(bytes: Uint8Array): Outcome {
    const file = path.join(this.dir, `m${this.n++}.onnx`);
    writeFileSync(file, bytes);
    try {
      let model: Model;
      try {
        model = readModelFile(file);
      } catch (err) {
        return judged('model info', err, err instanceof ModelFormatError);
      }
      try {
        modelInfo(model);
        return { target: 'model info', result: 'ok' };
      } catch (err) {
        // the command prints 'cannot analyse the model: <one line>' for it
        return { target: 'model info', result: 'rejected', clear: true, raw: isRaw(err), message: `cannot analyse the model: ${oneLine(err instanceof Error ? err.message : String(err))}` };
      }
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** `edgefit models add`: the catalog answers a CatalogError (HTTP 400); anything else would be a 500. */
  async modelsAdd(bytes: Uint8Array): Promise<Outcome> {
    try {
      await this.catalog.addModel(bytes, `fuzz-${this.n++}`);
      return { target: 'models add', result: 'ok' };
    } catch (err) {
      return judged('models add', err, err instanceof CatalogError);
    }
  }

  /** The agent's loader as serving opens a model (openDetector: class names from the file, then onnxruntime), then one frame (a failed run is a failed health check, so its message must be readable too). */
  async agentLoader(bytes: Uint8Array): Promise<Outcome> {
    const file = path.join(this.dir, `d${this.n++}.onnx`);
    writeFileSync(file, bytes);
    let detector: Detector;
    try {
      detector = await openDetector(file);
    } catch (err) {
      return judged('agent loader', err, err instanceof DetectorError);
    } finally {
      rmSync(file, { force: true });
    }
    try {
      await detector.detect({ width: 32, height: 32, rgb: new Uint8Array(32 * 32 * 3).fill(114) });
      return { target: 'agent loader', result: 'ok' };
    } catch (err) {
      // onnxruntime's run errors are plain Errors: clear when one line
      return judged('agent loader', err, !(err instanceof TypeError || err instanceof RangeError));
    } finally {
      await detector.release();
    }
  }

  async all(bytes: Uint8Array): Promise<Outcome[]> {
    return [this.modelInfo(bytes), await this.modelsAdd(bytes), await this.agentLoader(bytes)];
  }

  close(): void {
    this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
