// The error catalogue (protocol/error-catalogue.ts) and the three places that
// speak it: the HTTP API's one error handler, the CLI's failure line and exit
// status, and the logs. Expected statuses and wordings are read from the
// catalogue entry itself, so a handler that answers any other status, code or
// text fails here.
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../cli/api-client.js';
import { UsageError } from '../cli/args.js';
import { failure } from '../cli/failure.js';
import { LOG_FORMATTERS } from '../cli/log.js';
import { CalibrationError } from '../compress/calibration.js';
import { ModelFormatError, readModelFile } from '../compress/onnx/read.js';
import { CatalogError } from '../controller/catalog/catalog.js';
import { ArtifactInputError } from '../controller/artifacts/store.js';
import { codedAnswer, errorHandler } from '../controller/http/app.js';
import { CATALOGUE, ERROR_CODES, EdgefitError, formatMessage, isCoded, type ErrorCode } from '../protocol/errors.js';
import { runCliApart } from './helpers/cli.js';
import { captureLogger } from './helpers/log.js';
import { repoRoot } from './fixtures.js';

/** An error of `code` with every placeholder of its template filled by its own name: 'no device '{id}'' → "no device 'id-value'". */
function sample(code: ErrorCode): EdgefitError {
  const names = [...CATALOGUE[code].message.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  return new EdgefitError(code, Object.fromEntries(names.map((n) => [n, `${n}-value`])) as never);
}

describe('the catalogue', () => {
  it('names every failure once, with a well-formed code', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    // unique even to a reader who ignores case (a script comparing lower-cased codes)
    expect(new Set(ERROR_CODES.map((c) => c.toLowerCase())).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(code).toMatch(/^E_[A-Z0-9]+(_[A-Z0-9]+)*$/);
  });

  it('gives every code an HTTP error status and the CLI exit status 1 or 2', () => {
    for (const code of ERROR_CODES) {
      const { http: status, exit, message, what } = CATALOGUE[code];
      expect(status >= 400 && status <= 599, `${code}: HTTP ${status}`).toBe(true);
      expect([1, 2], code).toContain(exit);
      // one line each: the CLI prints it after 'edgefit <command>: ', the README puts it in a table cell
      expect(message, code).toMatch(/^\S[^\n]*$/);
      expect(what, code).toMatch(/^\S[^\n]*$/);
    }
  });

  it('exits 2 exactly for the mistakes a user makes on the command line', () => {
    const usage = ERROR_CODES.filter((c) => CATALOGUE[c].exit === 2);
    expect(usage.sort()).toEqual(['E_INPUT_SIZE', 'E_SOURCE_SPEC', 'E_USAGE']);
  });

  it('fills a template with its details, and leaves a missing one as written', () => {
    expect(formatMessage("no device '{id}'", { id: 'cam-1' })).toBe("no device 'cam-1'");
    expect(formatMessage('{a} and {b}', { a: 1 })).toBe('1 and {b}');
    const unknown = new EdgefitError('E_DEVICE_UNKNOWN', { id: 'cam-1' });
    expect(unknown.message).toBe("no device 'cam-1'");
    expect(unknown.details).toEqual({ id: 'cam-1' });
    expect([unknown.httpStatus, unknown.exitCode]).toEqual([404, 1]);
  });

  it('derives the kept error classes from their catalogue entry: one code per class, instanceof still works', () => {
    const kept: Array<[EdgefitError, ErrorCode]> = [
      [new ModelFormatError('x'), 'E_MODEL_FORMAT'],
      [new CalibrationError('x'), 'E_CALIBRATION'],
      [new UsageError('x'), 'E_USAGE'],
      [new CatalogError('x', 'invalid'), 'E_CATALOG_INVALID'],
      [new CatalogError('x', 'not-found'), 'E_CATALOG_UNKNOWN'],
      [new ArtifactInputError('x', 'too-large'), 'E_ARTIFACT_TOO_LARGE'],
    ];
    for (const [err, code] of kept) {
      expect(err.code).toBe(code);
      expect(err.message).toBe('x');
      expect(isCoded(err, code)).toBe(true);
      expect(err).toBeInstanceOf(EdgefitError);
    }
    expect(new ModelFormatError('x')).toBeInstanceOf(ModelFormatError);
    expect(new ModelFormatError('x')).not.toBeInstanceOf(CalibrationError);
  });
});

describe('the HTTP API', () => {
  async function app() {
    const { log, lines } = captureLogger();
    const server = Fastify({ loggerInstance: log as FastifyBaseLogger });
    errorHandler(server);
    server.get<{ Params: { code: string } }>('/coded/:code', async (request) => {
      throw sample(request.params.code as ErrorCode);
    });
    server.get('/bug', async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'secret path /var/x')");
    });
    server.post('/json', async (request) => request.body);
    server.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 10 }, (_r, body, done) => done(null, body));
    server.post('/bytes', async () => ({ ok: true }));
    return { server, lines };
  }

  it('answers every coded error with its status and { error: code, message }', async () => {
    const { server } = await app();
    for (const code of ERROR_CODES) {
      const res = await server.inject({ method: 'GET', url: `/coded/${code}` });
      expect(res.statusCode, code).toBe(CATALOGUE[code].http);
      expect(res.json(), code).toEqual({ error: code, message: sample(code).message });
    }
    await server.close();
  });

  it("answers fastify's own refusals with their code, and a bug with E_INTERNAL that the log names", async () => {
    const { server, lines } = await app();
    const notJson = await server.inject({ method: 'POST', url: '/json', headers: { 'content-type': 'application/json' }, payload: '{"a":' });
    expect([notJson.statusCode, notJson.json().error]).toEqual([400, 'E_BAD_REQUEST']);
    const big = await server.inject({ method: 'POST', url: '/bytes', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(11) });
    expect([big.statusCode, big.json().error]).toEqual([413, 'E_BODY_TOO_LARGE']);
    const media = await server.inject({ method: 'POST', url: '/json', headers: { 'content-type': 'text/x-nothing' }, payload: 'x' });
    expect([media.statusCode, media.json().error]).toEqual([415, 'E_MEDIA_TYPE']);
    const route = await server.inject({ method: 'GET', url: '/nowhere' });
    expect([route.statusCode, route.json()]).toEqual([404, { error: 'E_ROUTE_UNKNOWN', message: 'Route GET:/nowhere not found' }]);
    // 4xx are the caller's: not logged as failures
    expect(lines().filter((l) => l.level === 50)).toEqual([]);
    const bug = await server.inject({ method: 'GET', url: '/bug' });
    // the answer keeps internals out; the log has them, with the code
    expect([bug.statusCode, bug.json()]).toEqual([500, { error: 'E_INTERNAL', message: 'internal error' }]);
    const logged = lines().filter((l) => l.level === 50);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ code: 'E_INTERNAL', msg: 'request failed', err: { type: 'TypeError' } });
    expect(String((logged[0].err as { message: string }).message)).toContain('secret path');
    await server.close();
  });

  it('maps a plain error by its fastify status only', () => {
    expect(codedAnswer(Object.assign(new Error('x'), { statusCode: 400 })).code).toBe('E_BAD_REQUEST');
    expect(codedAnswer(Object.assign(new Error('x'), { statusCode: 503 })).code).toBe('E_INTERNAL');
    expect(codedAnswer(new Error('x')).code).toBe('E_INTERNAL');
    const coded = new EdgefitError('E_ROLLOUT_UNKNOWN', { id: 'r-1' });
    expect(codedAnswer(coded)).toBe(coded);
  });
});

describe('the logs', () => {
  it('carry the code and details of a coded error logged as err', () => {
    const { log, lines } = captureLogger();
    log.error({ err: new EdgefitError('E_DEVICE_UNKNOWN', { id: 'cam-9' }) }, 'could not deploy');
    log.warn({ err: new ModelFormatError('m.onnx: truncated') }, 'skipped');
    expect(lines()[0].err).toMatchObject({ code: 'E_DEVICE_UNKNOWN', details: { id: 'cam-9' }, message: "no device 'cam-9'" });
    expect(lines()[1].err).toMatchObject({ code: 'E_MODEL_FORMAT', type: 'ModelFormatError', message: 'm.onnx: truncated' });
  });

  it("carry it at the top of the line with the CLI's logger (a search by code finds it)", () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    });
    const log = pino({ formatters: LOG_FORMATTERS }, sink).child({ component: 'rollout' });
    log.error({ err: new EdgefitError('E_BROKER_UNAVAILABLE', { reason: 'the broker is down' }) }, 'cannot send the job');
    log.error({ err: new Error('plain') }, 'other');
    log.warn({ err: new EdgefitError('E_SPEC', { reason: 'x' }), code: 'E_OWN' }, 'kept');
    expect(lines.map((l) => l.code)).toEqual(['E_BROKER_UNAVAILABLE', undefined, 'E_OWN']);
    expect(lines[0]).toMatchObject({ component: 'rollout', err: { code: 'E_BROKER_UNAVAILABLE', message: 'the broker is down' } });
  });
});

describe('the CLI', () => {
  it("prints 'edgefit <command>: <message>' once and exits with the code's status", () => {
    for (const code of ERROR_CODES) {
      const err = sample(code);
      expect(failure(err, 'model info'), code).toEqual({ line: `edgefit model info: ${err.message}`, exit: CATALOGUE[code].exit });
    }
    // messages that already name the command (usage mistakes) do not name it twice; a usage line is printed as it is
    expect(failure(new UsageError("prune: give exactly one of --ratio and --flops-cut"), 'prune')).toEqual({ line: 'edgefit prune: give exactly one of --ratio and --flops-cut', exit: 2 });
    expect(failure(new UsageError('prune --unstructured takes --ratio'), 'prune').line).toBe('edgefit prune --unstructured takes --ratio');
    expect(failure(new UsageError('usage: edgefit model info FILE [--json]'), 'model info').line).toBe('usage: edgefit model info FILE [--json]');
    // 'profiles' is not the command 'profile' named
    expect(failure(new EdgefitError('E_PROFILE_ABORTED', { reason: 'profiles stopped' }), 'profile').line).toBe('edgefit profile: profiles stopped');
    // an error without a code is a failure
    expect(failure(new RangeError('x'), 'detect')).toEqual({ line: 'edgefit detect: x', exit: 1 });
    expect(failure('thrown text', undefined)).toEqual({ line: 'edgefit: thrown text', exit: 1 });
  });

  it('ends a real command with the line and status of its error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-errors-'));
    const text = path.join(dir, 'notes.onnx');
    writeFileSync(text, 'not a model\n');
    let expected: unknown;
    try {
      readModelFile(text);
    } catch (err) {
      expected = err;
    }
    expect(isCoded(expected, 'E_MODEL_FORMAT')).toBe(true);
    const info = await runCliApart(['model', 'info', text]);
    expect([info.code, info.stderr, info.stdout]).toEqual([1, `edgefit model info: ${(expected as Error).message}\n`, '']);

    const usage = await runCliApart(['model', 'info', text, '--depth', '2']);
    expect([usage.code, usage.stderr]).toEqual([2, "edgefit model info: unknown flag '--depth'; it takes --optimized, --json\n"]);
  });

  it('fails an API call with E_API_ANSWER carrying the controller\'s own code', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'E_DEVICE_UNKNOWN', message: "no device 'x'" }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const err = await new ApiClient(`http://127.0.0.1:${port}`, 'token').request('GET', '/api/devices/x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EdgefitError);
      expect(err).toMatchObject({ code: 'E_API_ANSWER', message: "GET /api/devices/x: 404 no device 'x'", details: { remote: 'E_DEVICE_UNKNOWN', status: 404 } });
    } finally {
      server.close();
    }
  });

  it('hands each command its spec: no command file imports the command table back', () => {
    const cli = path.join(repoRoot, 'cli');
    const importers = readdirSync(cli)
      .filter((f) => f.endsWith('.ts') && /from '\.\/commands\.js'/.test(readFileSync(path.join(cli, f), 'utf8')))
      .sort();
    expect(importers).toEqual(['main.ts']);
  });
});
