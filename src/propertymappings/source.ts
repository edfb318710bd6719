/**
 * OAuth source property mappings run (authentik's SourceMapper with the OAuth source's evaluator globals): the
 * expression sees `info` (the profile), `token` (the token response), `properties` (what the mappings before it made),
 * `source`, `request` (`user` is None: the person is not known yet) and, for a group mapping, `group_id`. Its value,
 * when a dict, is merged into the properties by the caller (src/sources/mappings.ts).
 */
import type { FastifyRequest } from 'fastify';
import { evaluate, type JsonObject } from '../expressions/index.js';
import type { Services } from '../services.js';
import { httpOf } from '../policies/request.js';
import { type MappingResult, mappingHost } from './scope.js';

export interface SourceMappingRow {
  pm_uuid: string;
  name: string;
  expression: string;
}

export async function runSourceMapping(
  svc: Services,
  mapping: SourceMappingRow,
  /** the request the mapping runs for; none for background work (an LDAP sync: `request` is None, as authentik's) */
  req: FastifyRequest | undefined,
  globals: JsonObject,
  timeoutMs = 30_000,
): Promise<MappingResult> {
  const http = req ? httpOf(req) : undefined;
  const r = await evaluate({
    source: mapping.expression,
    globals: {
      ...globals,
      user: null,
      request: http
        ? {
            http_request: { path: http.path, method: http.method, headers: http.headers, client_ip: http.clientIp, query: http.query },
            obj: null,
            context: {},
            debug: false,
          }
        : null,
    },
    host: mappingHost(svc, { ...(req ? { request: req } : {}), provider: { id: 0, name: '' } }),
    timeoutMs,
    filename: mapping.name,
  });
  if (!r.ok) return { ok: false, error: r.exception ? `${r.exception.type}: ${r.exception.message}` : r.error };
  return { ok: true, value: r.value };
}
