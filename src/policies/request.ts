/** Building a PolicyRequest's parts from an HTTP request and Keystage's rows, in authentik's shapes. */
import type { FastifyRequest } from 'fastify';
import type { UsersTable } from '../db/types.js';
import type { PolicyRequest } from './types.js';
import { headersWithoutCredentials, requestMethod } from '../rest/http.js';
import type { EventRequest } from '../events/events.js';

/** the request as a policy sees it (`request.http_request`): path, method, headers without credentials, client IP */
export function httpOf(req: FastifyRequest): NonNullable<PolicyRequest['http']> {
  const headers = headersWithoutCredentials(req);
  const url = new URL(req.url, 'http://x');
  return {
    path: url.pathname,
    method: requestMethod(req),
    headers,
    clientIp: req.ip,
    query: Object.fromEntries(url.searchParams),
    host: req.host,
  };
}

/** the request a policy ran for, as an event records it (authentik's Event.from_http of the policy request's) */
export function eventRequestOf(http: PolicyRequest['http']): EventRequest | undefined {
  if (!http) return undefined;
  const query = new URLSearchParams(http.query).toString();
  return {
    ip: http.clientIp,
    url: query ? `${http.path}?${query}` : http.path,
    method: http.method,
    host: http.host,
    headers: http.headers,
  };
}

/** a user as policies see it (authentik's User fields an expression reads), with `extra` fields */
export function policyUser(u: UsersTable, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pk: u.id,
    id: u.id,
    uuid: u.uuid,
    username: u.username,
    name: u.name,
    email: u.email,
    is_active: !!u.is_active,
    last_login: u.last_login,
    date_joined: u.date_joined,
    path: u.path,
    type: u.type,
    attributes: JSON.parse(u.attributes || '{}'),
    password_change_date: u.password_change_date,
    is_authenticated: true,
    ...extra,
  };
}
