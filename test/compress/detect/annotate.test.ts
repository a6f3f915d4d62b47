import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { boxSpan, classColor, drawDetections, encodeJpegCapped, labelRect, sceneOf } from '../../../compress/detect/annotate.js';
import type { RgbImage } from '../../../compress/detect/image.js';
import { letterboxGeometry } from '../../../compress/detect/letterbox.js';

function blank(width: number, height: number, value = 0): RgbImage {
  return { width, height, rgb: new Uint8Array(width * height * 3).fill(value) };
}
const px = (img: RgbImage, x: number, y: number) => Array.from(img.rgb.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

describe('drawDetections', () => {
  it('puts the outline on exactly the pixels the box spans, `thickness` deep inside it, and nowhere else', () => {
    const img = blank(40, 30);
    const out = drawDetections(img, [{ box: [5.2, 4.7, 20.1, 18], classId: 0, label: '' }], { thickness: 2 });
    // Worked out from the definition: columns floor(5.2)=5 .. ceil(20.1)-1=20, rows floor(4.7)=4 .. ceil(18)-1=17;
    // the outline is the two outermost columns and rows of that span: x ∈ {5,6,19,20} or y ∈ {4,5,16,17}.
    expect(boxSpan(5.2, 20.1, 40)).toEqual([5, 21]);
    expect(boxSpan(4.7, 18, 30)).toEqual([4, 18]);
    const red = [0xff, 0x38, 0x38];
    expect(classColor(0)).toEqual(red);
    let painted = 0;
    for (let y = 0; y < 30; y++) {
      for (let x = 0; x < 40; x++) {
        const inSpan = x >= 5 && x <= 20 && y >= 4 && y <= 17;
        const onEdge = inSpan && (x <= 6 || x >= 19 || y <= 5 || y >= 16);
        expect(px(out, x, y), `pixel ${x},${y}`).toEqual(onEdge ? red : [0, 0, 0]);
        if (onEdge) painted++;
      }
    }
    // 16×14 span less its 12×10 inside
    expect(painted).toBe(16 * 14 - 12 * 10);
    // the input frame is left as it was
    expect(img.rgb.every((v) => v === 0)).toBe(true);
  });

  it('clips a box that runs off the image, and draws the label tag with its glyphs where the font puts them', () => {
    const out = drawDetections(blank(30, 40), [{ box: [-3, 12, 50, 39.5], classId: 5, label: 'A' }], { thickness: 1, textScale: 2 });
    const c = classColor(5); // 48F90A: light, so the ink is black
    expect(c).toEqual([0x48, 0xf9, 0x0a]);
    // span x [0,30) (clipped), y [12,40): left column 0 and right column 29 painted on a row away from the tag
    expect(px(out, 0, 30)).toEqual([...c]);
    expect(px(out, 29, 30)).toEqual([...c]);
    expect(px(out, 15, 39)).toEqual([...c]);
    expect(px(out, 15, 30)).toEqual([0, 0, 0]);
    // tag: text width 5·2, height 7·2, padding 2 each side → 14×18; y0 = 12 < 18, so it sits inside, from (0, 12)
    expect(labelRect('A', 0, 12, 2)).toEqual({ x: 0, y: 12, width: 14, height: 18 });
    // 'A' row 0 is 01110: glyph column 0 is tag colour, columns 1-3 ink, at scale 2 from (2, 14)
    expect(px(out, 2, 14)).toEqual([...c]);
    expect(px(out, 3, 15)).toEqual([...c]);
    expect(px(out, 4, 14)).toEqual([0, 0, 0]);
    expect(px(out, 9, 15)).toEqual([0, 0, 0]);
    expect(px(out, 10, 14)).toEqual([...c]);
    // row 3 is 11111: all five glyph columns inked at y = 14 + 3·2
    for (let x = 2; x < 12; x++) expect(px(out, x, 20), `ink at ${x},20`).toEqual([0, 0, 0]);
    // a tag that fits above the box sits on its top edge
    expect(labelRect('person', 100, 50, 2)).toEqual({ x: 100, y: 50 - 18, width: (6 * 6 - 1) * 2 + 4, height: 18 });
  });

  it('takes a pre-letterboxed frame without its padding, with the scale from source pixels', () => {
    const t = letterboxGeometry(1280, 1080, 64, 64); // scale 0.05: 64×54 inside, 5 rows of padding above
    expect([t.newWidth, t.newHeight, t.padX, t.padY]).toEqual([64, 54, 0, 5]);
    const frame = { ...blank(64, 64, 114), letterbox: t };
    frame.rgb.fill(200, 5 * 64 * 3, 59 * 64 * 3);
    const { image, scale } = sceneOf(frame);
    expect([image.width, image.height, scale]).toEqual([64, 54, 0.05]);
    expect(image.rgb.every((v) => v === 200)).toBe(true);
  });
});

describe('encodeJpegCapped', () => {
  // Noise is JPEG's worst case: no quality alone brings 640×480 of it under 64 KiB.
  function noise(width: number, height: number): RgbImage {
    let s = 12345;
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
    return { width, height, rgb };
  }

  it('holds the cap: lower quality first, then a smaller image, and the bytes are a JPEG of the size it says', () => {
    const cap = 64 * 1024;
    const r = encodeJpegCapped(noise(640, 480), cap);
    expect(r.jpeg.length).toBeLessThanOrEqual(cap);
    expect(r.width).toBeLessThan(640);
    expect(r.width / r.height).toBeCloseTo(640 / 480, 1);
    const back = jpeg.decode(r.jpeg);
    expect([back.width, back.height]).toEqual([r.width, r.height]);

    // a flat image fits at the first quality and full size
    const flat = encodeJpegCapped(blank(640, 480, 90), cap);
    expect([flat.width, flat.height, flat.quality]).toEqual([640, 480, 80]);
    expect(flat.jpeg.length).toBeLessThanOrEqual(cap);
  });

  it('throws rather than exceed a cap no JPEG can meet', () => {
    expect(() => encodeJpegCapped(noise(64, 64), 100)).toThrow(/fits in 100 bytes/);
  });
});
