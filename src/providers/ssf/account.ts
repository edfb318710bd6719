/**
 * Each SSF provider's service account and API token (authentik's ssf_providers_post_save): receivers manage their
 * streams with the token (`token_obj`; its key through /core/tokens/<identifier>/view_key/). Made with the provider,
 * renamed with it, and deleted with it (authentik leaves them behind: a live API token of a provider that is gone).
 */
import type { Tx } from '../../rest/resource.js';
import type { Secrets } from '../../instance/secrets.js';
import { systemSettings } from '../../instance/system-settings/store.js';
import { generateKey, insertToken } from '../../tokens/tokens.js';
import { insertUser } from '../../users/store.js';
import type {} from './table.js';

export const SSF_USER_PATH = 'goauthentik.io/providers/ssf';
export const serviceAccountOf = (providerId: number) => `ak-providers-ssf-${providerId}`;
const accountName = (name: string) => `SSF Provider ${name} Service-Account`;

/** the provider's service account and token, made if missing; its name follows the provider's */
export async function ensureServiceAccount(tx: Tx, secrets: Secrets, providerId: number, name: string): Promise<void> {
  const identifier = serviceAccountOf(providerId);
  const user = await tx.selectFrom('users').select('id').where('username', '=', identifier).executeTakeFirst();
  let userId: number;
  if (user) {
    userId = user.id;
    await tx
      .updateTable('users')
      .set({ name: accountName(name) })
      .where('id', '=', userId)
      .execute();
  } else
    userId = await insertUser(tx, { username: identifier, name: accountName(name), type: 'internal_service_account', path: SSF_USER_PATH });
  let token = await tx.selectFrom('tokens').select('token_uuid').where('identifier', '=', identifier).executeTakeFirst();
  if (!token) {
    await insertToken(tx, secrets, {
      identifier,
      intent: 'api',
      user_id: userId,
      description: '',
      expires: null,
      expiring: 0,
      managed: `goauthentik.io/providers/ssf/${providerId}`,
      key: generateKey((await systemSettings(tx)).default_token_length),
    });
    token = await tx.selectFrom('tokens').select('token_uuid').where('identifier', '=', identifier).executeTakeFirstOrThrow();
  }
  await tx.updateTable('provider_ssf').set({ token_uuid: token.token_uuid }).where('provider_id', '=', providerId).execute();
}

/** the service account (and with it the token) of a provider being deleted */
export async function removeServiceAccount(tx: Tx, providerId: number): Promise<void> {
  await tx.deleteFrom('users').where('username', '=', serviceAccountOf(providerId)).execute();
}
