import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type Controller } from '../../controller/controller.js';
import { buildApp } from '../../controller/http/app.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { captureLogger } from '../helpers/log.js';

// The OpenAPI document against the app that serves it: a standard parser
// validates it, every route fastify registered is in it, and real answers of
// the main routes conform to the schemas it documents for them. The app is a
// second buildApp over a running controller's real components (SQLite,
// catalog, rollout engine), so an onRoute hook can list every route it adds.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { [k: string]: unknown };

/**
 * Where `value` breaks `schema` (the OpenAPI 3.0 subset the document uses:
 * type, nullable, enum, properties, required, additionalProperties, items,
 * anyOf/oneOf/allOf, minItems/maxItems): written here so the check does not
 * go through the zod schemas the document was generated from.
 */
function violations(value: Json | undefined, schema: Schema, at = '$'): string[] {
  if (value === null) return schema.nullable === true || (Array.isArray(schema.enum) && schema.enum.includes(null)) || Object.keys(schema).length === 0 ? [] : [`${at}: null where ${JSON.stringify(schema.type)} is documented`];
  if (value === undefined) return [`${at}: missing`];
  const out: string[] = [];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key] as Schema[] | undefined;
    if (options && !options.some((s) => violations(value, s, at).length === 0)) out.push(`${at}: matches none of ${key}`);
  }
  for (const s of (schema.allOf as Schema[] | undefined) ?? []) out.push(...violations(value, s, at));
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  const type = schema.type as string | undefined;
  const actual = Array.isArray(value) ? 'array' : typeof value;
  if (type === 'integer' ? !Number.isInteger(value) : type !== undefined && type !== actual) return [...out, `${at}: ${actual} where ${type} is documented`];
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) out.push(`${at}: fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) out.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items) value.forEach((v, i) => out.push(...violations(v, schema.items as Schema, `${at}[${i}]`)));
  } else if (typeof value === 'object') {
    const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
    for (const key of (schema.required as string[] | undefined) ?? []) if (!(key in value)) out.push(`${at}.${key}: required but missing`);
    for (const [key, v] of Object.entries(value)) {
      if (properties[key]) out.push(...violations(v, properties[key], `${at}.${key}`));
      else if (schema.additionalProperties === false) out.push(`${at}.${key}: not documented`);
      else if (typeof schema.additionalProperties === 'object') out.push(...violations(v, schema.additionalProperties as Schema, `${at}.${key}`));
    }
  }
  return out;
}

/** A fastify route URL as an OpenAPI path: /a/:id → /a/{id}, /assets/* → /assets/{*}. */
const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*/g, '{*}');

describe('the OpenAPI document', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-openapi-'));
  let controller: Controller;
  let app: FastifyInstance;
  let doc: { openapi: string; paths: Record<string, Record<string, { security?: unknown; responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>> };
  const routes: Array<{ method: string; url: string }> = [];
  const admin = () => ({ authorization: `Bearer ${controller.adminToken}` });

  const call = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
    const res = await app.inject({ method, url, headers: admin(), ...(body === undefined ? {} : { payload: body as object }) });
    return { status: res.statusCode, body: (res.body ? JSON.parse(res.body) : undefined) as Json & Record<string, Json> };
  };

  /** The schema the document gives for this answer of that route. */
  const documented = (method: string, url: string, status: number | '4XX'): Schema => {
    const op = doc.paths[openapiPath(url)]?.[method.toLowerCase()];
    const schema = op?.responses[String(status)]?.content?.['application/json']?.schema;
    if (!schema) throw new Error(`no JSON schema documented for ${method} ${url} ${status}`);
    return schema;
  };

  beforeAll(async () => {
    const capture = captureLogger();
    controller = await startController({ dataDir: dir, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: capture.log });
    const c = controller;
    app = buildApp({ registry: c.registry, artifacts: c.artifacts, signingKey: c.signingKey, profiles: c.profiles, live: c.live, adminToken: c.adminToken, log: capture.log, lifecycle: c.lifecycle, fleet: { catalog: c.catalog, ladders: c.ladders, rollouts: c.rollouts, rolloutStore: c.rolloutStore } });
    // buildApp registers every route inside a plugin, so this hook (added before ready) hears of each.
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url });
    });
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/api/openapi.json', headers: admin() });
    expect(res.statusCode, res.body).toBe(200);
    doc = JSON.parse(res.body) as typeof doc;
  });

  afterAll(async () => {
    await app?.close();
    await controller?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is served behind the admin token like every /api route', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ error: 'E_UNAUTHORIZED', message: 'missing or wrong admin token (Authorization: Bearer <token>)' });
  });

  it('validates as OpenAPI 3 with a standard parser', async () => {
    expect(doc.openapi).toBe('3.0.3');
    // validate() dereferences in place: give it a copy
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('covers every route fastify registered, with the right security', () => {
    // HEAD routes are fastify's own twins of GET routes
    const registered = routes.filter((r) => r.method !== 'HEAD');
    expect(registered.length).toBeGreaterThan(20);
    // The hook hears of routes added in plugins; printRoutes lists them all, so a route added
    // any other way (straight on the app before the swagger plugin loads) makes the counts differ.
    const printed = [...app.printRoutes().matchAll(/\(([A-Z, ]+)\)/g)].flatMap((m) => m[1].split(', ')).filter((m) => m !== 'HEAD');
    expect(printed.length).toBe(registered.length);
    const missing = registered.filter((r) => !doc.paths[openapiPath(r.url)]?.[r.method.toLowerCase()]).map((r) => `${r.method} ${r.url}`);
    expect(missing).toEqual([]);
    for (const r of registered) {
      const security = doc.paths[openapiPath(r.url)][r.method.toLowerCase()].security;
      const expected = r.url.startsWith('/api/') ? [{ adminToken: [] }, { adminTokenQuery: [] }] : r.url === '/enroll/key' || r.url.startsWith('/artifacts/') ? [{ deviceCredentials: [] }] : [];
      expect(security, `${r.method} ${r.url}`).toEqual(expected);
    }
  });

  it('documents the answers that are not JSON: artifact bytes with Range, the snapshot JPEG, the event stream', () => {
    const download = doc.paths['/artifacts/{sha256}'].get as unknown as { parameters: Array<{ in: string; name: string }>; responses: Record<string, { content?: Record<string, unknown> }> };
    expect(download.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['path:sha256', 'header:range', 'header:if-range']));
    expect(Object.keys(download.responses['206'].content ?? {})).toEqual(['application/octet-stream']);
    expect(Object.keys(doc.paths['/api/devices/{id}/snapshot'].get.responses['200'].content ?? {})).toEqual(['image/jpeg']);
    expect(Object.keys(doc.paths['/api/events'].get.responses['200'].content ?? {})).toEqual(['text/event-stream']);
    const upload = doc.paths['/api/artifacts'].post as unknown as { requestBody: { content: Record<string, { schema: Schema }> } };
    expect(upload.requestBody.content['application/octet-stream'].schema).toMatchObject({ type: 'string', format: 'binary' });
  });

  it('real answers of the main routes conform to their documented schemas', async () => {
    const added = await call('POST', '/api/devices', { id: 'cam-1', labels: { site: 'lab' } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(violations(added.body, documented('POST', '/api/devices', 201))).toEqual([]);

    const devices = await call('GET', '/api/devices');
    expect(devices.status).toBe(200);
    expect((devices.body.devices as Json[]).length).toBe(1);
    expect(violations(devices.body, documented('GET', '/api/devices', 200))).toEqual([]);

    const model = writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 2 }));
    const octet = { ...admin(), 'content-type': 'application/octet-stream' };
    const addModel = await app.inject({ method: 'POST', url: '/api/models?name=m&build=false', headers: octet, payload: Buffer.from(model) });
    expect(addModel.statusCode, addModel.body).toBe(201);
    const modelId = (JSON.parse(addModel.body) as { model: { id: string } }).model.id;
    const imported = await app.inject({ method: 'POST', url: `/api/models/${modelId}/candidates?method=export&declaredMap5095=0.3&name=n64`, headers: octet, payload: Buffer.from(model) });
    expect(imported.statusCode, imported.body).toBe(201);

    const models = await call('GET', '/api/models');
    expect(models.status).toBe(200);
    expect((models.body.models as Array<{ candidates: number }>)[0].candidates).toBe(1);
    expect(violations(models.body, documented('GET', '/api/models', 200))).toEqual([]);

    const created = await call('POST', '/api/rollouts', { model: modelId, slo: { minFps: 1 }, targets: { devices: ['cam-1'] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(violations(created.body, documented('POST', '/api/rollouts', 201))).toEqual([]);

    const status = await call('GET', `/api/rollouts/${created.body.id as string}`);
    expect(status.status).toBe(200);
    expect((status.body.devices as Array<{ deviceId: string }>).map((d) => d.deviceId)).toEqual(['cam-1']);
    expect((status.body.events as Json[]).length).toBeGreaterThan(0);
    expect(violations(status.body, documented('GET', '/api/rollouts/:id', 200))).toEqual([]);

    const missing = await call('GET', '/api/rollouts/nope');
    expect(missing.status).toBe(404);
    expect(violations(missing.body, documented('GET', '/api/rollouts/:id', '4XX'))).toEqual([]);
  });

  it('answers a request its schema refuses with the same one line as before', async () => {
    const limit = await call('GET', '/api/devices?limit=0');
    expect(limit.status).toBe(400);
    expect(limit.body.error).toBe('E_BAD_REQUEST');
    expect(limit.body.message).toMatch(/^limit: /);
    const spec = await call('POST', '/api/rollouts', { model: 'm', slo: { minFps: -1 } });
    expect(spec).toMatchObject({ status: 400, body: { error: 'E_SPEC' } });
    expect(spec.body.message).toMatch(/^rollout spec slo\.minFps: /);
    const unnamed = await app.inject({ method: 'POST', url: '/api/artifacts', headers: { ...admin(), 'content-type': 'application/octet-stream' }, payload: 'abc' });
    expect(JSON.parse(unnamed.body)).toEqual({ error: 'E_ARTIFACT_INVALID', message: 'name the artifact: POST /api/artifacts?name=<name>' });
    const unnamedModel = await app.inject({ method: 'POST', url: '/api/models', headers: { ...admin(), 'content-type': 'application/octet-stream' }, payload: 'abc' });
    expect(unnamedModel.statusCode).toBe(400);
    expect(JSON.parse(unnamedModel.body)).toEqual({ error: 'E_CATALOG_INVALID', message: 'name the model: POST /api/models?name=<name>' });
    // Device credentials are checked before the artifact id: a caller without them learns nothing.
    const bad = '/artifacts/not-a-hash';
    expect((await app.inject({ method: 'GET', url: bad })).statusCode).toBe(401);
    const token = controller.registry.add('cam-2');
    const basic = `Basic ${Buffer.from(`cam-2:${token}`).toString('base64')}`;
    const refused = await app.inject({ method: 'GET', url: bad, headers: { authorization: basic } });
    expect(refused.statusCode).toBe(400);
    expect(JSON.parse(refused.body)).toEqual({ error: 'E_BAD_REQUEST', message: 'artifact ids are 64 lowercase hex digits (sha256)' });
  });
});
