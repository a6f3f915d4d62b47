import uPlot from 'uplot';
import type { Sample } from '../../live/wire.js';

const AXIS = { stroke: '#8b97a6', grid: { stroke: '#263040', width: 1 }, ticks: { stroke: '#263040', width: 1 }, font: '11px system-ui, sans-serif' };

function sizeOf(el: HTMLElement, height: number): { width: number; height: number } {
  return { width: Math.max(200, el.clientWidth), height };
}

/** Keeps a chart as wide as its container. */
function follow(el: HTMLElement, chart: uPlot, height: number): ResizeObserver {
  const observer = new ResizeObserver(() => chart.setSize(sizeOf(el, height)));
  observer.observe(el);
  return observer;
}

export interface TimeChart {
  append(sample: Sample): void;
  destroy(): void;
}

/** A live line over time (x in seconds, as uPlot's time axis expects). */
export function timeChart(el: HTMLElement, label: string, unit: string, color: string, samples: Sample[], windowMs: number): TimeChart {
  const height = 180;
  const xs = samples.map(([t]) => t / 1000);
  const ys = samples.map(([, v]) => v);
  const chart = new uPlot(
    {
      ...sizeOf(el, height),
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.15 : 1] } },
      axes: [AXIS, { ...AXIS, size: 48, values: (_u, ticks) => ticks.map((v) => `${v}`) }],
      series: [{}, { label: `${label} (${unit})`, stroke: color, width: 1.5, fill: `${color}22`, points: { show: false }, value: (_u, v) => (v === null ? '–' : v.toFixed(1)) }],
    },
    [xs, ys],
    el,
  );
  const observer = follow(el, chart, height);
  return {
    append([t, v]) {
      const x = t / 1000;
      const last = xs[xs.length - 1];
      if (last !== undefined && x <= last) return;
      xs.push(x);
      ys.push(v);
      const cutoff = (t - windowMs) / 1000;
      while (xs.length && xs[0] < cutoff) {
        xs.shift();
        ys.shift();
      }
      chart.setData([xs, ys]);
    },
    destroy() {
      observer.disconnect();
      chart.destroy();
    },
  };
}

export interface CandidatePoint {
  id: string;
  name: string;
  /** End-to-end p95 latency measured (or measured on the class); null: not measured, listed but not plotted. */
  latencyMs: number | null;
  /** The y value: accuracy, or GFLOPs for synthetic ladders (see the axis label); NaN when there is none. */
  y: number;
  /** Where y comes from: 'declared', 'fidelity', 'map50-95', 'GFLOPs'... */
  yKind: string;
  status: 'chosen' | 'rejected' | 'feasible' | 'failed';
  /** Why a better candidate was not chosen; '' for the rest. */
  reason: string;
  /** 'device' when measured on this device, else the device that measured it for the class. */
  measuredOn: string;
}

const STATUS_COLOR = { chosen: '#4ea1ff', feasible: '#3fb950', rejected: '#f85149', failed: '#d29922' } as const;

/**
 * Latency against accuracy, one dot per measured candidate, coloured by the
 * policy's verdict, with the service level's latency bound as a dashed
 * vertical line (left of it meets the bound).
 */
export function candidateChart(el: HTMLElement, points: CandidatePoint[], yLabel: string, slo: { latencyMs: number | null; label: string }, onHover: (p: CandidatePoint | null) => void): () => void {
  const height = 320;
  const sloLatencyMs = slo.latencyMs;
  const plotted = points.filter((p): p is CandidatePoint & { latencyMs: number } => p.latencyMs !== null && Number.isFinite(p.y));
  const sorted = [...plotted].sort((a, b) => a.latencyMs - b.latencyMs || a.y - b.y);
  const xs = sorted.map((p) => p.latencyMs);
  const groups = (['rejected', 'failed', 'feasible', 'chosen'] as const).map((status) => sorted.map((p) => (p.status === status ? p.y : null)));
  // The SLO line widens the axis only while that keeps the points readable; farther out it is marked at the edge.
  const dataMax = Math.max(0, ...xs) * 1.25 || 1;
  const maxX = sloLatencyMs !== null && sloLatencyMs <= dataMax * 2.5 ? Math.max(dataMax, sloLatencyMs * 1.1) : dataMax;
  const sloOffScale = sloLatencyMs !== null && sloLatencyMs > maxX;
  const chart = new uPlot(
    {
      ...sizeOf(el, height),
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false }, points: { size: 12 } },
      scales: { x: { time: false, range: () => [0, maxX] }, y: { range: (_u, min, max) => [min - (max - min) * 0.15 - 1e-3, max + (max - min) * 0.15 + 1e-3] } },
      axes: [
        { ...AXIS, label: 'p95 latency, end to end (ms)', labelSize: 22, labelFont: '12px system-ui, sans-serif' },
        { ...AXIS, label: yLabel, labelSize: 22, labelFont: '12px system-ui, sans-serif', size: 56 },
      ],
      series: [
        { label: 'p95 ms' },
        ...(['rejected', 'failed', 'feasible', 'chosen'] as const).map((status) => ({
          label: status,
          stroke: STATUS_COLOR[status],
          fill: STATUS_COLOR[status],
          paths: () => null,
          points: { show: true, size: status === 'chosen' ? 14 : 9, width: 1.5, fill: status === 'chosen' ? STATUS_COLOR[status] : `${STATUS_COLOR[status]}88` },
        })),
      ],
      hooks: {
        draw: [
          (u: uPlot) => {
            if (sloLatencyMs === null) return;
            const ctx = u.ctx;
            const x = Math.round(u.valToPos(sloOffScale ? maxX : sloLatencyMs, 'x', true)) - (sloOffScale ? 2 : 0);
            ctx.save();
            ctx.strokeStyle = '#d29922';
            ctx.setLineDash([6, 4]);
            ctx.lineWidth = 1.5 * uPlot.pxRatio;
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillStyle = '#d29922';
            ctx.font = `${11 * uPlot.pxRatio}px system-ui, sans-serif`;
            const text = sloOffScale ? `${slo.label} (off scale) →` : slo.label;
            ctx.textAlign = sloOffScale ? 'right' : 'left';
            ctx.fillText(text, x + (sloOffScale ? -6 : 6) * uPlot.pxRatio, u.bbox.top + 14 * uPlot.pxRatio);
            ctx.restore();
          },
        ],
        setCursor: [
          (u: uPlot) => {
            const i = u.cursor.idx;
            onHover(i === null || i === undefined ? null : sorted[i] ?? null);
          },
        ],
      },
    },
    [xs, ...groups],
    el,
  );
  const observer = follow(el, chart, height);
  return () => {
    observer.disconnect();
    chart.destroy();
  };
}
