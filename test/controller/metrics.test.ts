// GET /metrics on a running fleet: a real controller (embedded broker, HTTP,
// SQLite) and a real agent process serving a builder-made YOLOv8n on
// onnxruntime. The scrape is read back with a parser of the text format; the
// scrape token opens /metrics only; refused device messages are counted by
// reason; a device that leaves takes its series with it.
import mqtt from 'mqtt';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validMessages } from '../../bench/fuzz/device-messages.js';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import { deviceTopic } from '../../protocol/topics.js';
import { TestFleet } from '../agent/fleet.js';
import { builtYolov8n } from '../agent/models.js';
import { repoRoot } from '../fixtures.js';
import { stop, type CliProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { declaredMetrics, parseExposition, samplesOf, type PromSample } from './metrics-text.js';

describe('GET /metrics on a running fleet', () => {
  const fleet = new TestFleet();
  let agent: CliProcess;
  let model: ArtifactRef;

  beforeAll(async () => {
    await fleet.start();
  });
  afterAll(() => fleet.close());

  async function scrape(): Promise<{ text: string; samples: PromSample[] }> {
    const res = await fetch(fleet.controller.httpUrl + '/metrics', { headers: { authorization: `Bearer ${fleet.controller.metricsToken}` } });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return { text, samples: parseExposition(text) };
  }
  const value = (samples: PromSample[], name: string, labels: Record<string, string> = {}): number => samplesOf(samples, name, labels).reduce((n, s) => n + s.value, 0);

  it("shows a serving agent's FPS above 0, labelled by device and candidate", async () => {
    model = await fleet.controller.artifacts.put(builtYolov8n(fleet.scratch, 64), { name: 'yolov8n-64.onnx' });
    agent = fleet.agent('cam-1');
    await waitFor(() => fleet.controller.registry.get('cam-1')?.online, 20_000, 'cam-1 online');
    await fleet.controller.setDesired('cam-1', { model, candidateId: 'n64', threads: 1, slo: { minFps: 0.2 } });
    // the candidate label comes from the reported state, which may trail the first telemetry by a message
    const { samples, text } = await waitFor(
      async () => {
        const s = await scrape();
        const fps = samplesOf(s.samples, 'edgefit_device_fps', { device: 'cam-1', candidate: 'n64' });
        return fps.length === 1 && fps[0].value > 0 && value(s.samples, 'edgefit_device_latency_p95_seconds', { device: 'cam-1' }) > 0 ? s : undefined;
      },
      30_000,
      'a positive FPS gauge and a p95 for cam-1 serving n64',
    );
    expect(value(samples, 'edgefit_devices', { state: 'online' })).toBe(1);
    expect(samplesOf(samples, 'edgefit_device_health', { device: 'cam-1', candidate: 'n64' })).toHaveLength(1);
    // the agent downloaded the whole model once, and told us what it runs
    expect(value(samples, 'edgefit_artifact_bytes_served_total')).toBeGreaterThanOrEqual(model.size);
    expect(value(samples, 'edgefit_mqtt_messages_sent_total', { channel: 'desired' })).toBeGreaterThanOrEqual(1);
    for (const channel of ['hello', 'heartbeat', 'telemetry', 'reported']) expect(value(samples, 'edgefit_mqtt_messages_received_total', { channel }), channel).toBeGreaterThan(0);
    // prom-client's process and Node metrics ride along
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) expect(samplesOf(samples, name), name).toHaveLength(1);

    // Every edgefit metric the Grafana dashboard and the README name is one the scrape declares, and the README lists them all.
    const declared = declaredMetrics(text);
    const dashboard = readFileSync(path.join(repoRoot, 'deploy', 'grafana', 'edgefit-fleet.json'), 'utf8');
    const used = new Set([...dashboard.matchAll(/\bedgefit_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(declared.has(name), `${name} (in the dashboard)`).toBe(true);
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    for (const name of declared) if (name.startsWith('edgefit_')) expect(readme.includes(`\`${name}\``), `${name} (in the README)`).toBe(true);
  });

  it('takes the scrape token only, on /metrics only', async () => {
    const url = fleet.controller.httpUrl;
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    const refused = await fetch(`${url}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="edgefit metrics"');
    expect(await refused.json()).toEqual({ error: 'E_METRICS_UNAUTHORIZED', message: 'missing or wrong metrics token (Authorization: Bearer <token in metrics.token>)' });
    expect((await fetch(`${url}/metrics`, bearer(fleet.controller.adminToken))).status).toBe(401);
    expect((await fetch(`${url}/metrics?token=${fleet.controller.metricsToken}`)).status).toBe(401);
    // the router matches percent-decoded paths: the check goes with the route, not the raw URL
    expect((await fetch(`${url}/%6detrics`)).status).toBe(401);
    for (const p of ['/api/devices', '/api/rollouts', '/api/artifacts']) expect((await fetch(url + p, bearer(fleet.controller.metricsToken))).status, p).toBe(401);
    expect((await fetch(`${url}/api/devices`, bearer(fleet.controller.adminToken))).status).toBe(200);
    expect(fleet.controller.metricsToken).toBe(readFileSync(path.join(fleet.dataDir, 'metrics.token'), 'utf8').trim());
  });

  it('counts refused device messages by reason', async () => {
    const token = fleet.controller.registry.add('probe');
    const before = (await scrape()).samples;
    const client = mqtt.connect(fleet.controller.brokerUrl, { username: 'probe', password: token, clientId: 'probe', reconnectPeriod: 0 });
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    const valid = validMessages('probe', Date.now()).telemetry as Record<string, unknown>;
    const send = (payload: unknown) => client.publishAsync(deviceTopic('probe', 'telemetry'), Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), { qos: 1 });
    await send({ ...valid, fps: 1e308 });
    await send({ ...valid, fps: -3 });
    await send('{"fps": 12, "truncated');
    await send({ ...valid, ts: Date.UTC(2019, 0, 1) });
    const expected = { 'out-of-range': 2, schema: 1, clock: 1 };
    const rejected = (s: PromSample[], reason: string) => value(s, 'edgefit_mqtt_messages_rejected_total', { reason });
    const after = await waitFor(
      async () => {
        const s = (await scrape()).samples;
        return Object.entries(expected).every(([reason, n]) => rejected(s, reason) - rejected(before, reason) >= n) ? s : undefined;
      },
      10_000,
      'the refused telemetry counted',
    );
    for (const [reason, n] of Object.entries(expected)) expect(rejected(after, reason) - rejected(before, reason), reason).toBe(n);
    expect(value(after, 'edgefit_mqtt_messages_received_total', { channel: 'telemetry' })).toBeGreaterThanOrEqual(value(before, 'edgefit_mqtt_messages_received_total', { channel: 'telemetry' }) + 4);
    // none of it reached the live state
    expect(fleet.controller.live.get('probe').telemetry).toBeNull();

    // a publish under another device's topic: the embedded broker refuses it (and cuts the client)
    client.publish(deviceTopic('cam-1', 'telemetry'), JSON.stringify(valid), { qos: 0 });
    await waitFor(async () => rejected((await scrape()).samples, 'acl') > rejected(before, 'acl'), 10_000, 'the ACL refusal counted');
    client.end(true);
  });

  it("drops a device's series once it goes offline", async () => {
    await stop(agent);
    await waitFor(() => !fleet.controller.registry.get('cam-1')?.online, 10_000, 'cam-1 offline');
    const { samples } = await scrape();
    for (const name of ['edgefit_device_fps', 'edgefit_device_latency_p95_seconds', 'edgefit_device_health', 'edgefit_device_throttled', 'edgefit_device_temperature_celsius']) {
      expect(samplesOf(samples, name, { device: 'cam-1' }), name).toEqual([]);
    }
    expect(value(samples, 'edgefit_devices', { state: 'offline' })).toBeGreaterThanOrEqual(1);
  });
});
