/**
 * Passwords and the directory: authentik's LDAPBackend (a password stage's
 * `authentik.sources.ldap.auth.LDAPBackend`: the person binds as their entry's DN) and its password write-back (a
 * source's `sync_users_password`: a password set in Keystage is set in the directory first, and a failure there
 * refuses the change).
 */
import { BerWriter, Change, Attribute, InvalidCredentialsError } from 'ldapts';
import type { UsersTable } from '../../db/types.js';
import type { DB } from '../../db/index.js';
import type { Services } from '../../services.js';
import { ValidationError } from '../../rest/errors.js';
import { AD_CAPABILITY, connect, serverInfo } from './connect.js';
import { LDAP_DISTINGUISHED_NAME } from './mappings.js';
import { enabledLdapSources, type LdapSourceRow } from './sync.js';

export const LDAP_BACKEND = 'authentik.sources.ldap.auth.LDAPBackend';
const PASSWORD_MODIFY_OID = '1.3.6.1.4.1.4203.1.11.1';

export const dnOf = (user: Pick<UsersTable, 'attributes'>): string | undefined => {
  try {
    const v = (JSON.parse(user.attributes || '{}') as Record<string, unknown>)[LDAP_DISTINGUISHED_NAME];
    return typeof v === 'string' && v ? v : undefined;
  } catch {
    return undefined;
  }
};

/**
 * The user when a bind as their DN with this password succeeds at one of the enabled LDAP sources (authentik tries
 * each); undefined for a user without a DN (not imported from LDAP), an inactive one, or a refused bind.
 */
export async function ldapAuthenticate(
  svc: Services,
  user: UsersTable | undefined,
  password: string,
): Promise<{ user: UsersTable; source: LdapSourceRow } | undefined> {
  const dn = user ? dnOf(user) : undefined;
  if (!user || !dn || !password) return undefined;
  for (const source of (await enabledLdapSources(svc.db).execute()) as LdapSourceRow[]) {
    try {
      const b = await connect(svc.db, source, { dn, password });
      await b.close();
    } catch (e) {
      // (a server that cannot be reached is as a refusal: the next source is tried, and the login fails closed)
      if (!(e instanceof InvalidCredentialsError)) process.emitWarning(`LDAP source ${source.slug}: ${String(e)}`);
      continue;
    }
    return user.is_active ? { user, source } : undefined;
  }
  return undefined;
}

/** RFC 3062's PasswdModifyRequestValue: userIdentity [0], newPasswd [2] */
function passwordModifyValue(dn: string, password: string): Buffer {
  const w = new BerWriter();
  w.startSequence();
  w.writeString(dn, 0x80);
  w.writeString(password, 0x82);
  w.endSequence();
  return w.buffer;
}

/** the enabled sources with `sync_users_password` the user is connected to: their directories keep the password */
export async function passwordDirectories(db: DB, userId: number): Promise<LdapSourceRow[]> {
  return (await enabledLdapSources(db)
    .where('l.sync_users_password', '=', 1)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('user_source_connections as c')
          .select('c.id')
          .whereRef('c.source_uuid', '=', 's.source_uuid')
          .where('c.user_id', '=', userId),
      ),
    )
    .execute()) as LdapSourceRow[];
}

/**
 * Sets the password in the directory of each enabled source with `sync_users_password` that this user is connected
 * to (authentik's LDAPPasswordChanger: Active Directory's `unicodePwd`, else the Password Modify extended
 * operation), as the source's service account. Throws a 400 ("Failed to set password") and records a
 * `configuration_error` event when the directory refuses it, so the change is not made in Keystage either.
 */
export async function writePasswordToDirectory(svc: Services, user: Pick<UsersTable, 'id' | 'username' | 'attributes'>, password: string) {
  const dn = dnOf(user);
  if (!dn) return;
  const sources = await passwordDirectories(svc.db, user.id);
  for (const source of sources) {
    try {
      const b = await connect(svc.db, source);
      try {
        const info = await serverInfo(b.client);
        if (info.capabilities.includes(AD_CAPABILITY))
          await b.client.modify(
            dn,
            new Change({
              operation: 'replace',
              modification: new Attribute({ type: 'unicodePwd', values: [Buffer.from(`"${password}"`, 'utf16le')] }),
            }),
          );
        else await b.client.exop(PASSWORD_MODIFY_OID, passwordModifyValue(dn, password));
      } finally {
        await b.close();
      }
    } catch (e) {
      await svc.events
        .emit('configuration_error', {
          app: 'authentik.sources.ldap',
          user: { pk: user.id, username: user.username },
          context: {
            message: `Failed to set the password in LDAP: ${e instanceof Error ? e.message : String(e)}`,
            source: { app: 'authentik_sources_ldap', model_name: 'ldapsource', pk: source.source_uuid, name: source.name },
          },
        })
        .catch(() => undefined);
      throw ValidationError.nonField('Failed to set password');
    }
  }
}
