// What `rollout status` prints for a device that still serves the model it had
// before this rollout: its live FPS, named as the previous model's, and not
// the device's SLO verdict, which is about that model and not the choice.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { printStatus } from '../../cli/rollout.js';
import type { Status } from '../controller/simulated-devices.js';

function statusWith(device: { state: string; servingChosen: boolean; ep?: string }): Status {
  const d = { ep: device.ep ?? null, deviceId: 'pi-1', deviceClass: 'aaaaaaaaaaaaaaaa', stage: 0, state: device.state, resumeState: null, candidateId: 'c-1', candidate: 'int8-320', explanation: null, rejected: [], chosenMetrics: null, generation: null, attempts: 0, error: null, live: { fps: 38, latencyP95Ms: 30, temperatureC: 50, servingChosen: device.servingChosen }, slo: { met: true, violations: [] } };
  return { id: 'r-1', spec: { name: 'demo' }, state: 'running', stage: 0, reason: null, classes: [], devices: [d], events: [] } as unknown as Status;
}

describe('rollout status text', () => {
  const out: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    out.length = 0;
  });
  const print = (s: Status) => {
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    printStatus(s);
    return out.join('');
  };

  it("names the previous model's FPS as such and leaves out its SLO verdict", () => {
    expect(print(statusWith({ state: 'pending', servingChosen: false }))).toMatch(/pi-1 \[stage 0\] pending → int8-320, serving 38 FPS on its previous model\n/);
  });

  it('gives the SLO verdict once the device serves the chosen candidate', () => {
    expect(print(statusWith({ state: 'healthy', servingChosen: true }))).toMatch(/pi-1 \[stage 0\] healthy → int8-320, serving 38 FPS \(SLO met\)\n/);
  });

  it('names the execution provider the candidate was chosen on', () => {
    expect(print(statusWith({ state: 'healthy', servingChosen: true, ep: 'tensorrt' }))).toMatch(/pi-1 \[stage 0\] healthy → int8-320 on tensorrt, serving 38 FPS \(SLO met\)\n/);
  });
});
