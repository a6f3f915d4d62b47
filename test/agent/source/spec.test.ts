import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../agent/source/backoff.js';
import { letterboxFilter } from '../../../agent/source/letterbox-filter.js';
import { parseSourceSpec, sourceName, SourceSpecError, type PathKind } from '../../../agent/source/spec.js';

/** A fake disk: the parser's only side effect is this lookup. */
const disk = (entries: Record<string, PathKind>) => (p: string) => entries[p] ?? null;
const parse = (text: string, entries: Record<string, PathKind> = {}) => parseSourceSpec(text, disk(entries));
const fails = (text: string, message: RegExp, entries: Record<string, PathKind> = {}) => {
  let err: unknown;
  try {
    parse(text, entries);
  } catch (e) {
    err = e;
  }
  expect(err, text).toBeInstanceOf(SourceSpecError);
  const line = (err as Error).message;
  expect(line).toMatch(message);
  expect(line).not.toContain('\n');
};

describe('--source spec parser', () => {
  it('tells files, folders, devices and streams apart', () => {
    expect(parse('clip.mp4', { 'clip.mp4': 'file' })).toEqual({ kind: 'video', path: 'clip.mp4' });
    expect(parse('cam.MKV', { 'cam.MKV': 'file' })).toEqual({ kind: 'video', path: 'cam.MKV' });
    expect(parse('a/bus.JPG', { 'a/bus.JPG': 'file' })).toEqual({ kind: 'image', path: 'a/bus.JPG' });
    expect(parse('x.png', { 'x.png': 'file' })).toEqual({ kind: 'image', path: 'x.png' });
    expect(parse('frames', { frames: 'dir' })).toEqual({ kind: 'folder', path: 'frames' });
    expect(parse('/dev/video2', { '/dev/video2': 'char' })).toEqual({ kind: 'device', path: '/dev/video2', index: 2 });
    expect(parse('rtsp://cam.local:554/stream1')).toEqual({ kind: 'stream', url: 'rtsp://cam.local:554/stream1', protocol: 'rtsp' });
    expect(parse('HTTP://10.0.0.9/video.mjpg')).toEqual({ kind: 'stream', url: 'http://10.0.0.9/video.mjpg', protocol: 'http' });
    expect(parse('https://cam/x').kind).toBe('stream');
    expect(parse('rtsps://cam/x').kind).toBe('stream');
  });

  it('answers everything else with one line that says what to give', () => {
    fails('file:///tmp/clip.mp4', /file:\/\/ URLs are not taken; give the path itself/);
    fails('udp://239.0.0.1:1234', /unknown scheme 'udp:\/\/'; streams are rtsp:\/\/, rtsps:\/\/, http:\/\/, https:\/\//);
    fails('missing.mp4', /missing\.mp4: no such file or folder/);
    fails('/dev/video', /needs its number, e.g\. \/dev\/video0/);
    fails('/dev/video7', /\/dev\/video7: no such device/);
    fails('/dev/video0', /not a character device/, { '/dev/video0': 'file' });
    fails('/dev/ttyS0', /only V4L2 devices/, { '/dev/ttyS0': 'char' });
    fails('', /empty/);
    fails('http://', /not a valid URL|no host/);
  });

  it('reads the real disk by default', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-spec-'));
    writeFileSync(path.join(dir, 'a.mp4'), 'x');
    expect(parseSourceSpec(dir)).toEqual({ kind: 'folder', path: dir });
    expect(parseSourceSpec(path.join(dir, 'a.mp4')).kind).toBe('video');
    expect(() => parseSourceSpec(path.join(dir, 'b.mp4'))).toThrow(/no such file or folder/);
  });

  it('never shows a stream password', () => {
    expect(sourceName(parse('rtsp://admin:s3cret@cam/1'))).toBe('rtsp://admin:***@cam/1');
  });
});

describe('letterbox filter graph', () => {
  const GREY = '0x727272'; // 114 in each of R, G, B

  it('bus.jpg (810×1080) into 640: scale min(640/1080, 640/810), centred in x', () => {
    // scale = 640/1080; 810·640/1080 = 480; pad (640 − 480)/2 = 80 left and right
    const { filter, transform } = letterboxFilter(810, 1080, 640);
    expect(filter).toBe(`format=rgb24,scale=480:640:flags=area,pad=640:640:80:0:color=${GREY}`);
    expect(transform).toMatchObject({ scale: 640 / 1080, padX: 80, padY: 0 });
  });

  it('1280×720 into 640×384: the width decides (0.5 < 384/720)', () => {
    // 640/1280 = 0.5; 720·0.5 = 360; (384 − 360)/2 = 12 top and bottom
    expect(letterboxFilter(1280, 720, 640, 384).filter).toBe(`format=rgb24,scale=640:360:flags=area,pad=640:384:0:12:color=${GREY}`);
  });

  it('an odd total pad puts the extra pixel at the bottom, and sizes round half to even', () => {
    // 100×51 into 64: scale 0.64, height 32.64 → 33, pad 31 = 15 above + 16 below
    expect(letterboxFilter(100, 51, 64).filter).toBe(`format=rgb24,scale=64:33:flags=area,pad=64:64:0:15:color=${GREY}`);
    // 1280×5 into 640: scale 0.5, height 2.5 → 2 (Python round), pad 638 = 319 + 319
    expect(letterboxFilter(1280, 5, 640).filter).toBe(`format=rgb24,scale=640:2:flags=area,pad=640:640:0:319:color=${GREY}`);
  });

  it('leaves out the steps a frame does not need', () => {
    expect(letterboxFilter(640, 640, 640).filter).toBe('format=rgb24');
    expect(letterboxFilter(640, 480, 640).filter).toBe(`format=rgb24,pad=640:640:0:80:color=${GREY}`);
    expect(letterboxFilter(320, 320, 640).filter).toBe('format=rgb24,scale=640:640:flags=area');
  });
});

describe('reconnect backoff', () => {
  const b = { baseMs: 500, capMs: 10_000 };
  it('doubles from the base, is capped, and half of it is jitter', () => {
    // random 0 → half the delay; random 1 → all of it
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, b, () => 0))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, b, () => 1))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(backoffDelay(2, b, () => 0.5)).toBe(1500);
  });
});
