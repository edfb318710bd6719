/**
 * A service account the token endpoint creates on first use (authentik's `User.objects.update_or_create` in the
 * client_credentials grants): inserted with an unusable password; when another request inserted it at the same
 * moment, that row is the answer.
 */
import { randomUUID } from 'node:crypto';
import type { UsersTable } from '../../../../db/types.js';
import type { Services } from '../../../../services.js';
import { unusablePassword } from '../../../../auth/passwords.js';
import { TokenError } from '../../protocol/errors.js';

export interface ServiceAccountFields {
  last_login: string;
  name: string;
  path: string;
  type: string;
  last_updated: string;
}

export const userByUsername = (svc: Services, username: string) =>
  svc.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();

export async function createServiceAccount(
  svc: Services,
  username: string,
  fields: ServiceAccountFields,
  attributes: Record<string, unknown>,
): Promise<UsersTable> {
  try {
    await svc.db
      .insertInto('users')
      .values({
        uuid: randomUUID(),
        username,
        email: '',
        password: unusablePassword(),
        is_active: 1,
        date_joined: fields.last_login,
        password_change_date: fields.last_login,
        attributes: JSON.stringify(attributes),
        ...fields,
      } as never)
      .execute();
  } catch {
    // another request created it at the same moment
  }
  const user = await userByUsername(svc, username);
  if (!user) throw new TokenError('invalid_grant').withCause('service_account');
  return user;
}
