/**
 * The Shared Signals Framework provider type (authentik's SSFProvider, a backchannel provider): receivers — other
 * applications — register streams and are pushed CAEP events about the people who may use their application (a
 * session ended, a password or authenticator changed) as signed security event tokens. Its admin API
 * (`/providers/ssf/`, `/ssf/streams/`), its service account and token (account.ts), the transmitter's endpoints
 * (protocol.ts), the events (events.ts) and their delivery (deliver.ts, the `send_ssf_event` actor).
 */
import { secretsOf } from '../../instance/secrets.js';
import { ValidationError } from '../../rest/errors.js';
import { baseUrlOf } from '../../rest/http.js';
import { tokensByUuid } from '../../tokens/tokens.js';
import { renderProviders } from '../base.js';
import type { ProviderDef } from '../types.js';
import { oauth2Provider } from '../oauth2/index.js';
import { ensureServiceAccount, removeServiceAccount, serviceAccountOf } from './account.js';
import { listenForSignals } from './listeners.js';
import { configurationUrl, mountSsfProtocol } from './protocol.js';
import { ssfSchema } from './schema.js';
import { mountSsfStreams } from './streams-api.js';

import { tidyStreams } from './deliver.js';

export { sendSsfEvent } from './deliver.js';

async function oidcProvidersOf(db: import('../../db/index.js').DB, id: number): Promise<number[]> {
  const rows = await db
    .selectFrom('provider_ssf_oidc_auth_providers')
    .select('oauth2_provider_id')
    .where('provider_id', '=', id)
    .orderBy('oauth2_provider_id')
    .execute();
  return rows.map((r) => Number(r.oauth2_provider_id));
}

export const ssfProvider: ProviderDef = {
  ...ssfSchema,
  describe: (name) => `Shared Signals Framework Provider ${name}`,
  moreSecretColumns: [{ table: 'ssf_streams', pk: 'uuid', column: 'authorization_header' }],
  async validate(data, ctx, existing) {
    if (!existing && (data.signing_key === undefined || data.signing_key === null))
      throw ValidationError.field('signing_key', data.signing_key === null ? 'This field may not be null.' : 'This field is required.');
    if (data.signing_key === null) throw ValidationError.field('signing_key', 'This field may not be null.');
    const ids = data.oidc_auth_providers as number[] | undefined;
    if (ids?.length) {
      const found = await ctx.db.selectFrom('providers').select(['id', 'kind']).where('id', 'in', ids).execute();
      for (const id of ids) {
        const p = found.find((f) => Number(f.id) === id);
        if (!p || p.kind !== oauth2Provider.kind)
          throw ValidationError.field('oidc_auth_providers', `Invalid pk "${id}" - object does not exist.`);
      }
    }
  },
  async writeMore(tx, id, data, ctx) {
    const ids = data.oidc_auth_providers as number[] | undefined;
    if (ids !== undefined) {
      await tx.deleteFrom('provider_ssf_oidc_auth_providers').where('provider_id', '=', id).execute();
      const unique = [...new Set(ids)];
      if (unique.length)
        await tx
          .insertInto('provider_ssf_oidc_auth_providers')
          .values(unique.map((oauth2_provider_id) => ({ provider_id: id, oauth2_provider_id })))
          .execute();
    }
    const p = await tx.selectFrom('providers').select('name').where('id', '=', id).executeTakeFirstOrThrow();
    await ensureServiceAccount(tx, secretsOf(ctx.db), id, p.name);
  },
  async removeMore(tx, id) {
    await removeServiceAccount(tx, id);
  },
  async usedByMore(db, id) {
    const token = await db.selectFrom('tokens').select('token_uuid').where('identifier', '=', serviceAccountOf(id)).executeTakeFirst();
    const streams = await db.selectFrom('ssf_streams').select('uuid').where('provider_id', '=', id).orderBy('uuid').execute();
    return [
      ...(token
        ? [{ app: 'authentik_core', model_name: 'token', pk: token.token_uuid, name: serviceAccountOf(id), action: 'cascade' as const }]
        : []),
      ...streams.map((s) => ({
        app: 'authentik_providers_ssf',
        model_name: 'stream',
        pk: s.uuid,
        name: 'SSF Stream',
        action: 'cascade' as const,
      })),
    ];
  },
  async renderMore(svc, o, req, db) {
    const id = o.pk as number;
    const row = await db.selectFrom('provider_ssf').select('token_uuid').where('provider_id', '=', id).executeTakeFirst();
    const tokens = row?.token_uuid ? await tokensByUuid(db, svc.installId, [row.token_uuid]) : new Map();
    const oidc = await oidcProvidersOf(db, id);
    const oidcRows = oidc.length ? await db.selectFrom('providers').selectAll().where('id', 'in', oidc).orderBy('id').execute() : [];
    const app = await db
      .selectFrom('application_backchannel_providers as b')
      .innerJoin('applications as a', 'a.pbm_uuid', 'b.application')
      .select('a.slug')
      .where('b.provider_id', '=', id)
      .executeTakeFirst();
    return {
      token_obj: (row?.token_uuid && tokens.get(row.token_uuid)) ?? null,
      oidc_auth_providers: oidc,
      oidc_auth_providers_obj: await renderProviders(db, oidcRows, (k) => (k === oauth2Provider.kind ? oauth2Provider : undefined)),
      ssf_url: app && req ? configurationUrl(baseUrlOf(req, svc.config), app.slug) : null,
    };
  },
  launchUrl: () => null,
  purgeExpired: tidyStreams,
  routes(router, svc) {
    mountSsfStreams(router, svc, ssfProvider);
    mountSsfProtocol(router.app, svc);
    listenForSignals(svc, router.app.log);
  },
};
