/**
 * Each SSF provider's service account and API token (authentik's ssf_providers_post_save): receivers manage their
 * streams with the token (`token_obj`; its key through /core/tokens/<identifier>/view_key/). Made with the provider,
 * renamed with it, and deleted with it (authentik leaves them behind: a live API token of a provider that is gone).
 */
import type { Tx } from '../../rest/resource.js';
import type { Secrets } from '../../instance/secrets.js';
import { insertManagedAccount } from '../../users/service-accounts.js';
import type {} from './table.js';

export const SSF_USER_PATH = 'goauthentik.io/providers/ssf';
export const serviceAccountOf = (providerId: number) => `ak-providers-ssf-${providerId}`;
const accountName = (name: string) => `SSF Provider ${name} Service-Account`;

/** the provider's service account and token, made if missing; its name follows the provider's */
export async function ensureServiceAccount(tx: Tx, secrets: Secrets, providerId: number, name: string): Promise<void> {
  const identifier = serviceAccountOf(providerId);
  const token = await tx.selectFrom('tokens').select('token_uuid').where('identifier', '=', identifier).executeTakeFirst();
  const token_uuid =
    token?.token_uuid ??
    (await insertManagedAccount(tx, secrets, {
      identifier,
      name: accountName(name),
      path: SSF_USER_PATH,
      managed: `goauthentik.io/providers/ssf/${providerId}`,
    }));
  await tx
    .updateTable('users')
    .set({ name: accountName(name) })
    .where('username', '=', identifier)
    .execute();
  await tx.updateTable('provider_ssf').set({ token_uuid }).where('provider_id', '=', providerId).execute();
}

/** the service account (and with it the token) of a provider being deleted */
export async function removeServiceAccount(tx: Tx, providerId: number): Promise<void> {
  await tx.deleteFrom('users').where('username', '=', serviceAccountOf(providerId)).execute();
}
