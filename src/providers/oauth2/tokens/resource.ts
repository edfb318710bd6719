/**
 * /oauth2/authorization_codes/, /oauth2/refresh_tokens/ and /oauth2/access_tokens/ (authentik's
 * AuthorizationCodeViewSet, RefreshTokenViewSet, AccessTokenViewSet): list, retrieve, delete and used_by; a
 * superuser sees every grant, anyone else their own. The grant's secret is never shown (only its hash is kept).
 */
import { Type } from '@sinclair/typebox';
import type { DB } from '../../../db/index.js';
import { mountResource, type ResourceDef } from '../../../rest/resource.js';
import type { ApiRouter } from '../../../rest/routes.js';
import { S } from '../../../rest/schema.js';
import { drfDate } from '../../../rest/serialize.js';
import type { Services } from '../../../services.js';
import { renderUsers, type Row as UserRow } from '../../../users/render.js';
import { type BaseProviderRow, renderProviders } from '../../base.js';
import { providerTypeByKind } from '../../registry.js';
import { parseIdToken } from '../protocol/id-token.js';
import { parseScope } from '../protocol/scopes.js';

type Table = 'oauth2_authorization_codes' | 'oauth2_access_tokens' | 'oauth2_refresh_tokens';
type Row = Record<string, unknown> & { id: number; pk: number; provider_id: number; user_id: number };

const grantProps = {
  pk: S.ro(S.int({ title: 'ID' })),
  provider: Type.Unsafe({ $ref: '#/components/schemas/Provider' }),
  user: Type.Unsafe({ $ref: '#/components/schemas/User' }),
  is_expired: S.ro(S.bool({ description: 'Check if token is expired yet.' })),
  expires: S.nullable(S.datetime()),
  scope: S.list(S.str()),
};
const tokenProps = {
  ...grantProps,
  id_token: S.ro(S.str({ description: "Get the token's id_token as JSON String" })),
  revoked: S.bool({ 'x-optional': true }),
};

/** Python's json.dumps(…, indent=4): non-ASCII escaped as \\uXXXX */
function pyJson(v: unknown): string {
  return JSON.stringify(v, null, 4).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `dumps(asdict(instance.id_token), indent=4)`: every field of the dataclass, null when unset, then `claims` */
function idTokenJson(raw: string): string {
  const t = parseIdToken(raw);
  const fields = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'amr', 'c_hash', 'nonce', 'at_hash', 'sid'] as const;
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f] = t[f] ?? null;
  out.claims = t.claims;
  return pyJson(out);
}

async function render(svc: Services, db: DB, rows: Row[], withToken: boolean) {
  const userIds = [...new Set(rows.map((r) => Number(r.user_id)))];
  const providerIds = [...new Set(rows.map((r) => Number(r.provider_id)))];
  const users = userIds.length
    ? ((await db.selectFrom('users').selectAll().select('id as pk').where('id', 'in', userIds).execute()) as UserRow[])
    : [];
  const providers = providerIds.length
    ? ((await db
        .selectFrom('providers')
        .select(['id', 'name', 'kind', 'authentication_flow', 'authorization_flow', 'invalidation_flow'])
        .where('id', 'in', providerIds)
        .execute()) as BaseProviderRow[])
    : [];
  const renderedUsers = new Map((await renderUsers(db, users, svc.installId)).map((u) => [Number(u.pk), u]));
  const renderedProviders = new Map((await renderProviders(db, providers, providerTypeByKind)).map((p) => [Number(p.pk), p]));
  const now = Date.now();
  return rows.map((r) => {
    const expiring = r.expiring === 1 || r.expiring === true;
    const out: Record<string, unknown> = {
      pk: Number(r.id),
      provider: renderedProviders.get(Number(r.provider_id)),
      user: renderedUsers.get(Number(r.user_id)),
      is_expired: expiring && new Date(String(r.expires)).getTime() < now,
      expires: expiring ? drfDate(String(r.expires)) : null,
      scope: [...parseScope(String(r.scope))],
    };
    if (withToken) {
      out.id_token = idTokenJson(String(r.id_token));
      out.revoked = r.revoked === 1 || r.revoked === true;
    }
    return out;
  });
}

function grantResource(svc: Services, table: Table, path: string, model: string, component: string): ResourceDef<Row> {
  const withToken = table !== 'oauth2_authorization_codes';
  return {
    component,
    model,
    path: `/oauth2/${path}`,
    opPrefix: `oauth2_${path}`,
    tag: 'oauth2',
    lookup: { param: 'id', column: 'id', type: 'int' },
    props: withToken ? tokenProps : grantProps,
    ops: ['list', 'retrieve', 'destroy', 'used_by'],
    access: { kind: 'owner', column: 'user_id' },
    list: {
      filters: {
        user: { type: 'int', column: 'user_id' },
        provider: { type: 'int', column: 'provider_id' },
      },
      // (authentik's SearchFilter has no fields here; the scopes are what a search can sensibly match)
      search: ['scope'],
      ordering: { provider: 'provider_id', expires: 'expires', pk: 'id' },
      defaultOrdering: ['provider', 'expires'],
      pk: 'id',
    },
    select: (db) => (db.selectFrom(table) as any).selectAll().select('id as pk'),
    render: (db, rows) => render(svc, db, rows, withToken),
    remove: async (tx, existing) => {
      await tx.deleteFrom(table).where('id', '=', Number(existing.id)).execute();
    },
    usedBy: async () => [],
  };
}

export function mountOAuth2Grants(router: ApiRouter, svc: Services) {
  mountResource(
    router,
    svc.db,
    grantResource(svc, 'oauth2_authorization_codes', 'authorization_codes', 'AuthorizationCode', 'ExpiringBaseGrantModel'),
  );
  mountResource(router, svc.db, grantResource(svc, 'oauth2_refresh_tokens', 'refresh_tokens', 'RefreshToken', 'TokenModel'));
  mountResource(router, svc.db, grantResource(svc, 'oauth2_access_tokens', 'access_tokens', 'AccessToken', 'TokenModel'));
}
