import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactInputError } from '../../controller/artifacts/store.js';
import { PUBLIC_KEY_FILE, SIGNING_KEY_FILE } from '../../controller/artifacts/signing.js';
import { startController, type Controller } from '../../controller/controller.js';
import { parseRange } from '../../controller/http/range.js';
import { ArtifactManifest, ArtifactRef, canonicalJson, checkRef, keyFingerprint, verifyManifest } from '../../protocol/artifacts.js';
import { captureLogger } from '../helpers/log.js';

describe('controller artifact store and HTTP', () => {
  let dataDir: string;
  let controller: Controller;
  let deviceAuth: string;
  const model = randomBytes(300_000);
  const sha = createHash('sha256').update(model).digest('hex');

  async function start(): Promise<void> {
    controller = await startController({ dataDir, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: captureLogger().log });
  }

  const admin = () => ({ authorization: `Bearer ${controller.adminToken}` });
  const upload = (body: Uint8Array, query = '?name=yolov8n-int8.onnx', headers: Record<string, string> = admin()) =>
    fetch(`${controller.httpUrl}/api/artifacts${query}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers }, body: new Uint8Array(body) });
  const get = (p: string, headers: Record<string, string> = {}, method = 'GET') => fetch(controller.httpUrl + p, { method, headers: { authorization: deviceAuth, ...headers } });

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-artifacts-'));
    await start();
    deviceAuth = `Basic ${Buffer.from(`pi-a:${controller.registry.add('pi-a')}`).toString('base64')}`;
  });

  afterAll(async () => {
    await controller.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores an admin upload by sha256 with a manifest signed by the controller key', async () => {
    const res = await upload(model);
    expect(res.status).toBe(201);
    const ref = ArtifactRef.parse(await res.json());
    expect(ref.sha256).toBe(sha);
    expect(ref.size).toBe(model.length);
    expect(readFileSync(path.join(dataDir, 'artifacts', sha)).equals(model)).toBe(true);
    expect(readdirSync(path.join(dataDir, 'artifacts'))).toEqual([sha]);

    const manifest = ArtifactManifest.parse(JSON.parse(ref.manifest));
    expect(manifest).toMatchObject({ sha256: sha, size: model.length, name: 'yolov8n-int8.onnx', kind: 'model' });
    expect(ref.manifest).toBe(canonicalJson(manifest));
    expect(verifyManifest(ref.manifest, ref.signature, controller.signingKey.publicKeyPem)).toBe(true);
    expect(checkRef(ref, controller.signingKey.publicKeyPem).ok).toBe(true);

    // Idempotent: the same bytes again give back the first ref, whatever the name.
    const again = await upload(model, '?name=other-name.onnx');
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(ref);

    const list = (await (await fetch(`${controller.httpUrl}/api/artifacts`, { headers: admin() })).json()) as { artifacts: Array<{ sha256: string; name: string; ref: unknown }> };
    expect(list.artifacts).toEqual([expect.objectContaining({ sha256: sha, name: 'yolov8n-int8.onnx', ref })]);
  });

  it('answers bad uploads with 400/401 and stores nothing', async () => {
    expect((await upload(model, '?name=x', {})).status).toBe(401);
    expect((await upload(model, '')).status).toBe(400);
    expect((await upload(new Uint8Array(0))).status).toBe(400);
    expect((await upload(model, `?name=${'n'.repeat(300)}`)).status).toBe(400);
    const json = await fetch(`${controller.httpUrl}/api/artifacts?name=x`, { method: 'POST', headers: { ...admin(), 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(400);
    expect(readdirSync(path.join(dataDir, 'artifacts'))).toEqual([sha]);
  });

  it('refuses a stream over the limit and leaves no temp file', async () => {
    await expect(controller.artifacts.put(randomBytes(1000), { name: 'big' }, { maxBytes: 999 })).rejects.toBeInstanceOf(ArtifactInputError);
    expect(readdirSync(path.join(dataDir, 'artifacts'))).toEqual([sha]);
  });

  it('puts a file by path with its lineage in the signed manifest', async () => {
    const file = path.join(dataDir, 'candidate.onnx');
    const bytes = randomBytes(5000);
    writeFileSync(file, bytes);
    const ref = await controller.artifacts.put(file, { name: 'candidate.onnx', lineage: { base: sha, method: 'l1-prune', ratio: 0.25 } });
    expect(ref.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const check = checkRef(ref, controller.signingKey.publicKeyPem);
    expect(check.ok && check.manifest.lineage).toEqual({ base: sha, method: 'l1-prune', ratio: 0.25 });
  });

  it('serves the whole file with ETag and Accept-Ranges to an authenticated device', async () => {
    const res = await get(`/artifacts/${sha}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${sha}"`);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe(String(model.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(model)).toBe(true);

    const head = await get(`/artifacts/${sha}`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(model.length));
  });

  it('serves byte ranges as 206 with Content-Range', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=100-199', 100, 199],
      ['bytes=299990-', 299_990, 299_999],
      ['bytes=-50', 299_950, 299_999],
      ['bytes=299000-999999', 299_000, 299_999],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(`/artifacts/${sha}`, { range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${model.length}`);
      expect(res.headers.get('etag')).toBe(`"${sha}"`);
      expect(Buffer.from(await res.arrayBuffer()).equals(model.subarray(start, end + 1))).toBe(true);
    }
  });

  it('answers 416 to unsatisfiable or malformed ranges', async () => {
    for (const range of [`bytes=${model.length}-`, 'bytes=500-100', 'bytes=abc', 'bytes=-0', 'bytes=']) {
      const res = await get(`/artifacts/${sha}`, { range });
      expect(res.status, range).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${model.length}`);
    }
  });

  it('ignores Range when If-Range names other content', async () => {
    const res = await get(`/artifacts/${sha}`, { range: 'bytes=10-', 'if-range': '"0000"' });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(model.length);
    const same = await get(`/artifacts/${sha}`, { range: 'bytes=10-', 'if-range': `"${sha}"` });
    expect(same.status).toBe(206);
    await same.arrayBuffer();
  });

  it('requires device credentials for artifacts and the key, and knows no other artifacts', async () => {
    const wrong = `Basic ${Buffer.from('pi-a:not-the-token').toString('base64')}`;
    for (const p of [`/artifacts/${sha}`, '/enroll/key']) {
      const none = await fetch(controller.httpUrl + p);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
      expect((await get(p, { authorization: wrong })).status).toBe(401);
      expect((await get(p, admin())).status).toBe(401);
    }
    expect((await get(`/artifacts/${'0'.repeat(64)}`)).status).toBe(404);
    expect((await get('/artifacts/not-a-sha')).status).toBe(400);
  });

  it('gives devices its public key and fingerprint, and keeps the key across restarts', async () => {
    const res = await get('/enroll/key');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { algorithm: string; publicKeyPem: string; fingerprint: string };
    expect(body.algorithm).toBe('ed25519');
    expect(body.publicKeyPem).toBe(controller.signingKey.publicKeyPem);
    expect(body.fingerprint).toBe(keyFingerprint(body.publicKeyPem));
    expect(readFileSync(path.join(dataDir, PUBLIC_KEY_FILE), 'utf8')).toBe(body.publicKeyPem);
    expect(statSync(path.join(dataDir, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);

    await controller.close();
    await start();
    expect(controller.signingKey.fingerprint).toBe(body.fingerprint);
    expect(controller.artifacts.get(sha)?.name).toBe('yolov8n-int8.onnx');
    expect(existsSync(path.join(dataDir, 'artifacts', sha))).toBe(true);
  });

  it('stops without waiting for a device that stopped reading mid-download', async () => {
    // Far more than the socket buffers hold, so the server's write stays pending.
    const big = randomBytes(16 * 1024 * 1024);
    const ref = ArtifactRef.parse(await (await upload(big, '?name=big.onnx')).json());
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(`${controller.httpUrl}/artifacts/${ref.sha256}`, { headers: { authorization: deviceAuth } }, resolve).on('error', reject);
    });
    expect(response.statusCode).toBe(200);
    response.pause();
    // Without a cut, the server would wait for the socket's timeout, a minute on.
    await controller.close();
    let received = 0;
    response.on('data', (chunk: Buffer) => (received += chunk.length));
    response.on('error', () => undefined);
    const closed = new Promise((resolve) => response.once('close', resolve));
    response.resume();
    await closed;
    expect(response.complete).toBe(false);
    expect(received).toBeLessThan(big.length);
    await start();
  }, 20_000);
});

describe('parseRange', () => {
  it('reads single ranges and leaves the rest to a full answer', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('items=0-1', 10)).toBeUndefined();
    expect(parseRange('bytes=0-1,4-5', 10)).toBeUndefined();
    expect(parseRange('bytes=0-0', 10)).toEqual({ start: 0, end: 0 });
    expect(parseRange('bytes=-20', 10)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
    expect(parseRange('bytes=1.5-', 10)).toBe('unsatisfiable');
  });
});
