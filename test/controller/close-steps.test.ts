import { describe, expect, it } from 'vitest';
import { closeInSteps } from '../../controller/close-steps.js';
import { captureLogger } from '../helpers/log.js';

describe('closing the controller in named steps', () => {
  it('runs every step in order, even after one fails, and throws the first failure at the end', async () => {
    const ran: string[] = [];
    const { log, lines } = captureLogger();
    const steps = [
      ['a', () => ran.push('a')],
      ['b', () => Promise.reject(new Error('b broke'))],
      ['c', async () => ran.push('c')],
      ['d', () => {
        throw new Error('d broke');
      }],
    ] as const;
    await expect(closeInSteps(log, steps)).rejects.toThrow('b broke');
    expect(ran).toEqual(['a', 'c']);
    expect(lines().filter((l) => l.msg === 'shutdown step failed').map((l) => l.step)).toEqual(['b', 'd']);
  });

  it('names a step that keeps it waiting, while it waits', async () => {
    const { log, lines } = captureLogger();
    await closeInSteps(log, [['quick', () => undefined], ['slow', () => new Promise((r) => setTimeout(r, 130))]], 50);
    const waiting = lines().filter((l) => l.msg === 'shutdown still waiting');
    expect(waiting.map((l) => l.step)).toEqual(['slow', 'slow']);
    // Node runs timers on libuv's loop clock, cached at the start of each loop
    // turn, so measured from Date.now() at setInterval the first one can read a
    // few ms short of 50 (a full run read 49): the bound allows that, and still
    // fails if the interval were not used at all (0) or fired at once.
    expect(waiting[0].waitedMs as number).toBeGreaterThanOrEqual(40);
  });
});
