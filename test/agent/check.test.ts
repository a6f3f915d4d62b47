import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCheck } from '../../agent/profile/check.js';
import { openDetector } from '../../compress/detect/detector.js';
import { readImage } from '../../compress/detect/image.js';
import { CheckReport } from '../../protocol/messages.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';

const bus = () => fixture('images', 'bus.jpg');
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(!haveFixtures)(`the device side of the on-device check${haveFixtures ? '' : ` (skipped: ${fixturesSkipReason})`}`, () => {
  it('returns the candidate\'s detections in the frame\'s own pixels, as the protocol carries them', async () => {
    const detector = await openDetector(fixture('models', 'yolov8n_int8_qdq.onnx'), { intraOpThreads: 1 });
    try {
      const report = await runCheck(detector, [{ sha256: sha(bus()), path: bus() }]);
      expect(CheckReport.safeParse(report).success).toBe(true);
      expect(report.frames.map((f) => f.sha256)).toEqual([sha(bus())]);
      expect(report.ms).toBeGreaterThan(0);
      const { width, height } = await readImage(bus());
      const dets = report.frames[0].detections;
      // bus.jpg: 4 people and a bus at conf 0.25 (PROVENANCE.md); the check ranks down to conf 0.001 as fidelity does
      expect(dets.filter((d) => d[4] >= 0.25 && d[5] === 0).length).toBeGreaterThanOrEqual(3);
      expect(dets.some((d) => d[4] >= 0.25 && d[5] === 5)).toBe(true);
      expect(dets.some((d) => d[4] < 0.25)).toBe(true);
      for (const [x1, y1, x2, y2] of dets) {
        expect(x1).toBeGreaterThanOrEqual(0);
        expect(y1).toBeGreaterThanOrEqual(0);
        expect(x2).toBeLessThanOrEqual(width);
        expect(y2).toBeLessThanOrEqual(height);
      }
    } finally {
      await detector.release();
    }
  }, 60_000);

  it('finds nothing with the broken qlinear fixture (every class score 0), which is what the controller must catch', async () => {
    const detector = await openDetector(fixture('models', 'yolov8n_int8_qlinear_broken.onnx'), { intraOpThreads: 1 });
    try {
      const report = await runCheck(detector, [{ sha256: sha(bus()), path: bus() }]);
      expect(report.frames[0].detections).toEqual([]);
    } finally {
      await detector.release();
    }
  }, 60_000);
});
