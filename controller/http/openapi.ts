// The HTTP API's OpenAPI 3 document, generated from the zod schemas the routes
// validate with (fastify's swagger plugin with fastify-type-provider-zod's
// transform): a request part's schema in the document is the object that
// validates it, and a response's schema is the one the serializer checks.
import fastifySwagger, { type SwaggerTransform } from '@fastify/swagger';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { OpenAPIV3 } from 'openapi-types';
import { z } from 'zod';
import { edgefitVersion } from '../../protocol/version.js';
import { errorResponses } from './schemas.js';

export const OPENAPI_PATH = '/api/openapi.json';

const SECURITY_SCHEMES: Record<string, OpenAPIV3.SecuritySchemeObject> = {
  adminToken: { type: 'http', scheme: 'bearer', description: "The controller's admin token (admin.token in its data folder): every /api route wants it." },
  adminTokenQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'The admin token as ?token=, for clients that cannot set headers (EventSource).' },
  deviceCredentials: { type: 'http', scheme: 'basic', description: "A device's id and token (Basic base64(id:token)), the ones the broker checks." },
};

/** Who may call a route, by the rule auth.ts applies: /api/ wants the admin token, device routes name theirs, the rest is open. */
function securityOf(url: string, schema: FastifySchema | undefined): FastifySchema['security'] {
  if (schema?.security) return schema.security;
  return url.startsWith('/api/') ? [{ adminToken: [] }, { adminTokenQuery: [] }] : [];
}

type ContentBody = { content: Record<string, { schema: z.ZodType }> };

function isContentBody(body: unknown): body is ContentBody {
  return typeof body === 'object' && body !== null && 'content' in body && typeof (body as ContentBody).content === 'object';
}

/** A body given per media type (uploads of bytes): the type provider's transform takes a body as one zod schema only. */
function contentBodyToJson(body: ContentBody): { content: Record<string, { schema: unknown }> } {
  const content: Record<string, { schema: unknown }> = {};
  for (const [type, { schema }] of Object.entries(body.content)) {
    const json = { ...z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) } as Record<string, unknown>;
    delete json.$schema;
    content[type] = { schema: json };
  }
  return { content };
}

const transform: SwaggerTransform = (document) => {
  const { schema, url } = document;
  const body = (schema as { body?: unknown } | undefined)?.body;
  const bytes = isContentBody(body) ? body : undefined;
  const rest = bytes ? { ...schema, body: undefined } : schema;
  const transformed = jsonSchemaTransform({ ...document, schema: rest ?? {} });
  const out: FastifySchema = { ...transformed.schema, security: securityOf(url, schema) };
  if (bytes) out.body = contentBodyToJson(bytes);
  return { schema: out, url };
};

/**
 * Registers the swagger plugin (before any route, so it hears of every one)
 * and GET /api/openapi.json. The document is behind the admin token like every
 * /api route: one rule in auth.ts, and whoever scripts against the API holds
 * the token anyway.
 */
export function openapiDocs(app: FastifyInstance): void {
  app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'edgefit controller',
        version: edgefitVersion(),
        description:
          'The controller of an edgefit fleet: devices, models and their candidate ladders, rollouts, artifacts and the live view. Errors are { error, message } with a 4xx or 5xx status.',
      },
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    transform,
  });
  app.register(async (scope) => {
    const OpenapiDocument = z
      .looseObject({ openapi: z.string(), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) })
      .describe('This document (OpenAPI 3.0)');
    scope.get(OPENAPI_PATH, { schema: { summary: "The HTTP API's OpenAPI 3 document", tags: ['api'], response: { 200: OpenapiDocument, ...errorResponses } } }, async () => scope.swagger());
  });
}
