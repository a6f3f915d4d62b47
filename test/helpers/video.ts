import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { findOnPath } from '../../agent/source/ffmpeg.js';
import { fixture } from '../fixtures.js';

export const ffmpegPath = findOnPath('ffmpeg');
export const haveFfmpeg = ffmpegPath !== null && findOnPath('ffprobe') !== null;
export const ffmpegSkipReason = 'needs ffmpeg and ffprobe on PATH (Debian: apt install ffmpeg)';

/**
 * Four seconds of H.264 at 5 fps, 1280×1080: bus.jpg (810×1080) centred for
 * two seconds, then zidane.jpg (1280×720) centred for two, both at their own
 * pixels on black, so the detections are the photos' own.
 */
export function encodeFixtureClip(dir: string): string {
  const out = path.join(dir, 'bus-zidane.mp4');
  const graph =
    '[0]pad=1280:1080:(ow-iw)/2:0:color=black,setsar=1[a];[1]pad=1280:1080:0:(oh-ih)/2:color=black,setsar=1[b];' +
    '[a][b]concat=n=2:v=1,format=yuv420p[v]';
  execFileSync(ffmpegPath!, [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-loop', '1', '-framerate', '5', '-t', '2', '-i', fixture('images', 'bus.jpg'),
    '-loop', '1', '-framerate', '5', '-t', '2', '-i', fixture('images', 'zidane.jpg'),
    '-filter_complex', graph, '-map', '[v]', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '5', out,
  ]);
  return out;
}
