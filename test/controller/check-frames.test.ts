import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticFrames } from '../../agent/serve/frames.js';
import { decodeImage } from '../../compress/detect/image.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { loadOrCreateSigningKey } from '../../controller/artifacts/signing.js';
import { ArtifactStore } from '../../controller/artifacts/store.js';
import { Catalog } from '../../controller/catalog/catalog.js';
import { chooseFrames } from '../../controller/check/frames.js';
import { openDb, type Db } from '../../controller/db.js';
import { checkRef, refKind } from '../../protocol/artifacts.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';

describe.skipIf(!haveFixtures)(`the on-device check's reference frames${haveFixtures ? '' : ` (skipped: ${fixturesSkipReason})`}`, () => {
  let dir: string;
  let db: Db;
  let catalog: Catalog;
  let publicKeyPem: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-check-frames-'));
    db = openDb(dir);
    const key = loadOrCreateSigningKey(dir);
    publicKeyPem = key.publicKeyPem;
    catalog = new Catalog(db, new ArtifactStore(db, dir, key));
  });

  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes up to four of the model's eval images, signed as frames, and stores each image once", async () => {
    const model = await catalog.addModel(readFileSync(fixture('models', 'yolov8n_int8_qdq.onnx')), 'yolov8n');
    catalog.createJob(model.id, { ladder: 'quick', calibDir: fixture('coco8', 'images', 'train'), evalDir: fixture('coco8', 'images', 'val') }, 0);
    const { refs, source } = await chooseFrames(catalog, model.id);
    expect(source).toBe(fixture('coco8', 'images', 'val'));
    // the four val images in name order, by content
    expect(refs.map((r) => r.sha256)).toEqual(['36', '42', '49', '61'].map((n) => sha256(readFileSync(fixture('coco8', 'images', 'val', `0000000000${n}.jpg`)))));
    for (const ref of refs) {
      expect(checkRef(ref, publicKeyPem).ok).toBe(true);
      expect(refKind(ref)).toBe('frame');
    }
    expect((await chooseFrames(catalog, model.id)).refs).toEqual(refs);
  });

  it('falls back to the built-in scenes for a real model without images (the pixels the agent serves), and to none for synthetic weights', async () => {
    const bare = await catalog.addModel(readFileSync(fixture('models', 'yolov8n_pruned_int8_qdq.onnx')), 'pruned');
    const { refs, source } = await chooseFrames(catalog, bare.id);
    expect(source).toBe('built-in scenes');
    expect(refs).toHaveLength(4);
    const scenes = syntheticFrames();
    for (const ref of refs) {
      expect(refKind(ref)).toBe('frame');
      const shipped = decodeImage(readFileSync(catalog.artifacts.pathOf(ref.sha256)!));
      const served = await scenes.next();
      expect([shipped.width, shipped.height]).toEqual([served.width, served.height]);
      // JPEG at quality 90: within a few levels of the scene on average (the device and the controller decode the same bytes)
      let diff = 0;
      for (let i = 0; i < served.rgb.length; i++) diff += Math.abs(shipped.rgb[i] - served.rgb[i]);
      expect(diff / served.rgb.length).toBeLessThan(6);
    }
    const synthetic = await catalog.addModel(writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 2 })), 'synth');
    expect(await chooseFrames(catalog, synthetic.id)).toEqual({ refs: [], source: 'synthetic weights: their detections say nothing, so there is nothing to check' });
  });
});

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
