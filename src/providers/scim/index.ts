/**
 * The SCIM provider type (authentik's SCIMProvider, a backchannel provider): users and groups pushed to another
 * application's SCIM 2.0 API, at once when they change and in full every hour and after a save.
 */
import type { ProviderDef } from '../types.js';
import { ValidationError } from '../../rest/errors.js';
import { scimSchema } from './schema.js';
import { ensureManagedScimMappings } from './managed.js';
import { groupLinksOf } from './config.js';
import { mountScimAdmin } from './admin-routes.js';
import { mountScimConnections } from './connections.js';
import { requestAllFullSyncs, requestFullSync, type ScimScheduler, startScimScheduler } from './scheduler.js';

/** each server's scheduler (a test process may run several servers) */
const schedulers = new WeakMap<object, ScimScheduler>();

export const scimProvider: ProviderDef = {
  ...scimSchema,
  describe: (name) => `SCIM Provider ${name}`,
  async validate(data, ctx, existing) {
    const merged = { ...existing, ...data } as Record<string, unknown>;
    if (merged.auth_mode === 'oauth_interactive')
      throw ValidationError.field('auth_mode', 'The interactive OAuth mode is not supported yet: use token or oauth.');
    if (merged.auth_mode === 'oauth') {
      const source = merged.auth_oauth as string | null | undefined;
      if (!source) throw ValidationError.field('auth_oauth', 'An OAuth source is required for OAuth authentication.');
      const row = await ctx.db.selectFrom('sources').select('kind').where('source_uuid', '=', source).executeTakeFirst();
      if (row?.kind !== 'oauthsource') throw ValidationError.field('auth_oauth', `Invalid pk "${source}" - object does not exist.`);
    }
    for (const mode of ['sfdc', 'gitlab', 'webex'])
      if (merged.compatibility_mode === mode)
        throw ValidationError.field('compatibility_mode', `The ${mode} compatibility mode is not supported yet.`);
    if (typeof data.url === 'string' && !/^https?:\/\/[^\s/]/i.test(data.url)) throw ValidationError.field('url', 'Enter a valid URL.');
  },
  async writeMore(tx, id, data) {
    for (const [field, table, column] of [
      ['property_mappings_group', 'scim_provider_group_mappings', 'pm_uuid'],
      ['group_filters', 'scim_provider_group_filters', 'group_uuid'],
    ] as const) {
      const list = data[field] as string[] | undefined;
      if (list === undefined) continue;
      await tx.deleteFrom(table).where('provider_id', '=', id).execute();
      const unique = [...new Set(list)];
      if (unique.length)
        await tx
          .insertInto(table as 'scim_provider_group_mappings')
          .values(unique.map((v) => ({ provider_id: id, [column]: v }) as never))
          .execute();
    }
  },
  async renderMore(_svc, o, _req, db) {
    const id = o.pk as number;
    const state = await db
      .selectFrom('scim_sync_state')
      .select(['oauth_token_last_updated', 'oauth_token_expires'])
      .where('provider_id', '=', id)
      .executeTakeFirst();
    return {
      ...(await groupLinksOf(db, id)),
      auth_oauth_token_last_updated: state?.oauth_token_last_updated ?? null,
      auth_oauth_token_expires: state?.oauth_token_expires ?? null,
      auth_oauth_url_callback: null,
      auth_oauth_url_start: null,
    };
  },
  // a save asks for a full sync (authentik's sync on save)
  async afterWrite(svc, id) {
    const p = await svc.db.selectFrom('providers').select('last_updated').where('id', '=', id).executeTakeFirst();
    if (p) await requestFullSync(svc.db, id, String(p.last_updated));
    schedulers.get(svc)?.kick();
    // (a new provider gets its schedule)
    svc.tasks?.kick();
  },
  atStart: ensureManagedScimMappings,
  routes(router, svc) {
    mountScimAdmin(router, svc);
    mountScimConnections(router, svc);
    // (a source's sync with `sync_outgoing_trigger_mode: deferred_end` ends by asking for a full sync)
    svc.signals.onOutgoingFullSync(async () => {
      await requestAllFullSyncs(svc.db);
      schedulers.get(svc)?.kick();
    });
    router.app.addHook('onReady', async () => {
      schedulers.set(
        svc,
        startScimScheduler(svc, (err) => router.app.log.warn({ err }, 'SCIM provider sync failed')),
      );
    });
    router.app.addHook('onClose', async () => {
      await schedulers.get(svc)?.stop();
      schedulers.delete(svc);
    });
  },
};
