/**
 * authentik's `update_well_known_jwks` (every three hours, `/tasks/schedules/`): each OAuth source with a well-known
 * URL takes the authorization, token, userinfo and JWKS URLs its document names now, and each source with a JWKS URL
 * takes the keys it serves now — so an identity provider's key rotation reaches the sources (federated client
 * assertions verify against `oidc_jwks`) without an admin saving them. A document that cannot be had leaves its
 * source as it was, said in the task's log.
 */
import { lockConfigEpoch } from '../../db/config-epoch.js';
import { invalidateAdminCache } from '../../db/admin-cache.js';
import type { Actor } from '../../tasks/actor.js';
import { fetchJson } from './discovery.js';

const DOCUMENT_FIELDS = [
  ['authorization_url', 'authorization_endpoint'],
  ['access_token_url', 'token_endpoint'],
  ['profile_url', 'userinfo_endpoint'],
  ['oidc_jwks_url', 'jwks_uri'],
] as const;

type Field = (typeof DOCUMENT_FIELDS)[number][0];

/** a JSON value with its keys sorted, to compare documents as authentik's dumps(sort_keys=True) */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export const updateWellKnownJwks: Actor = {
  name: 'authentik.sources.oauth.tasks.update_well_known_jwks',
  description: "Update OAuth sources' config from well_known, and JWKS info from the configured URL",
  crontab: '{m} */3 * * *',
  async run({ svc, log }) {
    const { db } = svc;
    const sources = () =>
      db
        .selectFrom('sources as s')
        .innerJoin('oauth_sources as o', 'o.source_uuid', 's.source_uuid')
        .select([
          's.source_uuid',
          's.slug',
          'o.oidc_well_known_url',
          'o.oidc_jwks_url',
          'o.oidc_jwks',
          'o.authorization_url',
          'o.access_token_url',
          'o.profile_url',
        ])
        .orderBy('s.slug')
        .execute();
    const write = async (source: string, set: Partial<Record<Field | 'oidc_jwks', string>>) => {
      await db.transaction().execute(async (tx) => {
        await lockConfigEpoch(tx);
        await tx.updateTable('oauth_sources').set(set).where('source_uuid', '=', source).execute();
      });
      invalidateAdminCache(db);
    };
    /** the document at `url`, or undefined with `failure` in the task's log */
    const fetched = (url: string, failure: string) =>
      fetchJson(url, 'url').catch(() => {
        log('info', failure);
        return undefined;
      });
    for (const s of await sources()) {
      if (!s.oidc_well_known_url) continue;
      const config = await fetched(s.oidc_well_known_url, `Failed to update OIDC configuration for ${s.slug}`);
      if (!config) continue;
      const set: Partial<Record<Field, string>> = {};
      for (const [ours, theirs] of DOCUMENT_FIELDS) {
        const v = config[theirs];
        if (typeof v === 'string' && v !== (s[ours] ?? '')) set[ours] = v;
      }
      if (Object.keys(set).length) {
        await write(s.source_uuid, set);
        log('info', "Updating sources' OpenID Configuration", { source: s.slug });
      }
    }
    for (const s of await sources()) {
      if (!s.oidc_jwks_url) continue;
      const jwks = await fetched(s.oidc_jwks_url, `Failed to update JWKS for ${s.slug}`);
      if (!jwks) continue;
      let kept: unknown = {};
      try {
        kept = JSON.parse(s.oidc_jwks || '{}');
      } catch {}
      if (canonical(kept) === canonical(jwks)) continue;
      await write(s.source_uuid, { oidc_jwks: JSON.stringify(jwks) });
      log('info', "Updating sources' JWKS", { source: s.slug });
    }
  },
};
