/** An application with an OAuth2 provider for the protocol tests, and openid-client's configuration for it. */
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { call, type TestServer } from '../../helpers/server.js';

export interface OAuth2App {
  provider: { pk: number; client_id: string; client_secret: string };
  config: client.Configuration;
}

/**
 * the provider `p-<slug>` (implicit-consent authorization flow, the given managed scope mappings, `extra` fields)
 * and its application `slug`; a public client discovers without a secret
 */
export async function oauth2App(
  srv: TestServer,
  slug: string,
  opts: { mappings?: string[]; extra?: Record<string, unknown> } = {},
): Promise<OAuth2App> {
  const flow = (s: string) => call(srv, 'GET', `/flows/instances/${s}/`).then((r) => r.body.pk as string);
  const rows = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
  const pm = (s: string) => rows.find((r) => r.managed === `goauthentik.io/providers/oauth2/scope-${s}`)!.pm_uuid;
  const p = await call(srv, 'POST', '/providers/oauth2/', {
    name: `p-${slug}`,
    authorization_flow: await flow('default-provider-authorization-implicit-consent'),
    invalidation_flow: await flow('default-provider-invalidation-flow'),
    redirect_uris: [],
    property_mappings: (opts.mappings ?? ['openid', 'email', 'profile']).map(pm),
    ...opts.extra,
  });
  assert.equal(p.status, 201, JSON.stringify(p.body));
  assert.equal((await call(srv, 'POST', '/core/applications/', { name: `App ${slug}`, slug, provider: p.body.pk })).status, 201);
  const isPublic = opts.extra?.client_type === 'public';
  const config = await client.discovery(
    new URL(`${srv.url}/application/o/${slug}/`),
    p.body.client_id,
    isPublic ? undefined : { client_secret: p.body.client_secret },
    isPublic ? client.None() : undefined,
    { execute: [client.allowInsecureRequests] },
  );
  return { provider: p.body, config };
}
