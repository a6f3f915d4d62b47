import type { Sample } from '../../live/wire.js';

/**
 * Draws one FPS line on a small canvas: x spans the last `windowMs`, y spans
 * 0..max of the line (FPS near zero should look near zero); the canvas is
 * width × height CSS pixels. A canvas per row
 * instead of a chart instance per row: a thousand rows stay cheap.
 */
export function drawSparkline(canvas: HTMLCanvasElement, width: number, height: number, samples: readonly Sample[], now: number, windowMs: number, color: string): void {
  // The size comes from the caller, not clientWidth: reading layout between row writes would force a layout per row.
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  if (samples.length === 0) return;
  let max = 0;
  for (const [, v] of samples) if (v > max) max = v;
  const top = max > 0 ? max * 1.1 : 1;
  const x = (t: number) => ((t - (now - windowMs)) / windowMs) * (width - 2) + 1;
  const y = (v: number) => height - 2 - (v / top) * (height - 4);
  ctx.beginPath();
  samples.forEach(([t, v], i) => (i === 0 ? ctx.moveTo(x(t), y(v)) : ctx.lineTo(x(t), y(v))));
  ctx.lineWidth = 1.25;
  ctx.strokeStyle = color;
  ctx.lineJoin = 'round';
  ctx.stroke();
  // A soft fill under the line reads better at 24 px than a bare stroke.
  const last = samples[samples.length - 1];
  ctx.lineTo(x(last[0]), height);
  ctx.lineTo(x(samples[0][0]), height);
  ctx.closePath();
  ctx.globalAlpha = 0.15;
  ctx.fillStyle = color;
  ctx.fill();
  ctx.globalAlpha = 1;
  ctx.beginPath();
  ctx.arc(x(last[0]), y(last[1]), 1.8, 0, Math.PI * 2);
  ctx.fillStyle = color;
  ctx.fill();
}
