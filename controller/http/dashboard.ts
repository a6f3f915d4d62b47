import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { errorResponses, mediaResponse } from './schemas.js';
import { EdgefitError } from '../../protocol/errors.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

interface StaticFile {
  body: Buffer;
  type: string;
  /** Vite names everything under assets/ by content hash: cache those forever, revalidate the rest. */
  immutable: boolean;
}

/**
 * The built dashboard: dist/dashboard next to the compiled controller
 * (dist/controller/http → dist/dashboard), or in dist/ when the controller runs
 * from its TypeScript sources.
 */
export function defaultDashboardDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return [path.resolve(here, '../../dashboard'), path.resolve(here, '../../dist/dashboard')].find((dir) => existsSync(path.join(dir, 'index.html')));
}

/** Every file of the build, read once: the served set is fixed, so no request path ever reaches the filesystem. */
function loadFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (sub: string) => {
    for (const name of readdirSync(path.join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      const full = path.join(dir, rel);
      if (statSync(full).isDirectory()) walk(rel);
      else files.set('/' + rel, { body: readFileSync(full), type: CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream', immutable: rel.startsWith('assets/') });
    }
  };
  walk('');
  return files;
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>edgefit</title>
<body style="font:16px system-ui,sans-serif;max-width:40em;margin:4em auto;color:#1f2937">
<h1>The edgefit dashboard is not built</h1>
<p>The controller is running from its sources and found no <code>dist/dashboard</code>.
Run <code>npm run build</code> (it bundles the dashboard with Vite) and restart the controller.</p>
<p>The HTTP API under <code>/api/</code> works without it.</p></body>`;

const NOT_BUILT_RESPONSE = mediaResponse('The dashboard is not built: a page that says how to build it', 'text/html', z.string());
const INDEX_SCHEMA = {
  summary: 'The dashboard',
  description: 'The admin token goes in the fragment (/#token=…): the page sends it as Authorization: Bearer to /api and as ?token= to the event stream.',
  tags: ['dashboard'],
  response: { 200: mediaResponse('The dashboard page', 'text/html', z.string()), 503: NOT_BUILT_RESPONSE },
};

/** GET / and its assets: the dashboard bundle built by `npm run build`. */
export function dashboardRoutes(dir: string | undefined = defaultDashboardDir()) {
  return async function (app: FastifyInstance): Promise<void> {
    if (!dir) {
      app.get('/', { schema: INDEX_SCHEMA }, async (_request, reply) => reply.code(503).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT));
      return;
    }
    const files = loadFiles(dir);
    const send = (reply: FastifyReply, file: StaticFile) =>
      reply
        .header('content-type', file.type)
        .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .send(file.body);
    const index = files.get('/index.html');
    if (!index) throw new Error(`${dir} has no index.html`);
    app.get('/', { schema: INDEX_SCHEMA }, async (_request, reply) => send(reply, index));
    const assetsSchema = {
      summary: 'A file of the dashboard bundle',
      description: 'Named by content hash: cached for a year.',
      tags: ['dashboard'],
      params: z.object({ '*': z.string().describe('the file path under assets/') }),
      response: { 200: mediaResponse('The file (JavaScript, CSS, images, fonts)', '*/*'), ...errorResponses },
    };
    app.get('/assets/*', { schema: assetsSchema }, async (request, reply) => {
      const file = files.get(request.url.split('?')[0]);
      if (!file) throw new EdgefitError('E_DASHBOARD_FILE_UNKNOWN', { path: request.url });
      return send(reply, file);
    });
  };
}
