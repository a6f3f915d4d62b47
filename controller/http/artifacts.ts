import { createReadStream, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ARTIFACT_KINDS, ArtifactRef, SHA256_PATTERN } from '../../protocol/artifacts.js';
import { oneLine } from '../../protocol/one-line.js';
import { ArtifactInputError, type ArtifactStore } from '../artifacts/store.js';
import type { SigningKey } from '../artifacts/signing.js';
import type { Registry } from '../registry.js';
import { requireDevice } from './device-auth.js';
import { parseRange } from './range.js';
import { bytesBody, DEVICE_SECURITY, errorResponses, mediaResponse, Millis } from './schemas.js';
import { problemOnly, zodValidator } from './validate.js';
import { EdgefitError } from '../../protocol/errors.js';

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

const NAME_IT = 'name the artifact: POST /api/artifacts?name=<name>';
const NAMES_ARE = "artifact names are 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit";

const UploadQuery = z.object({
  name: z
    .string({ error: (issue) => (issue.input === undefined ? NAME_IT : `${NAMES_ARE}; got several names`) })
    .min(1, NAME_IT)
    .regex(ARTIFACT_NAME_PATTERN, { error: (issue) => `${NAMES_ARE}; got ${JSON.stringify(oneLine(String(issue.input), 64))}` })
    .describe('the file name it is shown and stored under'),
});

const ArtifactParams = z.object({ sha256: z.string().regex(SHA256_PATTERN, 'artifact ids are 64 lowercase hex digits (sha256)').describe("the artifact's sha256") });

const RangeHeaders = z.looseObject({
  range: z.string().optional().describe('one byte range (bytes=START-[END] or bytes=-SUFFIX) to resume a download; several ranges are answered with the whole file'),
  'if-range': z.string().optional().describe('the ETag of the partial copy: the range is served only if the artifact is still that one'),
});

const StoredArtifact = z.looseObject({
  sha256: z.string(),
  size: z.number().int(),
  name: z.string(),
  kind: z.enum(ARTIFACT_KINDS),
  createdAt: Millis,
  ref: ArtifactRef,
});

const ARTIFACT_BYTES = 'The artifact (Content-Range on 206)';

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

    app.get(
      '/enroll/key',
      {
        onRequest: device,
        schema: {
          summary: "The controller's artifact signing key",
          description: 'Agents check every artifact manifest against it.',
          tags: ['device'],
          security: DEVICE_SECURITY,
          response: {
            200: z.looseObject({ algorithm: z.literal('ed25519'), publicKeyPem: z.string(), fingerprint: z.string() }).describe('The public key'),
            ...errorResponses,
          },
        },
      },
      async () => ({ algorithm: 'ed25519' as const, publicKeyPem: key.publicKeyPem, fingerprint: key.fingerprint }),
    );

    // Device credentials are checked on request, before the id is validated: a caller without them learns nothing.
    app.get<{ Params: z.output<typeof ArtifactParams> }>(
      '/artifacts/:sha256',
      {
        onRequest: device,
        validatorCompiler: zodValidator(problemOnly()),
        schema: {
          summary: 'Download an artifact',
          description: 'Resumable: send Range (and If-Range with the ETag) for the rest of a cut download.',
          tags: ['device'],
          security: DEVICE_SECURITY,
          params: ArtifactParams,
          headers: RangeHeaders,
          response: {
            200: mediaResponse(ARTIFACT_BYTES, 'application/octet-stream'),
            206: mediaResponse(ARTIFACT_BYTES, 'application/octet-stream'),
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        const { sha256 } = request.params;
        const file = store.pathOf(sha256);
        if (!file) throw new EdgefitError('E_ARTIFACT_UNKNOWN', { sha256 });
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
          reply.header('content-range', `bytes */${size}`);
          throw new EdgefitError('E_RANGE_UNSATISFIABLE', { range: String(request.headers.range), last: size - 1 });
        }
        reply.header('content-type', 'application/octet-stream');
        if (range) {
          reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`).header('content-length', range.end - range.start + 1);
          return reply.send(counted(createReadStream(file, { start: range.start, end: range.end })));
        }
        reply.header('content-length', size);
        return reply.send(counted(createReadStream(file)));
      },
    );

    app.post<{ Querystring: z.output<typeof UploadQuery> }>(
      '/api/artifacts',
      {
        validatorCompiler: zodValidator(problemOnly((reason) => new EdgefitError('E_ARTIFACT_INVALID', { reason }))),
        schema: {
          summary: 'Upload an artifact',
          description: `Streams to disk as it arrives; at most ${maxUploadBytes} bytes.`,
          tags: ['artifacts'],
          querystring: UploadQuery,
          body: bytesBody('the bytes, as Content-Type: application/octet-stream'),
          response: { 201: ArtifactRef.describe('The stored artifact, signed'), ...errorResponses },
        },
      },
      async (request, reply) => {
        const { name } = request.query;
        const body = request.body as Readable | undefined;
        if (!body || typeof body.pipe !== 'function') {
          throw new EdgefitError('E_ARTIFACT_INVALID', { reason: 'send the model bytes as the body with Content-Type: application/octet-stream' });
        }
        const declared = Number(request.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxUploadBytes) {
          throw new EdgefitError('E_ARTIFACT_TOO_LARGE', { reason: `artifact of ${declared} bytes is over the ${maxUploadBytes} byte limit` });
        }
        try {
          const ref = await store.put(body, { name }, { maxBytes: maxUploadBytes });
          return reply.code(201).send(ref);
        } catch (err) {
          // The rest of an over-limit body is not worth reading: answer (the app's error handler) and close.
          if (err instanceof ArtifactInputError && err.kind === 'too-large') reply.header('connection', 'close');
          throw err;
        }
      },
    );

    app.get(
      '/api/artifacts',
      { schema: { summary: 'List artifacts', tags: ['artifacts'], response: { 200: z.looseObject({ artifacts: z.array(StoredArtifact) }).describe('Every stored artifact'), ...errorResponses } } },
      async () => ({
        artifacts: store.list().map((a) => ({ sha256: a.sha256, size: a.size, name: a.name, kind: a.kind, createdAt: a.createdAt, ref: a.ref })),
      }),
    );
  };
}
