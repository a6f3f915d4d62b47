import { describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe } from '../../controller/broker.js';
import { hashToken, verifyToken } from '../../controller/credentials.js';
import { Hello, Reported, Telemetry, decode } from '../../protocol/messages.js';
import { parseDeviceTopic } from '../../protocol/channels.js';
import { allDevicesTopic, deviceTopic } from '../../protocol/topics.js';

describe('topics', () => {
  it('round-trips device topics and rejects anything else', () => {
    expect(parseDeviceTopic(deviceTopic('pi-1', 'hello'))).toEqual({ id: 'pi-1', channel: 'hello' });
    expect(parseDeviceTopic('edgefit/v1/devices/pi-1/hello/extra')).toBeUndefined();
    expect(parseDeviceTopic('edgefit/v1/devices/+/hello')).toBeUndefined();
    expect(parseDeviceTopic('edgefit/v1/devices/pi-1/nonsense')).toBeUndefined();
    expect(parseDeviceTopic('other/v1/devices/pi-1/hello')).toBeUndefined();
    expect(allDevicesTopic('heartbeat')).toBe('edgefit/v1/devices/+/heartbeat');
  });

  it('lets a device use only its own subtree, in the right direction', () => {
    const me = { role: 'device' as const, id: 'pi-1' };
    expect(mayPublish(me, deviceTopic('pi-1', 'heartbeat'))).toBe(true);
    expect(mayPublish(me, deviceTopic('pi-2', 'heartbeat'))).toBe(false);
    expect(mayPublish(me, deviceTopic('pi-1', 'desired'))).toBe(false);
    expect(maySubscribe(me, deviceTopic('pi-1', 'desired'))).toBe(true);
    expect(maySubscribe(me, deviceTopic('pi-1', 'heartbeat'))).toBe(false);
    expect(maySubscribe(me, 'edgefit/v1/devices/+/desired')).toBe(false);
    expect(maySubscribe(me, '#')).toBe(false);
    const controller = { role: 'controller' as const };
    expect(maySubscribe(controller, allDevicesTopic('hello'))).toBe(true);
    expect(mayPublish(controller, deviceTopic('pi-1', 'desired'))).toBe(true);
    expect(mayPublish(controller, 'elsewhere/x')).toBe(false);
  });
});

describe('tokens', () => {
  it('verifies only the right token, in Mosquitto format', () => {
    const stored = hashToken('s3cret');
    expect(stored).toMatch(/^\$7\$101\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(verifyToken('s3cret', stored)).toBe(true);
    expect(verifyToken('s3cret!', stored)).toBe(false);
    expect(verifyToken('s3cret', 'garbage')).toBe(false);
  });
});

describe('message validation', () => {
  it('names the first problem of a bad message', () => {
    expect(decode(Hello, Buffer.from('{'))).toEqual({ ok: false, reason: 'payload is not JSON' });
    const bad = decode(Hello, Buffer.from(JSON.stringify({ v: 2, ts: 1 })));
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.reason).toMatch(/^v: /);
  });

  it('bounds what a device can make the controller keep', () => {
    const telemetry = { v: 1, ts: 1, fps: 9, latencyP50Ms: 1, latencyP95Ms: 2, memoryMb: 3, temperatureC: null, throttled: false, modelSha256: 'ab'.repeat(32), errors: 0 };
    const json = (x: unknown) => Buffer.from(JSON.stringify(x));
    expect(decode(Telemetry, json(telemetry)).ok).toBe(true);
    const huge = decode(Telemetry, json({ ...telemetry, modelSha256: 'a'.repeat(500_000) }));
    expect(!huge.ok && huge.reason).toMatch(/^modelSha256: /);
    const reported = { v: 1, ts: 1, generation: 1, state: 'healthy', activeModel: { sha256: 'ab'.repeat(32), generation: 1 }, slo: { met: false, violations: ['fps 3 < 10'] } };
    expect(decode(Reported, json(reported)).ok).toBe(true);
    expect(decode(Reported, json({ ...reported, slo: { met: false, violations: Array(1000).fill('x') } })).ok).toBe(false);
    expect(decode(Reported, json({ ...reported, activeModel: { sha256: 'not a digest', generation: 1 } })).ok).toBe(false);
  });
});
