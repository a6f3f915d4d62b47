// A broker that refuses the agent's token (the device is registered after the
// agent started, or its registry comes back from a backup) must not leave the
// daemon running but deaf: mqtt.js gives up after a refused CONNACK, so the
// agent asks again, less and less often, until the broker lets it in.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { readInventory } from '../../agent/inventory.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../controller/broker.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';

describe('an agent whose token the broker refuses', () => {
  let broker: EmbeddedBroker;
  let registered = false;
  let attempts = 0;
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-refused-'));

  beforeAll(async () => {
    broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', controllerSecret: 'controller-secret', authenticateDevice: (id, token) => (attempts++, registered && id === 'late' && token === 'late-token'), log: captureLogger().log });
  });

  afterAll(async () => {
    await broker.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('keeps asking, less often each time, and connects once the device is registered', async () => {
    const capture = captureLogger();
    const agent = Agent.start({ brokerUrl: `mqtt://127.0.0.1:${broker.port}`, id: 'late', token: 'late-token', inventory: await readInventory(null), temperature: async () => null, heartbeatSeconds: 5, keepaliveSeconds: 10, log: capture.log, stateDir, refusedRetryMs: 100 });
    try {
      const refusals = () => capture.lines().filter((l) => String(l.msg).startsWith("the broker refused this device's token"));
      await waitFor(() => refusals().length >= 3, 10_000, 'three refusals');
      expect(refusals().slice(0, 3).map((l) => l.retryInMs)).toEqual([100, 200, 400]);
      expect(agent.client.connected).toBe(false);

      registered = true;
      await waitFor(() => capture.lines().some((l) => l.msg === 'agent connected'), 10_000, 'the agent connected');
      expect(agent.client.connected).toBe(true);
    } finally {
      await agent.stop();
    }
  });

  it('does not ask again once it is stopping, even for a refusal that comes while it stops', async () => {
    registered = false;
    const capture = captureLogger();
    const agent = Agent.start({ brokerUrl: `mqtt://127.0.0.1:${broker.port}`, id: 'late', token: 'late-token', inventory: await readInventory(null), temperature: async () => null, heartbeatSeconds: 5, keepaliveSeconds: 10, log: capture.log, stateDir, refusedRetryMs: 50 });
    await waitFor(() => capture.lines().some((l) => String(l.msg).startsWith("the broker refused this device's token")), 10_000, 'a refusal');
    const stopped = agent.stop();
    // a refusal that lands while stop() is still closing down
    agent.client.emit('error', Object.assign(new Error('Connection refused: Not authorized'), { code: 5 }));
    await stopped;
    const after = attempts;
    await new Promise((r) => setTimeout(r, 500));
    expect(attempts).toBe(after);
  });
});
