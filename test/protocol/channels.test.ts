// The protocol is one table (protocol/channels.ts). Walking it checks that
// everything read from it agrees: the controller subscribes to exactly what
// devices send, and both brokers' ACLs let a device write only its own
// device-to-controller channels and read only its own controller-to-device ones.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mayPublish, maySubscribe } from '../../controller/broker.js';
import { controllerSubscriptions } from '../../controller/device-dispatch.js';
import { mosquittoAcl } from '../../controller/mosquitto-config.js';
import { CHANNELS, decodeFor, encodeFor, parseDeviceTopic, publishOptions, type Channel } from '../../protocol/channels.js';
import { firstIssue } from '../../protocol/first-issue.js';
import type { Telemetry } from '../../protocol/messages.js';
import { TOPIC_ROOT, allDevicesTopic, deviceTopic } from '../../protocol/topics.js';

const channels = Object.keys(CHANNELS) as Channel[];

/** The Mosquitto ACL's per-device patterns, as channel → access ('read' | 'write' | 'readwrite'). */
function mosquittoPatterns(): Map<string, string> {
  const patterns = new Map<string, string>();
  for (const line of mosquittoAcl().split('\n')) {
    const m = /^pattern (read|write|readwrite) (.+)$/.exec(line);
    if (!m) continue;
    const prefix = `${TOPIC_ROOT}/%u/`;
    expect(m[2].startsWith(prefix), line).toBe(true);
    const channel = m[2].slice(prefix.length);
    expect(patterns.has(channel), `${channel} listed twice`).toBe(false);
    patterns.set(channel, m[1]);
  }
  return patterns;
}

describe('the channel table', () => {
  const me = { role: 'device' as const, id: 'pi-1' };
  const controller = { role: 'controller' as const };

  it('drives the controller subscriptions and both ACLs, channel by channel', () => {
    const subscriptions = controllerSubscriptions();
    const patterns = mosquittoPatterns();
    expect([...patterns.keys()].sort()).toEqual([...channels].sort());
    for (const channel of channels) {
      const spec = CHANNELS[channel];
      const own = deviceTopic('pi-1', channel);
      const other = deviceTopic('pi-2', channel);
      expect(parseDeviceTopic(own), channel).toEqual({ id: 'pi-1', channel });
      // Neither broker lets a device near another device's topics, either way.
      expect(mayPublish(me, other), channel).toBe(false);
      expect(maySubscribe(me, other), channel).toBe(false);
      expect(maySubscribe(me, allDevicesTopic(channel)), channel).toBe(false);
      expect(mayPublish(controller, own), channel).toBe(true);
      if (spec.direction === 'device-to-controller') {
        expect(subscriptions[allDevicesTopic(channel)], `controller subscribes to ${channel}`).toEqual({ qos: spec.qos });
        expect(mayPublish(me, own), `a device writes its own ${channel}`).toBe(true);
        expect(maySubscribe(me, own), `a device does not read ${channel}`).toBe(false);
        expect(patterns.get(channel), `mosquitto: ${channel}`).toBe('write');
      } else {
        expect(subscriptions[allDevicesTopic(channel)], `controller does not subscribe to its own ${channel}`).toBeUndefined();
        expect(maySubscribe(me, own), `a device reads its own ${channel}`).toBe(true);
        expect(mayPublish(me, own), `only the controller writes ${channel}`).toBe(false);
        expect(patterns.get(channel), `mosquitto: ${channel}`).toBe('read');
      }
    }
    // Nothing subscribed that the table does not name.
    expect(Object.keys(subscriptions).sort()).toEqual(channels.filter((c) => CHANNELS[c].direction === 'device-to-controller').map((c) => allDevicesTopic(c)).sort());
  });

  it('keeps the wire as it was: QoS 1, retained only presence, reported and desired; detections and snapshots (issue #19) QoS 0, not retained', () => {
    const wire = Object.fromEntries(channels.map((c) => [c, [CHANNELS[c].direction === 'device-to-controller' ? 'up' : 'down', publishOptions(c).qos, publishOptions(c).retain]]));
    expect(wire).toEqual({
      hello: ['up', 1, false],
      presence: ['up', 1, true],
      heartbeat: ['up', 1, false],
      results: ['up', 1, false],
      telemetry: ['up', 1, false],
      reported: ['up', 1, true],
      detections: ['up', 0, false],
      snapshot: ['up', 0, false],
      jobs: ['down', 1, false],
      desired: ['down', 1, true],
    });
  });

  it("decodes a payload against its own channel's schema only", () => {
    const telemetry: Telemetry = { v: 1, ts: 1, fps: 9, latencyP50Ms: 1, latencyP95Ms: 2, memoryMb: 3, temperatureC: null, throttled: false, modelSha256: 'ab'.repeat(32), errors: 0 };
    const payload = encodeFor('telemetry', telemetry);
    expect(decodeFor('telemetry', payload)).toEqual({ ok: true, value: telemetry });
    // The same bytes on the desired channel: refused, naming the first field it lacks.
    const wrong = decodeFor('desired', payload);
    expect(wrong.ok).toBe(false);
    expect(!wrong.ok && wrong.reason).toMatch(/^generation: \S/);
    expect(decodeFor('hello', Buffer.from(''))).toEqual({ ok: false, reason: 'payload is not JSON' });
    // Defaults are filled on decode: a job without options gets the schema's.
    const job = decodeFor('jobs', encodeFor('jobs', { v: 1, ts: 1, jobId: 'j1', kind: 'profile', artifact: { sha256: 'ab'.repeat(32), size: 1, manifest: '{}', signature: 's' } }));
    expect(job.ok && job.value.options).toEqual({ warmup: 10, ep: 'cpu' });
    if (false as boolean) {
      // @ts-expect-error a Telemetry is not a desired state: publishing it on 'desired' does not type-check
      encodeFor('desired', telemetry);
    }
  });
});

describe('the first-error formatter', () => {
  const schema = z.object({ options: z.object({ runs: z.number().int().min(1) }) });
  it('names the path of the first problem, or the value itself at the top', () => {
    const nested = schema.safeParse({ options: { runs: 0 } });
    if (nested.success) throw new Error('runs 0 passed the schema');
    expect(firstIssue(nested.error)).toBe(`options.runs: ${nested.error.issues[0].message}`);
    const top = schema.safeParse(7);
    if (top.success) throw new Error('7 passed the schema');
    expect(firstIssue(top.error, 'body')).toBe(`body: ${top.error.issues[0].message}`);
    expect(firstIssue(top.error)).toBe(`(root): ${top.error.issues[0].message}`);
    // Only the first problem, on one line, however many there are.
    const many = z.object({ a: z.string(), b: z.string() }).safeParse({});
    if (many.success) throw new Error('{} passed the schema');
    expect(many.error.issues.length).toBe(2);
    expect(firstIssue(many.error)).toBe(`a: ${many.error.issues[0].message}`);
  });
});
