/**
 * What a source's OIDC URLs fill in when it is written (authentik's OAuthSourceSerializer.validate): the well-known
 * document gives the authorization, token and userinfo URLs the admin left empty and the JWKS URL, and the JWKS URL's
 * document is stored as `oidc_jwks`; a document offering S256 PKCE turns `pkce` on unless the write names it. A fetch that fails is the field's 400, as authentik answers.
 */
import { ValidationError } from '../../rest/errors.js';

const TIMEOUT_MS = 5000;

/** a JSON object document from `url` (a ValidationError on `field` when it cannot be had) */
export async function fetchJson(url: string, field: string): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'follow' });
  } catch (err) {
    throw new ValidationError({ [field]: [`Could not fetch ${url}: ${(err as Error).message}`] });
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new ValidationError({ [field]: [text.slice(0, 500) || `HTTP ${res.status}`] });
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {}
  throw new ValidationError({ [field]: ['Invalid JSON document'] });
}

const FIELD_MAP = {
  authorization_url: 'authorization_endpoint',
  access_token_url: 'token_endpoint',
  profile_url: 'userinfo_endpoint',
} as const;

/** fills `data` (the merged settings being written) from the well-known and JWKS documents */
export async function discover(
  data: Record<string, unknown>,
  typeDefaults: { oidc_well_known_url: string | null; oidc_jwks_url: string | null },
  changed: (field: string) => boolean,
  /** whether this write names `pkce` itself (else a document offering S256 turns it on) */
  pkceGiven = true,
): Promise<void> {
  const ownWellKnown = (data.oidc_well_known_url as string) || '';
  const wellKnown = ownWellKnown || typeDefaults.oidc_well_known_url || '';
  let inferredJwks: string | undefined;
  // only when the URL (or the type) is part of this write: a PATCH of the name does not fetch. A type's own
  // default document (GitHub Actions', Google's, GitLab's) that cannot be fetched — a machine without Internet
  // access — leaves the JWKS as it was instead of refusing the source, whose login does not need it.
  if (wellKnown && (changed('oidc_well_known_url') || changed('provider_type'))) {
    const config = await fetchJson(wellKnown, 'oidc_well_known_url').catch((e: unknown) => {
      if (ownWellKnown) throw e;
      return undefined;
    });
    if (config) {
      if (!('issuer' in config)) throw new ValidationError({ oidc_well_known_url: ['Invalid well-known configuration'] });
      // a type's fixed URLs are its own: the document fills only a customisable source's empty ones
      for (const [ours, theirs] of Object.entries(FIELD_MAP)) {
        if (data[ours] || !ownWellKnown) continue;
        const v = config[theirs];
        data[ours] = typeof v === 'string' ? v : '';
      }
      if (typeof config.jwks_uri === 'string') inferredJwks = config.jwks_uri;
      // authentik: an identity provider that offers S256 gets it
      const methods = config.code_challenge_methods_supported;
      if (!pkceGiven && ownWellKnown && Array.isArray(methods) && methods.includes('S256')) data.pkce = 'S256';
    }
  }
  const ownJwks = (data.oidc_jwks_url as string) || '';
  const jwks = ownJwks || inferredJwks || typeDefaults.oidc_jwks_url || '';
  if (jwks && (changed('oidc_jwks_url') || inferredJwks !== undefined || changed('provider_type'))) {
    const doc = await fetchJson(jwks, 'oidc_jwks_url').catch((e: unknown) => {
      if (ownJwks || ownWellKnown) throw e;
      return undefined;
    });
    if (doc) {
      data.oidc_jwks_url = jwks;
      data.oidc_jwks = doc;
    }
  }
}
