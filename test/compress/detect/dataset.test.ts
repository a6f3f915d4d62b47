import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { DatasetError, labelPathFor, labelsToBoxes, loadDataset, parseYoloLabels } from '../../../compress/detect/dataset.js';

const root = mkdtempSync(path.join(tmpdir(), 'edgefit-dataset-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const JPEG = jpeg.encode({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 4).fill(200) }, 90).data;

function write(rel: string, content: string | Uint8Array): void {
  const full = path.join(root, rel);
  mkdirSync(path.dirname(full), { recursive: true });
  writeFileSync(full, content);
}

describe('parseYoloLabels', () => {
  it('parses class cx cy w h lines and skips blank lines', () => {
    expect(parseYoloLabels('0 0.5 0.5 0.2 0.4\n\n16 0.1 0.2 0.3 0.4\r\n', 'l.txt')).toEqual([
      { classId: 0, cx: 0.5, cy: 0.5, w: 0.2, h: 0.4 },
      { classId: 16, cx: 0.1, cy: 0.2, w: 0.3, h: 0.4 },
    ]);
  });

  it('reports malformed lines with file:line', () => {
    expect(() => parseYoloLabels('0 0.5 0.5 0.2 0.4\n0 0.5 0.5', 'a.txt')).toThrow(/^a\.txt:2: expected 'class cx cy w h'/);
    expect(() => parseYoloLabels('x 0.5 0.5 0.2 0.4', 'b.txt')).toThrow(/b\.txt:1: class must be/);
    expect(() => parseYoloLabels('1.5 0.5 0.5 0.2 0.4', 'b.txt')).toThrow(/class must be/);
    expect(() => parseYoloLabels('\n\n0 0.5 1.5 0.2 0.4', 'c.txt')).toThrow(/c\.txt:3: cy must be a number in \[0, 1\]/);
    expect(() => parseYoloLabels('0 0.5 0.5 nan 0.4', 'c.txt')).toThrow(/w must be/);
  });

  it('converts normalized labels to pixel corners', () => {
    expect(labelsToBoxes([{ classId: 2, cx: 0.5, cy: 0.25, w: 0.5, h: 0.5 }], 200, 100)).toEqual([{ classId: 2, box: [50, 0, 150, 50] }]);
  });
});

describe('loadDataset', () => {
  it('takes every split under images/ and pairs labels by ultralytics path rule', async () => {
    write('ds/images/train/a.jpg', JPEG);
    write('ds/images/val/b.jpg', JPEG);
    write('ds/images/val/c.png', JPEG); // extension lies: caught when decoded, not here
    write('ds/images/val/notes.txt', 'hello');
    write('ds/images/val/d.webp', 'x');
    write('ds/labels/train/a.txt', '0 0.5 0.5 0.5 0.5\n');
    write('ds/labels/val/b.txt', '1 0.5 0.5 0.5 0.5\n2 0.1 0.1 0.1 0.1\n');
    const ds = await loadDataset(path.join(root, 'ds'));
    expect(ds.items.map((i) => path.relative(root, i.imagePath))).toEqual(['ds/images/train/a.jpg', 'ds/images/val/b.jpg', 'ds/images/val/c.png']);
    expect(ds.items.map((i) => i.labels?.length)).toEqual([1, 2, 0]); // c has no .txt: background
    expect(ds.labeled).toBe(true);
    expect(ds.warnings).toHaveLength(2);
    expect(ds.warnings.join('\n')).toMatch(/d\.webp: WEBP is not supported/);
    expect(ds.warnings.join('\n')).toMatch(/notes\.txt: not an image/);
  });

  it('accepts one split folder directly', async () => {
    const ds = await loadDataset(path.join(root, 'ds', 'images', 'val'));
    expect(ds.items).toHaveLength(2);
    expect(ds.items[0].labels).toHaveLength(2);
  });

  it('a plain folder of images is unlabeled', async () => {
    write('plain/x.jpg', JPEG);
    write('plain/y.JPEG', JPEG);
    const ds = await loadDataset(path.join(root, 'plain'));
    expect(ds.items).toHaveLength(2);
    expect(ds.labeled).toBe(false);
    expect(ds.items[0].labels).toBeUndefined();
  });

  it('reports a malformed label with its file and line', async () => {
    write('bad/images/a.jpg', JPEG);
    write('bad/labels/a.txt', '0 0.5 0.5 0.5 0.5\n0 0.5 0.5 0.5\n');
    await expect(loadDataset(path.join(root, 'bad'))).rejects.toThrow(/bad\/labels\/a\.txt:2: expected/);
  });

  it('gives clear errors for missing, non-directory and empty folders', async () => {
    await expect(loadDataset(path.join(root, 'nope'))).rejects.toThrow(DatasetError);
    await expect(loadDataset(path.join(root, 'nope'))).rejects.toThrow(/no such directory/);
    write('file.txt', 'x');
    await expect(loadDataset(path.join(root, 'file.txt'))).rejects.toThrow(/not a directory/);
    mkdirSync(path.join(root, 'empty', 'images'), { recursive: true });
    await expect(loadDataset(path.join(root, 'empty'))).rejects.toThrow(/no JPEG or PNG images/);
  });

  it('labelPathFor swaps the last images folder for labels', () => {
    expect(labelPathFor(['', 'd', 'images', 'val', 'x.jpg'].join(path.sep))).toBe(['', 'd', 'labels', 'val', 'x.txt'].join(path.sep));
    expect(labelPathFor(['', 'd', 'pics', 'x.jpg'].join(path.sep))).toBeUndefined();
  });
});
