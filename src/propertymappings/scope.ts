/**
 * Scope mappings as the OAuth2 provider uses them: a provider's mappings by scope (`scopeMappingsOf`, kept in the
 * admin cache) and one mapping's claims for a user (`evaluateScopeMapping`). authentik's six managed texts run
 * natively; any other text is authentik's Python, run by the shared runtime (src/expressions/) with the globals
 * authentik's PropertyMappingEvaluator gives (`request`, `user`, `provider`, `token`). A mapping that fails gives no
 * claims and is recorded as authentik records it (`property_mapping_exception`).
 */
import type {} from './table.js';
import type { FastifyRequest } from 'fastify';
import { evaluate, type ExpressionHost, type Json, type JsonObject } from '../expressions/index.js';
import { expressionHost } from '../policies/expression/host.js';
import { entitlementsOf } from '../applications/entitlements.js';
import { cachedAdminData } from '../db/admin-cache.js';
import { hot, perDatabase } from '../db/hot.js';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';
import type { Services } from '../services.js';
import { httpOf, policyUser } from '../policies/request.js';
import {
  SCOPE_AUTHENTIK_API,
  SCOPE_AUTHENTIK_DCR,
  SCOPE_EMAIL,
  SCOPE_ENTITLEMENTS,
  SCOPE_OFFLINE_ACCESS,
  SCOPE_OPENID,
  SCOPE_PROFILE,
} from './managed.js';

export interface ScopeMapping {
  pm_uuid: string;
  name: string;
  scope_name: string;
  description: string;
  expression: string;
  managed: string | null;
}

/** the provider as a mapping sees it (`provider`): OAuth2Provider (src/providers/oauth2/config.ts) fits */
export interface MappingProvider {
  id: number;
  name: string;
  client_id?: string;
  application?: { slug: string; name: string; pbm_uuid: string } | null;
}

export interface MappingCall {
  user: UsersTable;
  /** the HTTP request (authentik's `request.http_request`) */
  request?: FastifyRequest;
  provider: MappingProvider;
  /** the token being issued, when there is one (authentik's `token`) */
  token?: Record<string, unknown>;
  /** more of the user than policyUser gives (a SCIM provider's `uid` and `avatar`) */
  userExtra?: Record<string, unknown>;
}

/** the distinct sorted ids of a list and their cache key (a cached provider's list is the same array each time) */
const keyed = new WeakMap<readonly string[], { ids: string[]; key: string }>();
function keyOf(pmUuids: readonly string[]) {
  let k = keyed.get(pmUuids);
  if (!k) {
    const ids = [...new Set(pmUuids)].sort();
    k = { ids, key: `scopemappings:${ids.join(',')}` };
    // (only a list nobody can change: a mutable one may hold other ids next time)
    if (Object.isFrozen(pmUuids)) keyed.set(pmUuids, k);
  }
  return k;
}

/** the scope mappings among `pmUuids` (a provider's property mappings), ordered by scope name then name */
export function scopeMappingsOf(svc: Pick<Services, 'db'>, pmUuids: readonly string[]): Promise<ScopeMapping[]> {
  const { ids, key } = keyOf(pmUuids);
  if (!ids.length) return Promise.resolve([]);
  return cachedAdminData(svc.db, key, () => loadScopeMappings(svc.db, ids));
}

async function loadScopeMappings(db: DB, ids: string[]): Promise<ScopeMapping[]> {
  const rows = await db
    .selectFrom('property_mappings as m')
    .innerJoin('property_mapping_scope as s', 's.pm_uuid', 'm.pm_uuid')
    .select(['m.pm_uuid', 'm.name', 'm.expression', 'm.managed', 's.scope_name', 's.description'])
    .where('m.pm_uuid', 'in', ids)
    .orderBy('s.scope_name')
    .orderBy('m.name')
    .execute();
  return rows.map((r) => ({ ...r }));
}

/** the lines of an expression that mean something (as src/policies/expression/native.ts compares them) */
export const normalise = (source: string) =>
  source
    .split(/\r?\n/)
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .join('\n');

type Native = (db: DB, call: MappingCall) => Promise<Record<string, unknown>>;

/** (every profile claim reads them: compiled once per database) */
const groupNamesOf = perDatabase((db) =>
  hot<{ userId: number }, { name: string }>(db, ['userId'], (p) =>
    db
      .selectFrom('user_groups as ug')
      .innerJoin('groups as g', 'g.group_uuid', 'ug.group_uuid')
      .select('g.name')
      .where('ug.user_id', '=', p.userId)
      .orderBy('g.name'),
  ),
);

/** the user's own groups' names (authentik's `user.ak_groups.all()`: direct memberships) */
async function directGroupNames(db: DB, userId: number): Promise<string[]> {
  return (await groupNamesOf(db)({ userId })).map((r) => r.name);
}

const empty: Native = async () => ({});
const NATIVE = new Map<string, Native>([
  [normalise(SCOPE_OPENID), empty],
  [normalise(SCOPE_OFFLINE_ACCESS), empty],
  [normalise(SCOPE_AUTHENTIK_API), empty],
  [normalise(SCOPE_AUTHENTIK_DCR), empty],
  [normalise(SCOPE_EMAIL), async (_db, { user }) => ({ email: user.email, email_verified: false })],
  [
    normalise(SCOPE_PROFILE),
    async (db, { user }) => ({
      name: user.name,
      given_name: user.name,
      preferred_username: user.username,
      nickname: user.username,
      groups: await directGroupNames(db, user.id),
    }),
  ],
  [
    normalise(SCOPE_ENTITLEMENTS),
    async (db, { user, provider }) => {
      const app = provider.application?.pbm_uuid;
      const names = app ? (await entitlementsOf(db, user.id, app)).map((e) => e.name) : [];
      return { entitlements: names, roles: names };
    },
  ],
]);

const seen = new Map<string, Native | null>();
/** the native version of a mapping's text, if it is one of authentik's managed ones */
export function nativeMappingOf(source: string): Native | undefined {
  let known = seen.get(source);
  if (known === undefined) {
    known = NATIVE.get(normalise(source)) ?? null;
    if (seen.size >= 256) seen.clear();
    seen.set(source, known);
  }
  return known ?? undefined;
}

/** a call whose user may be missing (the `test` action without a user) */
export type LooseMappingCall = Omit<MappingCall, 'user'> & { user?: UsersTable };

/** the globals of authentik's PropertyMappingEvaluator for a call */
export function mappingGlobals(call: LooseMappingCall, extra: Record<string, unknown> = {}): JsonObject {
  const user = call.user ? (policyUser(call.user, call.userExtra) as JsonObject) : null;
  const http = call.request ? httpOf(call.request) : undefined;
  const provider: JsonObject = {
    pk: call.provider.id,
    id: call.provider.id,
    name: call.provider.name,
    ...(call.provider.client_id !== undefined ? { client_id: call.provider.client_id } : {}),
    application: call.provider.application
      ? { pk: call.provider.application.pbm_uuid, slug: call.provider.application.slug, name: call.provider.application.name }
      : null,
  };
  return {
    ...(extra as JsonObject),
    request: {
      ...(user ? { user } : {}),
      ...(http
        ? { http_request: { path: http.path, method: http.method, headers: http.headers, client_ip: http.clientIp, query: http.query } }
        : {}),
      obj: null,
      context: {},
      debug: false,
    },
    user,
    provider,
    // a test's context may name the token (a webhook mapping's code)
    token: (call.token ?? (extra.token as Json | undefined) ?? null) as Json,
  };
}

/** what the mapping's Python may ask Keystage (authentik's evaluator functions: ak_user_by, groups, …) */
export function mappingHost(svc: Services, call: LooseMappingCall, debug = false): ExpressionHost {
  return expressionHost(
    svc,
    { user: call.user, ...(call.request ? { http: httpOf(call.request) } : {}), context: {}, debug },
    async (name) => {
      throw new Error(`Policy ${name} cannot be called from a property mapping`);
    },
  );
}

export type MappingResult = { ok: true; value: unknown } | { ok: false; error: string };

/** runs a mapping's text (native or Python) and answers its value or its error; no events */
export async function runMapping(
  svc: Services,
  mapping: Pick<ScopeMapping, 'name' | 'expression'>,
  call: LooseMappingCall,
  timeoutMs = 30_000,
  extra: Record<string, unknown> = {},
  /** a test: no side effects (ak_create_event) */
  debug = false,
): Promise<MappingResult> {
  const native = nativeMappingOf(mapping.expression);
  if (native && call.user && !Object.keys(extra).length) return { ok: true, value: await native(svc.db, call as MappingCall) };
  const r = await evaluate({
    source: mapping.expression,
    globals: mappingGlobals(call, extra),
    host: mappingHost(svc, call, debug),
    timeoutMs,
    filename: mapping.name,
  });
  if (!r.ok) return { ok: false, error: r.exception ? `${r.exception.type}: ${r.exception.message}` : r.error };
  return { ok: true, value: r.value };
}

/**
 * One mapping's claims for a user. A mapping that fails (an exception, a timeout, the runtime unavailable) or
 * answers something other than a dict gives no claims: the failure is recorded as authentik records it (a
 * `property_mapping_exception` event with the mapping and the error) and the caller carries on without them.
 */
export async function evaluateScopeMapping(svc: Services, mapping: ScopeMapping, call: MappingCall): Promise<Record<string, unknown>> {
  let r: MappingResult;
  try {
    r = await runMapping(svc, mapping, call);
  } catch (e) {
    r = { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  if (r.ok && r.value !== null && typeof r.value === 'object' && !Array.isArray(r.value)) return r.value as Record<string, unknown>;
  if (r.ok && r.value === null) return {};
  const message = r.ok ? `Mapping result is not a dictionary: ${JSON.stringify(r.value)}` : r.error;
  try {
    await svc.events.emit('property_mapping_exception', {
      user: { pk: call.user.id, username: call.user.username, email: call.user.email },
      req: call.request,
      context: {
        expression: mapping.expression,
        message,
        mapping: { app: 'authentik_providers_oauth2', model_name: 'scopemapping', pk: mapping.pm_uuid, name: mapping.name },
        provider: { app: 'authentik_providers_oauth2', model_name: 'oauth2provider', pk: call.provider.id, name: call.provider.name },
      },
    });
  } catch {
    // the event log being unwritable does not change the answer (no claims from this mapping)
  }
  return {};
}
