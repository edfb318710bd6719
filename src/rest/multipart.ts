/**
 * multipart/form-data request bodies (an upload: a blueprint file), parsed by the platform's FormData into the
 * handler's `req.body`; registered per encapsulated scope, so only the routes that take uploads accept them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ParseError } from './errors.js';

export function acceptMultipart(scope: FastifyInstance, bodyLimit: number) {
  scope.addContentTypeParser(
    /^multipart\/form-data(\s*;.*)?$/i,
    { parseAs: 'buffer', bodyLimit },
    async (req: FastifyRequest, body: Buffer) => {
      try {
        return await new Response(new Uint8Array(body), { headers: { 'content-type': String(req.headers['content-type']) } }).formData();
      } catch {
        // (DRF's message for a body that is not multipart)
        throw new ParseError('Multipart form parse error - Invalid boundary in multipart: None');
      }
    },
  );
}
