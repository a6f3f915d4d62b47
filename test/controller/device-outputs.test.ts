// A device's detections and snapshot at the controller: the embedded broker
// lets a device publish them on its own topics only (and broker-config says
// the same), the dispatch validates them like every channel, and the API
// serves the latest of each behind the admin token. Real controller, real
// broker, a real MQTT client with the device's token.
import mqtt, { type MqttClient } from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJpegCapped } from '../../compress/detect/annotate.js';
import { startController, type Controller } from '../../controller/controller.js';
import { mosquittoAcl } from '../../controller/mosquitto-config.js';
import { encodeFor } from '../../protocol/channels.js';
import { encode, type DetectionsMessage, type SnapshotMessage } from '../../protocol/messages.js';
import { deviceTopic, PROTOCOL_VERSION, TOPIC_ROOT } from '../../protocol/topics.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';

const SHA = 'b'.repeat(64);

function record(seq: number): DetectionsMessage {
  return { v: PROTOCOL_VERSION, ts: Date.now(), candidateId: 'n640', sha256: SHA, seq, frame: { width: 1280, height: 1080 }, boxes: [{ box: [10, 20, 300, 400], classId: 5, className: 'bus', score: 0.9 }] };
}

function snapshot(seq: number): SnapshotMessage {
  const img = { width: 32, height: 24, rgb: new Uint8Array(32 * 24 * 3).fill(seq * 40) };
  const { jpeg, width, height, quality } = encodeJpegCapped(img, 64 * 1024);
  return { v: PROTOCOL_VERSION, ts: Date.now(), candidateId: 'n640', sha256: SHA, seq, frame: { width: 1280, height: 1080 }, image: { width, height, quality }, boxes: 1, jpeg: jpeg.toString('base64') };
}

describe('detections and snapshots at the controller', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'edgefit-outputs-'));
  const capture = captureLogger();
  let controller: Controller;
  const clients: MqttClient[] = [];

  async function device(id: string): Promise<MqttClient> {
    const token = controller.registry.get(id) ? controller.registry.rotateToken(id) : controller.registry.add(id);
    const client = mqtt.connect(controller.brokerUrl, { username: id, password: token, clientId: `t-${id}`, reconnectPeriod: 0 });
    clients.push(client);
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return client;
  }
  const get = (p: string, headers: Record<string, string> = {}) => fetch(controller.httpUrl + p, { headers: { authorization: `Bearer ${controller.adminToken}`, ...headers } });

  beforeAll(async () => {
    controller = await startController({ dataDir, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: capture.log });
  });
  afterAll(async () => {
    for (const c of clients) await c.endAsync();
    await controller?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('broker-config lets a device write its own detections and snapshot topics, like the embedded broker', () => {
    const acl = mosquittoAcl().split('\n');
    expect(acl).toContain(`pattern write ${TOPIC_ROOT}/%u/detections`);
    expect(acl).toContain(`pattern write ${TOPIC_ROOT}/%u/snapshot`);
  });

  it('keeps the latest record and snapshot per device and serves them; 404 with one line before; the token is required', async () => {
    const pi = await device('pi-out');
    const before = await get('/api/devices/pi-out/snapshot');
    expect(before.status).toBe(404);
    expect(((await before.json()) as { message: string }).message).toMatch(/has sent no snapshot yet/);
    expect((await get('/api/devices/pi-out/detections')).status).toBe(404);
    expect((await get('/api/devices/nobody/snapshot')).status).toBe(404);

    pi.publish(deviceTopic('pi-out', 'detections'), encodeFor('detections', record(1)), { qos: 0 });
    pi.publish(deviceTopic('pi-out', 'detections'), encodeFor('detections', record(2)), { qos: 0 });
    const first = snapshot(1);
    pi.publish(deviceTopic('pi-out', 'snapshot'), encodeFor('snapshot', first), { qos: 0 });
    await waitFor(() => controller.live.outputs.latestSnapshot('pi-out'), 10_000, 'the snapshot at the controller');
    await waitFor(() => controller.live.outputs.latestDetections('pi-out')?.seq === 2, 10_000, 'the second record');

    const det = await get('/api/devices/pi-out/detections');
    expect(det.status).toBe(200);
    expect(((await det.json()) as DetectionsMessage).boxes[0].className).toBe('bus');

    const res = await get('/api/devices/pi-out/snapshot');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.equals(Buffer.from(first.jpeg, 'base64'))).toBe(true);
    expect(JSON.parse(res.headers.get('x-edgefit-snapshot')!)).toMatchObject({ seq: 1, boxes: 1, image: { width: 32, height: 24 } });
    const etag = res.headers.get('etag')!;
    expect((await get('/api/devices/pi-out/snapshot', { 'if-none-match': etag })).status).toBe(304);
    expect((await fetch(`${controller.httpUrl}/api/devices/pi-out/snapshot`)).status).toBe(401);

    // a newer one replaces it
    pi.publish(deviceTopic('pi-out', 'snapshot'), encodeFor('snapshot', snapshot(2)), { qos: 0 });
    await waitFor(() => controller.live.outputs.latestSnapshot('pi-out')?.meta.seq === 2, 10_000, 'the second snapshot');
    expect((await get('/api/devices/pi-out/snapshot', { 'if-none-match': etag })).status).toBe(200);

    // the device's own text in the metadata header, escaped to ASCII and read back as it was
    pi.publish(deviceTopic('pi-out', 'snapshot'), encodeFor('snapshot', { ...snapshot(3), candidateId: 'kamera-ü-東' }), { qos: 0 });
    await waitFor(() => controller.live.outputs.latestSnapshot('pi-out')?.meta.seq === 3, 10_000, 'the third snapshot');
    const third = await get('/api/devices/pi-out/snapshot');
    expect(third.status).toBe(200);
    expect(JSON.parse(third.headers.get('x-edgefit-snapshot')!).candidateId).toBe('kamera-ü-東');

    // a device removed takes its views with it
    expect((await fetch(`${controller.httpUrl}/api/devices/pi-out`, { method: 'DELETE', headers: { authorization: `Bearer ${controller.adminToken}` } })).status).toBe(200);
    expect(controller.live.outputs.latestSnapshot('pi-out')).toBeUndefined();
    expect(controller.live.outputs.latestDetections('pi-out')).toBeUndefined();
  });

  it('drops what fails its schema with the reason, and never takes one device for another', async () => {
    const a = await device('pi-a');
    await device('pi-b');
    a.publish(deviceTopic('pi-a', 'snapshot'), encode({ ...snapshot(3), jpeg: Buffer.from('GIF89a not a jpeg').toString('base64') }), { qos: 0 });
    a.publish(deviceTopic('pi-a', 'detections'), encode({ ...record(3), boxes: [{ box: [0, 0, 1, 1], classId: 1, className: 'x', score: 7 }] }), { qos: 0 });
    await waitFor(() => capture.lines().filter((l) => l.device === 'pi-a' && /^malformed (snapshot|detections record) dropped$/.test(String(l.msg))).length === 2, 10_000, 'both dropped');
    const reasons = capture.lines().filter((l) => l.device === 'pi-a' && String(l.msg).startsWith('malformed')).map((l) => String(l.reason));
    expect(reasons.some((r) => /jpeg is not a JPEG/.test(r))).toBe(true);
    a.publish(deviceTopic('pi-a', 'detections'), encodeFor('detections', record(9)), { qos: 0 });
    await waitFor(() => controller.live.outputs.latestDetections('pi-a')?.seq === 9, 10_000, 'a valid record after them');
    expect(controller.live.outputs.latestSnapshot('pi-a')).toBeUndefined();
    // pi-a writing pi-b's snapshot topic: the embedded broker refuses it (ACL from the table) and cuts pi-a off
    const cut = new Promise<void>((resolve) => a.once('close', () => resolve()));
    a.publish(deviceTopic('pi-b', 'snapshot'), encodeFor('snapshot', snapshot(4)), { qos: 0 });
    await cut;
    expect(controller.live.outputs.latestSnapshot('pi-b')).toBeUndefined();
  });
});
