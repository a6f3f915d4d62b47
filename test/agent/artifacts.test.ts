import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactCache } from '../../agent/artifacts/cache.js';
import { ArtifactDownloadError, ArtifactRejected } from '../../agent/artifacts/download.js';
import { ControllerKeyMismatch, PINNED_KEY_FILE, pinControllerKey } from '../../agent/artifacts/key-pin.js';
import { signManifest } from '../../controller/artifacts/signing.js';
import { startController, type Controller } from '../../controller/controller.js';
import { canonicalJson, keyFingerprint, type ArtifactRef } from '../../protocol/artifacts.js';
import { runCli } from '../helpers/cli.js';
import { captureLogger } from '../helpers/log.js';

interface Served {
  range: string | undefined;
  status: number;
  bytes: number;
}

/**
 * A real HTTP hop between agent and controller that records what each request
 * asked for and how many body bytes went through, and can drop the connection
 * after `cutAfter(i)` body bytes of request i.
 */
async function startProxy(target: string, cutAfter: (i: number) => number | undefined = () => undefined) {
  const served: Served[] = [];
  const server = http.createServer((req, res) => {
    const entry: Served = { range: req.headers.range, status: 0, bytes: 0 };
    const cut = cutAfter(served.length);
    served.push(entry);
    const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
      entry.status = up.statusCode!;
      res.writeHead(up.statusCode!, up.headers);
      let dropped = false;
      up.on('data', (chunk: Buffer) => {
        if (dropped) return;
        if (cut !== undefined && entry.bytes + chunk.length >= cut) {
          dropped = true;
          const head = chunk.subarray(0, cut - entry.bytes);
          entry.bytes += head.length;
          up.destroy();
          res.write(head, () => res.socket?.destroy());
          return;
        }
        entry.bytes += chunk.length;
        res.write(chunk);
      });
      up.on('end', () => res.end());
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('agent artifact download, verification and cache', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgefit-agent-artifacts-'));
  let controller: Controller;
  let token: string;
  let dirCount = 0;
  const proxies: Array<{ close(): Promise<void> }> = [];
  const newDir = () => path.join(root, `state-${dirCount++}`);

  beforeAll(async () => {
    controller = await startController({ dataDir: path.join(root, 'controller'), mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: captureLogger().log });
    token = controller.registry.add('pi-a');
  });

  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  afterAll(async () => {
    await controller.close();
    rmSync(root, { recursive: true, force: true });
  });

  function cache(dir: string, controllerUrl = controller.httpUrl, extra: Partial<ConstructorParameters<typeof ArtifactCache>[0]> = {}) {
    return new ArtifactCache({
      dir,
      capBytes: 64 * 1024 * 1024,
      controllerUrl,
      deviceId: 'pi-a',
      token,
      publicKeyPem: controller.signingKey.publicKeyPem,
      log: captureLogger().log,
      retryDelayMs: 5,
      ...extra,
    });
  }

  async function proxy(cutAfter?: (i: number) => number | undefined) {
    const p = await startProxy(controller.httpUrl, cutAfter);
    proxies.push(p);
    return p;
  }

  const put = (bytes: Uint8Array, name = 'model.onnx') => controller.artifacts.put(bytes, { name });
  const installed = (dir: string) => readdirSync(dir).filter((n) => n !== 'partial');

  it('resumes a download cut in the middle without fetching the received bytes again', async () => {
    const model = randomBytes(2_000_000);
    const ref = await put(model);
    const cut = 700_001;
    const p = await proxy((i) => (i === 0 ? cut : undefined));
    const dir = newDir();
    const file = await cache(dir, p.url).ensure(ref);

    expect(readFileSync(file).equals(model)).toBe(true);
    expect(file).toBe(path.join(dir, `${ref.sha256}.onnx`));
    expect(p.served.map((s) => [s.range, s.status])).toEqual([
      [undefined, 200],
      [`bytes=${cut}-`, 206],
    ]);
    expect(p.served[0].bytes).toBe(cut);
    expect(p.served[1].bytes).toBe(model.length - cut);
    expect(p.served[0].bytes + p.served[1].bytes).toBe(model.length);
    expect(readdirSync(path.join(dir, 'partial'))).toEqual([]);
  });

  it('resumes from the partial file after the agent restarts', async () => {
    const model = randomBytes(1_500_000);
    const ref = await put(model);
    const cut = 400_000;
    // Request 0 is cut in the middle, request 1 dies before any byte: the first agent gives up.
    const p = await proxy((i) => (i === 0 ? cut : i === 1 ? 0 : undefined));
    const dir = newDir();
    await expect(cache(dir, p.url, { attempts: 1 }).ensure(ref)).rejects.toBeInstanceOf(ArtifactDownloadError);
    expect(readFileSync(path.join(dir, 'partial', `${ref.sha256}.part`)).length).toBe(cut);
    expect(installed(dir)).toEqual([]);

    const file = await cache(dir, p.url).ensure(ref);
    expect(sha256(readFileSync(file))).toBe(ref.sha256);
    expect(p.served.map((s) => s.range)).toEqual([undefined, `bytes=${cut}-`, `bytes=${cut}-`]);
    expect(p.served[2].bytes).toBe(model.length - cut);
  });

  it('refuses a tampered file on the controller and installs nothing', async () => {
    const model = randomBytes(200_000);
    const ref = await put(model);
    const stored = path.join(root, 'controller', 'artifacts', ref.sha256);
    const bytes = readFileSync(stored);
    bytes[123_456] ^= 0x01;
    writeFileSync(stored, bytes);

    const dir = newDir();
    const err = await cache(dir).ensure(ref).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactRejected);
    expect((err as ArtifactRejected).reason).toBe('hash');
    expect(installed(dir)).toEqual([]);
    expect(readdirSync(path.join(dir, 'partial'))).toEqual([]);
  });

  it('refuses a bad signature, an altered manifest and a foreign signer before downloading anything', async () => {
    const ref = await put(randomBytes(50_000));
    const p = await proxy();
    const dir = newDir();
    const c = cache(dir, p.url);

    const flipped = { ...ref, signature: (ref.signature[0] === 'A' ? 'B' : 'A') + ref.signature.slice(1) };
    const renamed = { ...ref, manifest: canonicalJson({ ...JSON.parse(ref.manifest), name: 'innocent.onnx' }) };
    const other = generateKeyPairSync('ed25519');
    const foreign = { ...ref, ...signManifest(JSON.parse(ref.manifest), { privateKey: other.privateKey, publicKeyPem: '', fingerprint: '' }) };
    // Correctly signed, but for other bytes than the ref names.
    const swapped = { ...ref, sha256: sha256(Buffer.from('other')) };
    for (const [bad, reason] of [
      [flipped, 'signature'],
      [renamed, 'signature'],
      [foreign, 'signature'],
      [swapped, 'manifest'],
    ] as Array<[ArtifactRef, string]>) {
      const err = await c.ensure(bad).catch((e: unknown) => e);
      expect(err, reason).toBeInstanceOf(ArtifactRejected);
      expect((err as ArtifactRejected).reason).toBe(reason);
    }
    await expect(c.ensure({ sha256: 'nope' } as unknown as ArtifactRef)).rejects.toBeInstanceOf(ArtifactRejected);
    expect(p.served).toEqual([]);
    expect(existsSync(dir) ? installed(dir) : []).toEqual([]);
  });

  it('refuses a manifest whose size disagrees with what the controller serves', async () => {
    const model = randomBytes(10_000);
    const ref = await put(model);
    const manifest = { ...JSON.parse(ref.manifest), size: model.length + 10 };
    const lying = { ...ref, size: model.length + 10, ...signManifest(manifest, controller.signingKey) };
    const dir = newDir();
    const err = await cache(dir).ensure(lying).catch((e: unknown) => e);
    expect((err as ArtifactRejected).reason).toBe('size');
    expect(installed(dir)).toEqual([]);
  });

  it('shares one download between concurrent ensure() calls and serves later ones from disk', async () => {
    const ref = await put(randomBytes(300_000));
    const p = await proxy();
    const c = cache(newDir(), p.url);
    const [a, b] = await Promise.all([c.ensure(ref), c.ensure(ref)]);
    expect(a).toBe(b);
    expect(await c.ensure(ref)).toBe(a);
    expect(p.served.length).toBe(1);
  });

  it('drops the partial files of downloads nobody waits for before it would evict a model', async () => {
    const dir = newDir();
    mkdirSync(path.join(dir, 'partial'), { recursive: true });
    const stale = path.join(dir, 'partial', `${'ab'.repeat(32)}.part`);
    writeFileSync(stale, randomBytes(400_000));
    const kept = await put(randomBytes(50_000));
    const c = cache(dir, controller.httpUrl, { capBytes: 500_000 });
    await c.ensure(kept);
    // 400 KB of stopped download + 50 KB + 300 KB would pass the cap: the partial file goes, the model stays
    await c.ensure(await put(randomBytes(300_000)));
    expect(existsSync(stale)).toBe(false);
    expect(c.list().map((e) => e.sha256)).toContain(kept.sha256);
  });

  it('re-verifies the cache at start-up and the hash of a cached file when it is next used', async () => {
    const good = await put(randomBytes(100_000));
    const forged = await put(randomBytes(100_000));
    const p = await proxy();
    const dir = newDir();
    const first = cache(dir, p.url);
    await first.ensure(good);
    await first.ensure(forged);
    expect(p.served.length).toBe(2);

    // A sidecar whose signature no longer verifies is dropped at start-up; a corrupt model file is caught on use.
    const sidecar = path.join(dir, `${forged.sha256}.json`);
    writeFileSync(sidecar, JSON.stringify({ ...forged, manifest: canonicalJson({ ...JSON.parse(forged.manifest), name: 'x' }) }));
    const modelFile = path.join(dir, `${good.sha256}.onnx`);
    const bytes = readFileSync(modelFile);
    bytes[10] ^= 0xff;
    writeFileSync(modelFile, bytes);

    const second = cache(dir, p.url);
    expect(second.list().map((e) => e.sha256)).toEqual([good.sha256]);
    expect(existsSync(path.join(dir, `${forged.sha256}.onnx`))).toBe(false);
    const file = await second.ensure(good);
    expect(sha256(readFileSync(file))).toBe(good.sha256);
    expect(p.served.length).toBe(3);
  });

  it('evicts the least recently used artifacts under the cap and never a pinned one', async () => {
    const size = 100_000;
    const [a, b, c, d] = await Promise.all([0, 1, 2, 3].map(() => put(randomBytes(size))));
    const dir = newDir();
    const lru = cache(dir, controller.httpUrl, { capBytes: 3 * size + 10 });
    const has = (ref: ArtifactRef) => existsSync(path.join(dir, `${ref.sha256}.onnx`));

    await lru.ensure(a);
    await lru.ensure(b);
    await lru.ensure(c);
    lru.pin(a.sha256);
    await lru.ensure(b);
    // Use order now: a (oldest, pinned), c, b. Room for d means c goes.
    await lru.ensure(d);
    expect([has(a), has(b), has(c), has(d)]).toEqual([true, true, false, true]);
    expect(lru.usedBytes).toBe(3 * size);

    lru.unpin(a.sha256);
    await lru.ensure(c);
    expect([has(a), has(b), has(c), has(d)]).toEqual([false, true, true, true]);
    expect(lru.list().map((e) => e.sha256)).toEqual([c.sha256, d.sha256, b.sha256]);

    await expect(cache(newDir(), controller.httpUrl, { capBytes: size - 1 }).ensure(a)).rejects.toBeInstanceOf(ArtifactDownloadError);
  });
});

describe('controller key pinning', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgefit-key-pin-'));
  let a: Controller;
  let b: Controller;
  let tokenA: string;
  let tokenB: string;
  const log = captureLogger().log;

  beforeAll(async () => {
    a = await startController({ dataDir: path.join(root, 'a'), mqttPort: 0, httpPort: 0, host: '127.0.0.1', log });
    b = await startController({ dataDir: path.join(root, 'b'), mqttPort: 0, httpPort: 0, host: '127.0.0.1', log });
    tokenA = a.registry.add('pi-a');
    tokenB = b.registry.add('pi-a');
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('pins the first key it sees and refuses a different one later', async () => {
    const stateDir = path.join(root, 'tofu');
    const pinned = await pinControllerKey({ stateDir, controllerUrl: a.httpUrl, deviceId: 'pi-a', token: tokenA, log });
    expect(pinned.fingerprint).toBe(a.signingKey.fingerprint);
    expect(readFileSync(path.join(stateDir, PINNED_KEY_FILE), 'utf8')).toBe(a.signingKey.publicKeyPem);
    expect((await pinControllerKey({ stateDir, controllerUrl: a.httpUrl, deviceId: 'pi-a', token: tokenA, log })).fingerprint).toBe(pinned.fingerprint);

    const err = await pinControllerKey({ stateDir, controllerUrl: b.httpUrl, deviceId: 'pi-a', token: tokenB, log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControllerKeyMismatch);
    expect((err as ControllerKeyMismatch).pinned).toBe(a.signingKey.fingerprint);
    expect((err as ControllerKeyMismatch).presented).toBe(b.signingKey.fingerprint);
    expect(readFileSync(path.join(stateDir, PINNED_KEY_FILE), 'utf8')).toBe(a.signingKey.publicKeyPem);
  });

  it('with an explicit key, trusts nothing the network says', async () => {
    const stateDir = path.join(root, 'explicit');
    await expect(pinControllerKey({ stateDir, controllerUrl: b.httpUrl, deviceId: 'pi-a', token: tokenB, explicitKeyPem: a.signingKey.publicKeyPem, log })).rejects.toBeInstanceOf(ControllerKeyMismatch);
    expect(existsSync(path.join(stateDir, PINNED_KEY_FILE))).toBe(false);
    // The controller down at start: the explicit key is pinned all the same.
    const pinned = await pinControllerKey({ stateDir, controllerUrl: 'http://127.0.0.1:1', deviceId: 'pi-a', token: tokenA, explicitKeyPem: a.signingKey.publicKeyPem, log });
    expect(pinned.fingerprint).toBe(keyFingerprint(a.signingKey.publicKeyPem));
    await expect(pinControllerKey({ stateDir: path.join(root, 'nothing'), controllerUrl: 'http://127.0.0.1:1', deviceId: 'pi-a', token: tokenA, log })).rejects.not.toBeInstanceOf(ControllerKeyMismatch);
    await expect(pinControllerKey({ stateDir: path.join(root, 'wrong-token'), controllerUrl: a.httpUrl, deviceId: 'pi-a', token: 'wrong', log })).rejects.toThrow(/refused/);
  });

  it('a cache pinned to one controller refuses what another controller signs', async () => {
    const ref = await b.artifacts.put(randomBytes(1000), { name: 'from-b.onnx' });
    const c = new ArtifactCache({ dir: path.join(root, 'cache'), capBytes: 1 << 20, controllerUrl: b.httpUrl, deviceId: 'pi-a', token: tokenB, publicKeyPem: a.signingKey.publicKeyPem, log });
    const err = await c.ensure(ref).catch((e: unknown) => e);
    expect((err as ArtifactRejected).reason).toBe('signature');
  });

  it('edgefit agent stops loudly when the controller key changed', async () => {
    const stateDir = path.join(root, 'tofu');
    const { code, output } = await runCli(['agent', '--broker', b.brokerUrl, '--id', 'pi-a', '--controller', b.httpUrl, '--state', stateDir], { EDGEFIT_TOKEN: tokenB });
    expect(code).toBe(1);
    expect(output).toContain('controller artifact key changed');
    expect(output).toContain(b.signingKey.fingerprint);
  });
});
