// Pieces of route schemas that several route files share. Response objects
// are loose (unknown keys pass through): the serializer checks every JSON
// answer against its schema, and a plain z.object would strip a field that a
// store adds later (or the error catalogue adds to errors) without a word.
import { z } from 'zod';

/** Every error answer: a short code and one line. */
export const ErrorBody = z
  .looseObject({
    error: z.string().describe("a short code: 'bad-request', 'unauthorized', 'not-found', 'conflict', …"),
    message: z.string().describe('what went wrong, in one line'),
  })
  .describe('An error: { error, message }');

/** The error answers every route may give, documented once (fastify serializes 4xx answers with it too). */
export const errorResponses = { '4xx': ErrorBody } as const;

/**
 * Bytes, as OpenAPI shows a file. Validated as anything: the content-type
 * parser already made the body a Buffer or a stream, and handlers that answer
 * with bytes send a Buffer or a stream, which fastify never serializes.
 */
export function binary(description: string) {
  return z.any().meta({ type: 'string', format: 'binary', description });
}

/** A request body of raw bytes (model and artifact uploads). */
export function bytesBody(description: string) {
  return { content: { 'application/octet-stream': { schema: binary(description) } } };
}

/** A response that is not JSON: its media type and what it holds (bytes unless a schema says otherwise). */
export function mediaResponse(description: string, type: string, schema: z.ZodType = binary(description)) {
  return { description, content: { [type]: { schema } } };
}

/** A route parameter that is a plain string: documented, never refused (the handler answers 404 for an unknown id). */
export function idParams<K extends string>(name: K, description: string) {
  return z.object({ [name]: z.string().describe(description) } as Record<K, z.ZodString>);
}

/** Routes a device calls with its own credentials (the security scheme is declared in openapi.ts). */
export const DEVICE_SECURITY = [{ deviceCredentials: [] as string[] }];

/** ms since the epoch. */
export const Millis = z.number().describe('ms since the epoch');
