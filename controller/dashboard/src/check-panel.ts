import type { RolloutSummary } from '../../rollout/status.js';
import { h } from './dom.js';
import { num } from './format.js';

/**
 * The on-device checks of a rollout's profiles: per class and candidate, the
 * verdict, its fidelity, why, and what it cost on the device and on the
 * controller. A broken candidate is never chosen on its class; this says why.
 */
export function checkPanel(r: RolloutSummary): HTMLElement | string {
  const ladderName = (m: RolloutSummary['classes'][number]['measurements'][number]) => m.candidate ?? '?';
  const rows = r.classes.flatMap((c) => c.measurements.filter((m) => m.outcome?.check).map((m) => ({ deviceClass: c.deviceClass, m, check: m.outcome!.check! })));
  if (rows.length === 0) return '';
  return h(
    'div',
    { class: 'panel check-panel' },
    h('h2', {}, 'On-device checks'),
    h(
      'table',
      { class: 'rollout-checks' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Candidate'), h('th', {}, 'Device'), h('th', {}, 'Verdict'), h('th', { class: 'num' }, 'Fidelity'), h('th', { class: 'num' }, 'Device ms'), h('th', { class: 'num' }, 'Controller ms'), h('th', {}, 'Why'))),
      h(
        'tbody',
        {},
        ...rows.map(({ deviceClass, m, check }) =>
          h(
            'tr',
            { 'data-candidate': ladderName(m), 'data-check': check.ok ? 'passed' : 'broken', title: `device class ${deviceClass}` },
            h('td', { class: 'mono' }, ladderName(m)),
            h('td', {}, m.deviceId),
            h('td', {}, h('span', { class: `state ${check.ok ? 'healthy' : 'failed'}` }, check.ok ? 'passed' : 'broken on this class')),
            h('td', { class: 'num' }, num(check.fidelity, 3)),
            h('td', { class: 'num' }, num(check.deviceMs, 0)),
            h('td', { class: 'num' }, num(check.controllerMs, 0)),
            h('td', { class: 'why' }, check.reason),
          ),
        ),
      ),
    ),
  );
}
