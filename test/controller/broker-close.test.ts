// The embedded broker closing with many devices connected. The first scale
// probe's controller crashed on SIGTERM with 10,000 connected inside aedes'
// own close (`RangeError: Maximum call stack size exceeded` in
// aedes/lib/client.js nextBatch); the broker now cuts connections in batches.
// That crash did not reproduce here with 600 to 8,000 idle clients holding
// wills (aedes' own close took 1.3 s at 3,000 and 3.7 s at 8,000): the first
// test holds the close to its behaviour (no error, every connection ended) and
// does not fail on the old close; the second fails if the batching breaks.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../controller/broker.js';
import { closeClientsInBatches, CLOSE_BATCH } from '../../controller/broker-close.js';
import { deviceTopic } from '../../protocol/topics.js';
import { captureLogger } from '../helpers/log.js';

const CLIENTS = 300;

describe('the embedded broker closing with hundreds of devices connected', () => {
  const clients: MqttClient[] = [];
  afterAll(() => clients.forEach((c) => c.end(true)));

  it(`closes with ${CLIENTS} connected devices holding last wills, without a RangeError, and every connection ends`, async () => {
    const capture = captureLogger();
    const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', controllerSecret: 's', authenticateDevice: () => true, log: capture.log });
    const url = `mqtt://127.0.0.1:${broker.port}`;
    // A controller-like subscriber receives every will, as the fleet link does.
    const controller = await mqtt.connectAsync(url, { username: 'edgefit-controller', password: 's', reconnectPeriod: 0 });
    clients.push(controller);
    await controller.subscribeAsync('edgefit/v1/devices/+/presence', { qos: 1 });
    for (let start = 0; start < CLIENTS; start += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, k) => {
          const id = `dev-${start + k}`;
          return mqtt.connectAsync(url, { username: id, password: 't', clientId: `sim-${id}`, reconnectPeriod: 0, will: { topic: deviceTopic(id, 'presence'), payload: Buffer.from('{"v":1,"ts":0,"state":"offline"}'), qos: 1, retain: true } });
        }),
      );
      clients.push(...batch);
    }
    const errors: unknown[] = [];
    const onError = (err: unknown) => errors.push(err);
    process.on('uncaughtException', onError);
    const closed = Promise.all(clients.map((c) => new Promise((resolve) => c.stream.once('close', resolve))));
    try {
      await broker.close();
      await closed;
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(errors).toEqual([]);
  });

  it(`cuts at most ${CLOSE_BATCH} connections per turn of the event loop`, async () => {
    // `turn` counts turns of the event loop: a setImmediate chain bumps it once per turn.
    let turn = 0;
    let running = true;
    const tick = () => {
      turn++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const perTurn = new Map<number, number>();
    const connections = new Set(Array.from({ length: 450 }, () => ({ destroy: () => void perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1) })));
    await closeClientsInBatches(connections, () => 0);
    running = false;
    expect(connections.size).toBe(0);
    expect([...perTurn.values()].reduce((a, b) => a + b, 0)).toBe(450);
    expect(Math.max(...perTurn.values())).toBe(CLOSE_BATCH);
    expect(perTurn.size).toBe(3);
  });
});
