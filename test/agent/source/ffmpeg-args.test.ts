import { describe, expect, it } from 'vitest';
import { decodeArgs, ffmpegRelease, inputArgs } from '../../../agent/source/ffmpeg.js';

describe('ffmpeg command lines', () => {
  it('reads the release from -version strings of Debian, Ubuntu, static and git builds', () => {
    expect(ffmpegRelease('5.1.6-0+deb12u1')).toEqual([5, 1]);
    expect(ffmpegRelease('4.4.2-0ubuntu0.22.04.1')).toEqual([4, 4]);
    expect(ffmpegRelease('n7.1')).toEqual([7, 1]);
    expect(ffmpegRelease('N-112233-g0123abcd')).toBeNull();
  });

  it('spells options for the ffmpeg at hand: -stimeout and -vsync before 5.0/5.1', () => {
    const rtsp = { kind: 'stream', url: 'rtsp://cam/1', protocol: 'rtsp' } as const;
    expect(inputArgs(rtsp, [5, 1])).toEqual(['-rtsp_transport', 'tcp', '-timeout', '5000000', '-i', 'rtsp://cam/1']);
    // 4.x's -timeout is a listen timeout: it would wait for the camera to connect to us
    expect(inputArgs(rtsp, [4, 4])).toEqual(['-rtsp_transport', 'tcp', '-stimeout', '5000000', '-i', 'rtsp://cam/1']);
    expect(inputArgs(rtsp, null)).toContain('-timeout');
    const video = { kind: 'video', path: 'a.mp4' } as const;
    const o = { filter: 'format=rgb24', realtime: true, loop: true };
    expect(decodeArgs(video, { ...o, release: [5, 1] })).toEqual([
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-noautorotate', '-re', '-stream_loop', '-1', '-i', 'a.mp4',
      '-map', '0:v:0', '-an', '-sn', '-dn', '-vf', 'format=rgb24', '-fps_mode', 'passthrough', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1',
    ]);
    expect(decodeArgs(video, { ...o, release: [5, 0] })).toContain('-vsync');
    expect(decodeArgs(video, { ...o, realtime: false, loop: false, release: null })).not.toContain('-re');
    const cam = decodeArgs({ kind: 'device', path: '/dev/video0', index: 0 }, { ...o, release: [6, 0] });
    expect(cam.slice(cam.indexOf('-i') - 2, cam.indexOf('-i') + 2)).toEqual(['-f', 'v4l2', '-i', '/dev/video0']);
    expect(cam).toContain('nobuffer');
  });
});
