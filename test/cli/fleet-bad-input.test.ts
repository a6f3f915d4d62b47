// Bad input to the fleet commands (up, broker-config, devices, models,
// candidates, rollout), against a real controller where one is needed: a
// mistake exits 2 before any request or write, a failure exits 1 with a
// sentence, and nothing keeps running on input it cannot use.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type Controller } from '../../controller/controller.js';
import { writeModelFile } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { expectFailure, expectUsage, runCliApart } from '../helpers/cli.js';
import { captureLogger } from '../helpers/log.js';
import { freePort } from '../helpers/free-port.js';

/** The CLI as a child; one still running after `limitMs` is killed and reported as such (it should have stopped). */
const cli = (args: string[], env: Record<string, string> = {}, limitMs = 15_000) => runCliApart(args, { env, limitMs });

describe('edgefit fleet commands on bad input', () => {
  const token = { EDGEFIT_ADMIN_TOKEN: 'not-checked-before-the-request' };
  let dir: string;
  let model: string;
  let nowhere: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-fleet-bad-'));
    model = path.join(dir, 'n64.onnx');
    writeModelFile(buildYolov8({ scale: 'n', imgsz: 64, nc: 2 }), model);
    nowhere = `http://127.0.0.1:${await freePort()}`;
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('up rejects a bad --heartbeat once instead of restarting its agent on it forever', async () => {
    const r = await cli(['up', '--port', '0', '--mqtt-port', '0', '--data', path.join(dir, 'up-heartbeat'), '--heartbeat', 'abc']);
    expect(r.killed).toBe(false);
    expectUsage(r, /up: --heartbeat must be an integer in \[1, 59\], got 'abc'/);
    expect(existsSync(path.join(dir, 'up-heartbeat'))).toBe(false);
  });

  it('up stops on a --model that is not ONNX instead of running with nothing to roll out', async () => {
    const garbage = path.join(dir, 'garbage.onnx');
    writeFileSync(garbage, 'hello');
    const r = await cli(['up', '--port', '0', '--mqtt-port', '0', '--data', path.join(dir, 'up-model'), '--model', garbage]);
    expect(r.killed).toBe(false);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cannot use --model .*garbage\.onnx: not an ONNX model/);
    expect(existsSync(path.join(dir, 'up-model'))).toBe(false);
  });

  it('agent rejects a --controller-key that is not an ed25519 public key instead of waiting for it to become one', async () => {
    const garbage = path.join(dir, 'garbage.pem');
    writeFileSync(garbage, '-----BEGIN PUBLIC KEY-----\nnot base64\n');
    const rsa = path.join(dir, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }));
    const agent = (key: string) => cli(['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'pi-a', '--controller', nowhere, '--controller-key', key, '--state', path.join(dir, 'agent-state')], { EDGEFIT_TOKEN: 't' }, 8000);
    const notPem = await agent(garbage);
    expect(notPem.killed).toBe(false);
    expectUsage(notPem, /agent: --controller-key .*garbage\.pem: not a public key PEM/);
    const notEd25519 = await agent(rsa);
    expect(notEd25519.killed).toBe(false);
    expectUsage(notEd25519, /--controller-key .*rsa\.pem: expected an ed25519 public key, got rsa/);
  });

  it('agent stops with the reason when its artifact cache cannot be opened, instead of waiting for the controller', async () => {
    const key = path.join(dir, 'ed25519.pem');
    writeFileSync(key, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const state = path.join(dir, 'state-with-a-file');
    mkdirSync(state);
    writeFileSync(path.join(state, 'artifacts'), 'not a folder');
    const r = await cli(['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'pi-a', '--controller', nowhere, '--controller-key', key, '--state', state], { EDGEFIT_TOKEN: 't' }, 8000);
    expect(r.killed).toBe(false);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cannot open the artifact cache .*artifacts: /);
  });

  it('controller and up name a --data that is a file', async () => {
    expectUsage(await cli(['controller', '--port', '0', '--mqtt-port', '0', '--data', model]), /controller: --data .*n64\.onnx is a file/);
    expectUsage(await cli(['up', '--port', '0', '--mqtt-port', '0', '--data', model]), /up: --data .*n64\.onnx is a file/);
  });

  it('broker-config checks its flags before it writes any file', async () => {
    const out = path.join(dir, 'mosquitto');
    expectUsage(await cli(['broker-config', '--out', out, '--data', path.join(dir, 'data'), '--port', '0']), /--port must be an integer in \[1, 65535\], got '0'/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(path.join(dir, 'data'))).toBe(false);
    expectUsage(await cli(['broker-config', '--out', model, '--data', path.join(dir, 'data')]), /--out .*n64\.onnx is a file/);
  });

  it('answers a --controller that is not a URL as a usage mistake', async () => {
    expectUsage(await cli(['devices', '--controller', 'notaurl', '--json'], token), /devices: --controller must be a URL like http:\/\/host:8080, got 'notaurl'/);
    expectUsage(await cli(['models', '--controller', ''], token), /--controller must be a URL/);
    expectUsage(await cli(['devices', '--controller', 'http://127.0.0.1:1/api/'], token), /devices: --controller is the controller's base URL, without \/api/);
  });

  it('says plainly when something other than a controller answers', async () => {
    const server: Server = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<!DOCTYPE html><html><body>Not Found</body></html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const r = await cli(['devices', '--controller', url, '--json'], token);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/GET \/api\/devices(\?limit=\d+)?: .* answered 404 Not Found with something that is not JSON: is it an edgefit controller\?/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('checks flags and files before asking the controller anything', async () => {
    // the controller does not answer: a usage mistake must still be one
    expectUsage(await cli(['candidates', 'import', model, '--controller', nowhere, '--method', 'qat', '--declared-map50-95', '1.5'], token), /--declared-map50-95 must be a number in \[0, 1\]/);
    // and a file or folder that cannot be used fails as it does in the model commands, before any request
    expectFailure(await cli(['candidates', 'import', path.join(dir, 'missing.onnx'), '--controller', nowhere, '--method', 'qat', '--declared-map50-95', '0.3'], token), /cannot read .*missing\.onnx: ENOENT/);
    expectFailure(await cli(['models', 'add', model, '--controller', nowhere, '--calib', path.join(dir, 'no-such-folder')], token), /--calib .*no-such-folder is not a folder/);
    expectFailure(await cli(['models', 'add', model, '--controller', nowhere, '--eval', model], token), /--eval .*n64\.onnx is not a folder/);
    expectUsage(await cli(['rollout', 'status', 'r-1', 'r-2', '--controller', nowhere], token), /give at most one rollout ID/);
    expectUsage(await cli(['models', 'add', model, '--controller', nowhere, '--ladder', 'huge'], token), /--ladder must be one of default, quick, searched, got 'huge'/);
    expectUsage(await cli(['models', 'add', model, '--controller', nowhere, '--ladder', 'quick', '--class', 'pi5'], token), /--class is for --ladder searched/);
    expectUsage(await cli(['models', 'add', model, '--controller', nowhere, '--sizes', '640,500'], token), /--sizes: sizes must be multiples of 32 in \[32, 4096\] like 320,256, got '640,500'/);
    expectUsage(await cli(['controller', '--broker', 'mqtt://127.0.0.1:1', '--mqtt-port', '1884', '--data', path.join(dir, 'unused')]), /--mqtt-port is the embedded broker's port; with --broker there is none/);
    // up and controller share the broker flags: dynsec needs an external broker in both
    for (const command of ['controller', 'up']) expectUsage(await cli([command, '--broker-dynsec', '--data', path.join(dir, 'unused')]), new RegExp(`^edgefit ${command}: --broker-dynsec is for an external Mosquitto`));
    // a spec file that is missing or wrong is unusable input, like a broken model file
    expectFailure(await cli(['rollout', 'create', path.join(dir, 'missing.yaml'), '--controller', nowhere], token), /^edgefit rollout create: cannot read .*missing\.yaml: no such file\n$/);
    const spec = path.join(dir, 'bad-spec.yaml');
    writeFileSync(spec, 'model: m-1\nslo: {minFps: 15}\nrate: {perHour: 3}\n');
    expectFailure(await cli(['rollout', 'create', spec, '--controller', nowhere], token), /bad-spec\.yaml: rollout spec rate: Unrecognized key: "perHour"/);
  });

  describe('against a running controller', () => {
    let controller: Controller;
    let dataDir: string;

    beforeAll(async () => {
      dataDir = path.join(dir, 'controller');
      controller = await startController({ dataDir, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: captureLogger().log });
    });

    afterAll(async () => {
      await controller?.close();
    });

    it('models add --wait exits 1 when the ladder fails, with the job still reported as JSON', async () => {
      const empty = path.join(dir, 'no-images');
      mkdirSync(empty);
      const r = await cli(['models', 'add', model, '--data', dataDir, '--controller', controller.httpUrl, '--calib', empty, '--ladder', 'quick', '--wait', '--json']);
      expect(r.code, r.stderr).toBe(1);
      const result = JSON.parse(r.stdout) as { job: { state: string; error: string } };
      expect(result.job.state).toBe('failed');
      expect(result.job.error).toMatch(/no JPEG or PNG images/);
      expect(r.stderr).toMatch(/models add: ladder job .* failed: .*no JPEG or PNG images/);
    });
  });
});
