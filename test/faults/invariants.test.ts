import { describe, expect, it } from 'vitest';
import { checkInvariants, type FaultSnapshot, type Invariant } from '../../bench/faults/invariants.js';

const A = 'a'.repeat(64);
const JOB1 = 'r1:class-1:n64';
const JOB2 = 'r1:class-2:n64';

/**
 * A completed rollout left consistent: dev-a healthy on n64 at generation 1;
 * dev-b failed its health check and was pointed back at no model (generation
 * 2, reported idle); dev-c's class had no candidate meeting the SLO (failed,
 * never given a desired state). Two profiles, each stored once and counted.
 */
function clean(): FaultSnapshot {
  return {
    rollouts: [{ id: 'r1', state: 'completed', stage: 1, reason: null }],
    devices: [
      { rolloutId: 'r1', deviceId: 'dev-a', state: 'healthy', generation: 1, candidateId: 'c64', attempts: 0, error: null },
      { rolloutId: 'r1', deviceId: 'dev-b', state: 'rolled-back', generation: 1, candidateId: 'c64', attempts: 1, error: 'health check failed' },
      { rolloutId: 'r1', deviceId: 'dev-c', state: 'failed', generation: null, candidateId: null, attempts: 1, error: 'no candidate meets the SLO' },
    ],
    measurements: [
      { rolloutId: 'r1', deviceClass: 'class-1', candidateId: 'c64', ep: 'cpu', jobId: JOB1, deviceId: 'dev-a', outcome: { ok: true } },
      { rolloutId: 'r1', deviceClass: 'class-2', candidateId: 'c64', ep: 'cpu', jobId: JOB2, deviceId: 'dev-c', outcome: { ok: false, error: 'profile failed' } },
    ],
    profiles: [
      { jobId: JOB1, deviceId: 'dev-a', ok: true },
      { jobId: JOB2, deviceId: 'dev-c', ok: false },
    ],
    events: [
      { rolloutId: 'r1', deviceId: null, to: 'running' },
      { rolloutId: 'r1', deviceId: 'dev-a', to: 'profiling' },
      { rolloutId: 'r1', deviceId: 'dev-c', to: 'profiling' },
      { rolloutId: 'r1', deviceId: 'dev-a', to: 'chosen' },
      { rolloutId: 'r1', deviceId: 'dev-c', to: 'failed' },
      { rolloutId: 'r1', deviceId: 'dev-a', to: 'healthy' },
      { rolloutId: 'r1', deviceId: 'dev-b', to: 'chosen' },
      { rolloutId: 'r1', deviceId: 'dev-b', to: 'failed' },
      { rolloutId: 'r1', deviceId: 'dev-b', to: 'rolled-back' },
      { rolloutId: 'r1', deviceId: null, to: 'completed' },
    ],
    desired: {
      'dev-a': { generation: 1, rolloutId: 'r1', candidateId: 'c64', model: { sha256: A } },
      'dev-b': { generation: 2, model: null },
    },
    reported: {
      'dev-a': { generation: 1, rolloutId: 'r1', state: 'healthy', activeModel: { sha256: A } },
      'dev-b': { generation: 2, state: 'idle', activeModel: null },
      'dev-c': null,
    },
    agentResults: { 'dev-a': [{ jobId: JOB1, ok: true }], 'dev-b': [], 'dev-c': [{ jobId: JOB2, ok: false }] },
  };
}

const only = (s: FaultSnapshot) => [...new Set(checkInvariants(s).map((b) => b.invariant))];

describe('the fault campaign invariant checker', () => {
  it('finds nothing broken in a consistent end state', () => {
    expect(checkInvariants(clean())).toEqual([]);
  });

  const cases: Array<[Invariant, string, (s: FaultSnapshot) => void, RegExp]> = [
    ['rollout-finished', 'a rollout still running (stuck)', (s) => (s.rollouts[0].state = 'running'), /still running at stage 1/],
    [
      'device-terminal',
      'a device left in health-check',
      (s) => {
        s.devices[0].state = 'health-check';
        s.events[5].to = 'health-check';
      },
      /dev-a.*health-check, not in a terminal state/s,
    ],
    [
      'desired-matches-outcome',
      'a healthy device whose desired state moved on',
      (s) => {
        s.desired['dev-a']!.generation = 2;
        s.reported['dev-a']!.generation = 2;
      },
      /healthy at generation 1, but its desired state is generation 2/,
    ],
    [
      'desired-matches-outcome',
      'a rolled-back device still pointed at the rollout candidate',
      (s) => {
        s.desired['dev-b'] = { generation: 1, rolloutId: 'r1', candidateId: 'c64', model: { sha256: A } };
        s.reported['dev-b'] = { generation: 1, rolloutId: 'r1', state: 'healthy', activeModel: { sha256: A } };
      },
      /rolled-back, but its desired state still names this rollout's candidate c64/,
    ],
    ['reported-matches-desired', 'a device a generation behind', (s) => (s.reported['dev-b'] = { generation: 1, state: 'rolled-back', activeModel: null }), /desired generation 2, reports generation 1/],
    ['reported-matches-desired', 'a device still downloading its desired model', (s) => (s.reported['dev-a']!.state = 'downloading'), /reports downloading serving/],
    ['reported-matches-desired', 'a device serving where it should serve nothing', (s) => (s.reported['dev-b'] = { generation: 2, state: 'healthy', activeModel: { sha256: A } }), /desired serves nothing/],
    ['reported-matches-desired', 'a device that never reported', (s) => (s.reported['dev-a'] = null), /nothing reported/],
    ['profile-lost', 'a result the agent finished that the controller never stored', (s) => s.profiles.splice(0, 1), /dev-a: the agent finished it \(ok\) but the controller never stored/],
    ['profile-lost', 'a measurement never settled', (s) => (s.measurements[0].outcome = null), /its result is stored but the measurement was never settled/],
    ['profile-lost', 'a stored result the measurement counts as a timeout', (s) => (s.measurements[0].outcome = { ok: false, error: 'no result within 30 s' }), /stored result is ok but the measurement counts a failure \(no result within 30 s\)/],
    ['profile-counted-twice', 'one result stored twice', (s) => s.profiles.push({ jobId: JOB1, deviceId: 'dev-a', ok: true }), /2 stored results for one job and device/],
    ['profile-counted-twice', 'one candidate measured twice on a class', (s) => s.measurements.push({ ...s.measurements[0], jobId: `${JOB1}:again` }), /2 measurements of one candidate on one class and provider/],
    ['events-match-state', 'an event log that stops short of the state', (s) => s.events.splice(5, 1), /dev-a.*healthy but its last event says chosen/s],
  ];

  it.each(cases)('%s: %s', (invariant, _what, breakIt, reason) => {
    const s = clean();
    breakIt(s);
    expect(only(s)).toEqual([invariant]);
    const broken = checkInvariants(s);
    expect(broken.map((b) => `${b.subject}: ${b.reason}`).join('\n')).toMatch(reason);
  });

  it('does not count a result that came after an abort settled its measurement as lost', () => {
    const s = clean();
    s.rollouts[0].state = 'aborted';
    s.measurements[0].outcome = { ok: false, error: 'not measured: rollout aborted: aborted by the operator' };
    expect(checkInvariants(s)).toEqual([]);
  });

  it('counts a result whose on-device check failed as the failure its measurement says', () => {
    const s = clean();
    s.profiles[0].checkOk = false;
    s.measurements[0].outcome = { ok: false, error: 'on-device check: fidelity 0.41 below 0.9' };
    expect(checkInvariants(s)).toEqual([]);
    s.profiles[0].checkOk = true;
    expect(only(s)).toEqual(['profile-lost']);
  });

  it('lists each broken invariant once per subject, in the order of INVARIANTS', () => {
    const s = clean();
    s.rollouts[0].state = 'paused';
    s.devices[2].state = 'profiling';
    s.events[4].to = 'profiling';
    s.profiles.push({ jobId: JOB2, deviceId: 'dev-c', ok: false });
    expect(checkInvariants(s).map((b) => b.invariant)).toEqual(['rollout-finished', 'device-terminal', 'profile-counted-twice']);
  });
});
