/**
 * The sessions service providers hold (authentik's SAMLSession): one per Response Keystage sends, with the NameID and
 * session index the service provider knows it by, ended with the Keystage session it came from.
 */
import type {} from './table.js';
import type { UsersTable } from '../../db/types.js';
import { parseDuration } from '../../rest/duration.js';
import type { Services } from '../../services.js';
import type { SamlProvider } from './config.js';

export async function recordSession(
  svc: Services,
  provider: SamlProvider,
  me: { user: UsersTable; sessionKey: string },
  nameIdFormat: string,
  answer: { nameId: string; issuer: string; sessionIndex: string },
): Promise<void> {
  const now = new Date();
  await svc.db
    .insertInto('saml_sessions')
    .values({
      provider_id: provider.id,
      user_id: me.user.id,
      // (a Keystage session's key, which is already a hash: sessions/session-hash.ts)
      session_id: me.sessionKey,
      session_index: answer.sessionIndex,
      name_id: answer.nameId,
      name_id_format: nameIdFormat,
      issuer: answer.issuer,
      expires: new Date(now.getTime() + (parseDuration(provider.session_valid_not_on_or_after) ?? 0)).toISOString(),
      created: now.toISOString(),
    })
    .execute();
}

/**
 * the sessions a Keystage session opened at providers of one kind (`samlprovider`, `wsfederationprovider`: both keep
 * theirs here), taken: read and deleted, for that kind's logout to tell them
 */
export async function takeSessions(svc: Services, sessionKey: string, kind: string) {
  const rows = await svc.db
    .selectFrom('saml_sessions')
    .selectAll('saml_sessions')
    .where('session_id', '=', sessionKey)
    .where((eb) =>
      eb.exists(
        eb.selectFrom('providers as p').select('p.id').whereRef('p.id', '=', 'saml_sessions.provider_id').where('p.kind', '=', kind),
      ),
    )
    .execute();
  if (rows.length)
    await svc.db
      .deleteFrom('saml_sessions')
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
  return rows;
}
