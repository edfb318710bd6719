/**
 * POST /application/o/revoke/ (RFC 7009, authentik's TokenRevokeView): an authenticated client deletes one of its
 * access or refresh tokens; an unknown token is a 200 too, an unauthenticated client a 401 invalid_client.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../services.js';
import { TokenRevocationError } from '../protocol/errors.js';
import { deleteToken } from '../tokens/store.js';
import { formOf, sendToken } from './http.js';
import { authenticatedClient } from './introspect.js';

export async function revokeEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const provider = await authenticatedClient(svc, req);
  if (!provider) return sendToken(reply, new TokenRevocationError('invalid_client').body(), 401);
  const raw = formOf(req).token;
  if (raw) await deleteToken(svc.db, provider.id, raw);
  return sendToken(reply, {});
}
