/**
 * The login buttons of an identification stage's sources (authentik's `ui_login_button`, IdentificationChallenge's
 * `sources`): each enabled OAuth, SAML or Telegram source the stage names, by name, as a redirect to its login URL; a
 * Plex source as `ak-source-plex` (the page gets the Plex token itself).
 */
import { assetUrl } from '../files/names.js';
import type { DB } from '../db/index.js';
import { loginPath } from './oauth/paths.js';
import { samlPath } from './saml/paths.js';
import { telegramStartPath } from './telegram/paths.js';

export interface LoginButton {
  name: string;
  icon_url: string | null;
  promoted: boolean;
  challenge: { component: 'xak-flow-redirect'; to: string } | { component: 'ak-source-plex'; client_id: string; slug: string };
}

/** the source kinds a person logs in with from the login page: their login URL and default icon */
const LOGIN: Record<string, { path: (slug: string) => string; icon: string | null }> = {
  oauthsource: { path: loginPath, icon: null },
  samlsource: { path: samlPath, icon: '/static/authentik/sources/saml.png' },
  telegramsource: { path: telegramStartPath, icon: '/static/authentik/sources/telegram.svg' },
};

export async function loginButtons(db: DB, sourceUuids: readonly string[]): Promise<LoginButton[]> {
  if (!sourceUuids.length) return [];
  const rows = await db
    .selectFrom('sources as s')
    .leftJoin('plex_sources as p', 'p.source_uuid', 's.source_uuid')
    .select(['s.name', 's.slug', 's.icon', 's.promoted', 's.kind', 'p.client_id'])
    .where('s.source_uuid', 'in', [...sourceUuids])
    .where('s.enabled', '=', 1)
    .orderBy('s.name')
    .execute();
  return rows
    .filter((r) => LOGIN[r.kind] || r.kind === 'plexsource')
    .map((r) => ({
      name: r.name,
      icon_url: r.icon ? assetUrl(r.icon) : r.kind === 'plexsource' ? '/static/authentik/sources/plex.svg' : LOGIN[r.kind]!.icon,
      promoted: Number(r.promoted) === 1,
      challenge:
        r.kind === 'plexsource'
          ? { component: 'ak-source-plex' as const, client_id: r.client_id ?? '', slug: r.slug }
          : { component: 'xak-flow-redirect' as const, to: LOGIN[r.kind]!.path(r.slug) },
    }));
}
