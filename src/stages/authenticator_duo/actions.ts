/**
 * POST /stages/authenticator/duo/{stage_uuid}/import_device_manual/: attach an existing Duo user to a Keystage user;
 * import_devices_automatic/: every Duo user (the Admin API, with the stage's admin key pair) whose username is a
 * Keystage user's becomes a device of that user.
 */
import type { ApiRouter } from '../../rest/routes.js';
import { can, requirePermission } from '../../rbac/check.js';
import { guardTargetUser } from '../../rbac/guards.js';
import { NotFound, ValidationError } from '../../rest/errors.js';
import { S } from '../../rest/schema.js';
import { validateBody, isUuid } from '../../rest/validate.js';
import type { DB } from '../../db/index.js';
import { hasGlobal } from '../../rbac/check.js';
import { Forbidden } from '../../rest/errors.js';
import { isSuperuser } from '../../groups/membership.js';
import { duoAdminUsers } from '../../mfa/duo/duo-api.js';
import { loadStageConfig } from '../resource.js';
import { authenticatorDuoSchema } from './schema.js';

const IMPORTED = 'Imported Duo Authenticator';

export function mountDuoActions(router: ApiRouter, db: DB) {
  router.component('AuthenticatorDuoStageManualDeviceImportRequest', {
    type: 'object',
    properties: { duo_user_id: { type: 'string', minLength: 1 }, username: { type: 'string', minLength: 1 } },
    required: ['duo_user_id', 'username'],
  });
  router.route(
    '/stages/authenticator/duo/{stage_uuid}/import_device_manual',
    {
      post: {
        doc: {
          operationId: 'stages_authenticator_duo_import_device_manual_create',
          tag: 'stages',
          body: 'AuthenticatorDuoStageManualDeviceImportRequest',
          bodyRequired: true,
          status: 204,
        },
        handler: async (req, reply) => {
          // authentik: add_duodevice, and view_user on the user the device is for (checked below); beyond authentik,
          // a superuser's devices are a superuser's business (rbac/guards.ts)
          const caller = await requirePermission(db, req, 'authentik_stages_authenticator_duo.add_duodevice');
          const id = (req.params as { stage_uuid: string }).stage_uuid;
          const stage = isUuid(id)
            ? await db
                .selectFrom('stages')
                .select('stage_uuid')
                .where('stage_uuid', '=', id)
                .where('kind', '=', 'authenticatorduostage')
                .executeTakeFirst()
            : undefined;
          if (!stage) throw NotFound.model('AuthenticatorDuoStage');
          const data = await validateBody({ duo_user_id: S.str({ maxLength: 64 }), username: S.str({ maxLength: 150 }) }, req.body, {
            mode: 'create',
            db,
          });
          const user = await db
            .selectFrom('users')
            .select('id')
            .where('username', '=', data.username as string)
            .executeTakeFirst();
          if (!user || !(await can(db, caller, 'authentik_core.view_user', user.id)))
            throw ValidationError.nonField('User does not exist.');
          await guardTargetUser(db, caller, user.id);
          const exists = await db
            .selectFrom('duo_devices')
            .select('id')
            .where('user_id', '=', user.id)
            .where('duo_user_id', '=', data.duo_user_id as string)
            .executeTakeFirst();
          if (exists) throw ValidationError.nonField('Device exists already.');
          const now = new Date().toISOString();
          const added = await db
            .insertInto('duo_devices')
            .values({
              user_id: user.id,
              stage: stage.stage_uuid,
              name: 'Imported Duo Authenticator',
              confirmed: 1,
              created: now,
              last_updated: now,
              last_used: null,
              duo_user_id: data.duo_user_id as string,
            } as never)
            // a request beside this one added it first
            .onConflict((oc) => oc.columns(['user_id', 'duo_user_id']).doNothing())
            .returning('id')
            .executeTakeFirst();
          if (!added) throw ValidationError.nonField('Device exists already.');
          reply.code(204);
          return reply.send();
        },
      },
    },
    [{ name: 'stage_uuid', schema: { type: 'string', format: 'uuid' } }],
  );

  router.component('AuthenticatorDuoStageDeviceImportResponse', {
    type: 'object',
    properties: { count: { type: 'integer', readOnly: true }, error: { type: 'string', readOnly: true } },
    required: ['count', 'error'],
  });
  router.route(
    '/stages/authenticator/duo/{stage_uuid}/import_devices_automatic',
    {
      post: {
        doc: {
          operationId: 'stages_authenticator_duo_import_devices_automatic_create',
          tag: 'stages',
          response: 'AuthenticatorDuoStageDeviceImportResponse',
        },
        handler: async (req, reply) => {
          // authentik: add_duodevice and view_user, both for every object
          const caller = await requirePermission(db, req, 'authentik_stages_authenticator_duo.add_duodevice');
          if (!(await hasGlobal(db, caller, 'authentik_core.view_user'))) throw Forbidden.permission();
          const id = (req.params as { stage_uuid: string }).stage_uuid;
          const config = isUuid(id)
            ? await loadStageConfig<{ api_hostname: string; admin_integration_key: string; admin_secret_key: string }>(
                db,
                authenticatorDuoSchema,
                id,
              )
            : undefined;
          if (!config) throw NotFound.model('AuthenticatorDuoStage');
          if (config.admin_integration_key === '')
            throw ValidationError.nonField('Stage does not have Admin API configured, which is required for automatic imports.');
          const creds = {
            client_id: config.admin_integration_key,
            client_secret: config.admin_secret_key,
            api_hostname: config.api_hostname,
          };
          let count = 0;
          let error = '';
          try {
            for await (const duo of duoAdminUsers(creds)) {
              if (!duo.username || !duo.user_id) continue;
              const user = await db.selectFrom('users').select('id').where('username', '=', duo.username).executeTakeFirst();
              if (!user) continue;
              // beyond authentik: a superuser's devices are a superuser's business (rbac/guards.ts)
              if (!caller.superuser && (await isSuperuser(db, user.id))) continue;
              const now = new Date().toISOString();
              const added = await db
                .insertInto('duo_devices')
                .values({
                  user_id: user.id,
                  stage: id,
                  name: IMPORTED,
                  confirmed: 1,
                  created: now,
                  last_updated: now,
                  last_used: null,
                  duo_user_id: duo.user_id,
                } as never)
                // the user has this Duo user already (a device of any stage, or an import running beside this one)
                .onConflict((oc) => oc.columns(['user_id', 'duo_user_id']).doNothing())
                .returning('id')
                .executeTakeFirst();
              if (added) count++;
            }
          } catch (e) {
            // what was imported stays (authentik's answer: the count so far and the error)
            error = e instanceof Error ? e.message : String(e);
          }
          reply.code(error ? 400 : 200);
          return { count, error };
        },
      },
    },
    [{ name: 'stage_uuid', schema: { type: 'string', format: 'uuid' } }],
  );
}
