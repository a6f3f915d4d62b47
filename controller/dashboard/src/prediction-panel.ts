import type { RolloutSummary } from '../../rollout/status.js';
import { h } from './dom.js';
import { num } from './format.js';

/**
 * The latency predictor of each class in a rollout, scored: for every
 * candidate the planner profiled after predicting it, the predicted and the
 * measured mean model latency and the error, with the class's MAPE. The
 * planner ordered and skipped profiles on these predictions; it chose only on
 * measurements.
 */
export function predictionPanel(r: RolloutSummary): HTMLElement | string {
  const classes = r.classes.filter((c) => c.predictions?.rows.length);
  if (classes.length === 0) return '';
  const signed = (x: number | null) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`);
  return h(
    'div',
    { class: 'panel prediction-panel' },
    h('h2', {}, 'Latency predictions'),
    ...classes.map((c) =>
      h(
        'table',
        { class: 'rollout-predictions', 'data-class': c.deviceClass },
        h('caption', {}, `${c.deviceClass}: MAPE ${c.predictions.mapePct === null ? '—' : `${c.predictions.mapePct.toFixed(1)} %`} (leave-one-out ${c.predictions.predictorMapePct === null ? '—' : `${c.predictions.predictorMapePct.toFixed(1)} %`})`),
        h('thead', {}, h('tr', {}, h('th', {}, 'Candidate'), h('th', {}, 'Provider'), h('th', { class: 'num' }, 'Predicted ms'), h('th', { class: 'num' }, 'Measured ms'), h('th', { class: 'num' }, 'Error'))),
        h(
          'tbody',
          {},
          ...c.predictions.rows.map((p) =>
            h(
              'tr',
              { 'data-candidate': p.candidate ?? '?' },
              h('td', { class: 'mono' }, p.candidate ?? '?'),
              h('td', {}, p.ep),
              h('td', { class: 'num predicted' }, num(p.predictedMs, 1)),
              h('td', { class: 'num measured' }, num(p.measuredMs, 1)),
              h('td', { class: 'num error-pct' }, signed(p.errorPct)),
            ),
          ),
        ),
      ),
    ),
  );
}
