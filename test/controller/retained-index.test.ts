// Retained messages looked up by exact topic on SUBSCRIBE (controller/retained-index.ts):
// the same messages as aedes' scan gives, on a real embedded broker.
import mqtt from 'mqtt';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../controller/broker.js';
import { indexRetained, type RetainedPacket, type RetainedStore } from '../../controller/retained-index.js';
import { deviceTopic } from '../../protocol/topics.js';
import { captureLogger } from '../helpers/log.js';

const RETAINED = 2000;

async function collect(stream: Readable): Promise<RetainedPacket[]> {
  const out: RetainedPacket[] = [];
  for await (const p of stream) out.push(p as RetainedPacket);
  return out;
}

describe('the retained index', () => {
  it('answers exact filters from its map and leaves filters with wildcards to the scan', async () => {
    const scanned: string[][] = [];
    const store: RetainedStore = {
      storeRetained: () => Promise.resolve(),
      createRetainedStreamCombi: (patterns) => (scanned.push(patterns), Readable.from([])),
    };
    const index = indexRetained(store);
    await store.storeRetained({ topic: 'a/1/desired', payload: Buffer.from('x') });
    await store.storeRetained({ topic: 'a/2/desired', payload: Buffer.from('y') });
    expect((await collect(store.createRetainedStreamCombi(['a/1/desired', 'a/3/desired']))).map((p) => p.topic)).toEqual(['a/1/desired']);
    expect(scanned).toEqual([]);
    await collect(store.createRetainedStreamCombi(['a/+/desired']));
    await collect(store.createRetainedStreamCombi(['a/1/desired', 'a/#']));
    expect(scanned).toEqual([['a/+/desired'], ['a/1/desired', 'a/#']]);
    // an empty payload clears the topic
    await store.storeRetained({ topic: 'a/1/desired', payload: Buffer.alloc(0) });
    expect(await collect(store.createRetainedStreamCombi(['a/1/desired']))).toEqual([]);
    expect(index.size).toBe(1);
  });

  it(`gives a device its own retained desired state among ${RETAINED}, none once cleared, and the controller's wildcard all of them`, async () => {
    const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', controllerSecret: 's', authenticateDevice: () => true, log: captureLogger().log });
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const controller = await mqtt.connectAsync(url, { username: 'edgefit-controller', password: 's', reconnectPeriod: 0 });
    try {
      const id = (i: number) => `dev-${i}`;
      await Promise.all(Array.from({ length: RETAINED }, (_, i) => controller.publishAsync(deviceTopic(id(i), 'desired'), `{"n":${i}}`, { qos: 1, retain: true })));

      const device = await mqtt.connectAsync(url, { username: id(1234), password: 't', reconnectPeriod: 0 });
      const got: Array<[string, string]> = [];
      device.on('message', (topic, payload) => got.push([topic, payload.toString()]));
      await device.subscribeAsync([deviceTopic(id(1234), 'desired'), deviceTopic(id(1234), 'jobs')], { qos: 1 });
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual([[deviceTopic(id(1234), 'desired'), '{"n":1234}']]);
      await device.endAsync();

      await controller.publishAsync(deviceTopic(id(1234), 'desired'), '', { qos: 1, retain: true });
      const again = await mqtt.connectAsync(url, { username: id(1234), password: 't', reconnectPeriod: 0 });
      const none: string[] = [];
      again.on('message', (topic) => none.push(topic));
      await again.subscribeAsync(deviceTopic(id(1234), 'desired'), { qos: 1 });
      await new Promise((r) => setTimeout(r, 300));
      expect(none).toEqual([]);
      await again.endAsync();

      const watcher = await mqtt.connectAsync(url, { username: 'edgefit-controller', password: 's', reconnectPeriod: 0 });
      let wildcard = 0;
      watcher.on('message', (_t, _p, packet) => void (packet.retain && wildcard++));
      await watcher.subscribeAsync('edgefit/v1/devices/+/desired', { qos: 1 });
      const deadline = Date.now() + 10_000;
      while (wildcard < RETAINED - 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(wildcard).toBe(RETAINED - 1);
      await watcher.endAsync();
    } finally {
      await controller.endAsync();
      await broker.close();
    }
  });
});
