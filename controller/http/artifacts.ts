import { createReadStream, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { SHA256_PATTERN } from '../../protocol/artifacts.js';
import { oneLine } from '../../protocol/one-line.js';
import { ArtifactInputError, type ArtifactStore } from '../artifacts/store.js';
import type { SigningKey } from '../artifacts/signing.js';
import type { Registry } from '../registry.js';
import { requireDevice } from './device-auth.js';
import { parseRange } from './range.js';

/** Models run 3-300 MB; a generous ceiling still stops a runaway upload from filling the disk. */
export const MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * An uploaded artifact's name: a file name, never a path. It is shown in the
 * dashboard and the CLI and may become a file name on a device; a first probe
 * stored '../../x', '%00' and '<script>' as names.
 */
export const ARTIFACT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface ArtifactsDeps {
  store: ArtifactStore;
  registry: Registry;
  key: SigningKey;
  maxUploadBytes?: number;
  /** Told the bytes each download read out (edgefit_artifact_bytes_served_total). */
  onBytesServed?: (bytes: number) => void;
}

/**
 * Devices fetch artifacts (with Range, to resume) and the controller's public
 * key with their own credentials, outside /api/; admins upload and list under /api/.
 */
export function artifactsRoutes(deps: ArtifactsDeps) {
  const { store, key } = deps;
  const maxUploadBytes = deps.maxUploadBytes ?? MAX_UPLOAD_BYTES;
  const device = requireDevice(deps.registry);
  // bytesRead once the stream closes, done or cut: no listener on the data path, so backpressure stays the socket's
  const counted = (stream: ReadStream): ReadStream => (deps.onBytesServed ? stream.once('close', () => deps.onBytesServed!(stream.bytesRead)) : stream);

  return async function (app: FastifyInstance): Promise<void> {
    // Uploads stream to disk as they arrive instead of being buffered whole;
    // this parser is local to this plugin.
    app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

    app.get('/enroll/key', { preHandler: device }, async () => ({ algorithm: 'ed25519', publicKeyPem: key.publicKeyPem, fingerprint: key.fingerprint }));

    app.get<{ Params: { sha256: string } }>('/artifacts/:sha256', { preHandler: device }, async (request, reply) => {
      const { sha256 } = request.params;
      if (!SHA256_PATTERN.test(sha256)) return reply.code(400).send({ error: 'bad-request', message: 'artifact ids are 64 lowercase hex digits (sha256)' });
      const file = store.pathOf(sha256);
      if (!file) return reply.code(404).send({ error: 'not-found', message: `no artifact ${sha256}` });
      const { size } = await stat(file);
      const etag = `"${sha256}"`;
      reply
        .header('accept-ranges', 'bytes')
        .header('etag', etag)
        .header('cache-control', 'private, max-age=31536000, immutable');
      // If-Range: resume only if the partial copy is of this very content.
      const ifRange = request.headers['if-range'];
      const range = ifRange === undefined || ifRange === etag ? parseRange(request.headers.range, size) : undefined;
      if (range === 'unsatisfiable') {
        return reply.code(416).header('content-range', `bytes */${size}`).send({ error: 'range-not-satisfiable', message: `range '${request.headers.range}' is outside 0-${size - 1}` });
      }
      reply.header('content-type', 'application/octet-stream');
      if (range) {
        reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`).header('content-length', range.end - range.start + 1);
        return reply.send(counted(createReadStream(file, { start: range.start, end: range.end })));
      }
      reply.header('content-length', size);
      return reply.send(counted(createReadStream(file)));
    });

    app.post<{ Querystring: { name?: string } }>('/api/artifacts', async (request, reply) => {
      const name = request.query.name;
      if (!name) return reply.code(400).send({ error: 'bad-request', message: 'name the artifact: POST /api/artifacts?name=<name>' });
      if (typeof name !== 'string' || !ARTIFACT_NAME_PATTERN.test(name)) {
        const got = typeof name === 'string' ? JSON.stringify(oneLine(name, 64)) : 'several names';
        return reply.code(400).send({ error: 'bad-request', message: `artifact names are 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit; got ${got}` });
      }
      const body = request.body as Readable | undefined;
      if (!body || typeof body.pipe !== 'function') {
        return reply.code(400).send({ error: 'bad-request', message: 'send the model bytes as the body with Content-Type: application/octet-stream' });
      }
      const declared = Number(request.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxUploadBytes) {
        return reply.code(413).send({ error: 'too-large', message: `artifact of ${declared} bytes is over the ${maxUploadBytes} byte limit` });
      }
      try {
        const ref = await store.put(body, { name }, { maxBytes: maxUploadBytes });
        return reply.code(201).send(ref);
      } catch (err) {
        if (err instanceof ArtifactInputError) {
          // The rest of an over-limit body is not worth reading: answer and close.
          if (err.code === 'too-large') reply.header('connection', 'close');
          return reply.code(err.code === 'too-large' ? 413 : 400).send({ error: err.code === 'too-large' ? 'too-large' : 'bad-request', message: err.message });
        }
        throw err;
      }
    });

    app.get('/api/artifacts', async () => ({
      artifacts: store.list().map((a) => ({ sha256: a.sha256, size: a.size, name: a.name, kind: a.kind, createdAt: a.createdAt, ref: a.ref })),
    }));
  };
}
