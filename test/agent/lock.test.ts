import { describe, expect, it } from 'vitest';
import { MeasurementLock } from '../../agent/serve/lock.js';

describe('measurement lock', () => {
  it('hands the lock to waiters in arrival order, even to one that arrives as it is released', async () => {
    const lock = new MeasurementLock();
    const order: string[] = [];
    const first = await lock.acquire('job a', true);
    const waiting = ['job b', 'health-check'].map((owner) => lock.acquire(owner, owner !== 'health-check').then((release) => (order.push(owner), release)));
    first();
    // a caller arriving in the same tick as the release queues behind the waiters instead of barging in
    const late = lock.acquire('job c', true).then((release) => (order.push('job c'), release));
    expect(lock.heldBy).toBe('job b');
    expect(lock.pausesServing).toBe(true);
    (await waiting[0])();
    expect(lock.heldBy).toBe('health-check');
    expect(lock.pausesServing).toBe(false);
    (await waiting[1])();
    (await late)();
    expect(order).toEqual(['job b', 'health-check', 'job c']);
    expect(lock.heldBy).toBeNull();
  });

  it('wakes whoever waits for a release, and a second release of one holder changes nothing', async () => {
    const lock = new MeasurementLock();
    const release = await lock.acquire('job a', true);
    let woken = false;
    const freed = lock.whenReleased().then(() => (woken = true));
    expect(woken).toBe(false);
    release();
    await freed;
    expect(woken).toBe(true);
    const next = await lock.acquire('job b', true);
    release();
    expect(lock.heldBy).toBe('job b');
    next();
    expect(lock.heldBy).toBeNull();
  });
});
