/**
 * The login buttons of an identification stage's sources (authentik's `ui_login_button`, IdentificationChallenge's
 * `sources`): each enabled OAuth or SAML source the stage names, by name, as a redirect to its login URL.
 */
import type { DB } from '../db/index.js';
import { loginPath } from './oauth/paths.js';
import { samlPath } from './saml/paths.js';

export interface LoginButton {
  name: string;
  icon_url: string | null;
  promoted: boolean;
  challenge: { component: 'xak-flow-redirect'; to: string };
}

export async function loginButtons(db: DB, sourceUuids: readonly string[]): Promise<LoginButton[]> {
  if (!sourceUuids.length) return [];
  const rows = await db
    .selectFrom('sources')
    .select(['name', 'slug', 'icon', 'promoted', 'kind'])
    .where('source_uuid', 'in', [...sourceUuids])
    .where('enabled', '=', 1)
    .orderBy('name')
    .execute();
  return rows
    .filter((r) => r.kind === 'oauthsource' || r.kind === 'samlsource')
    .map((r) => ({
      name: r.name,
      icon_url: r.icon || (r.kind === 'samlsource' ? '/static/authentik/sources/saml.png' : null),
      promoted: Number(r.promoted) === 1,
      challenge: { component: 'xak-flow-redirect' as const, to: r.kind === 'samlsource' ? samlPath(r.slug) : loginPath(r.slug) },
    }));
}
