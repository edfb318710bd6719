/** POST /stages/authenticator/duo/{stage_uuid}/import_device_manual/: attach an existing Duo user to a Keystage user. */
import type { ApiRouter } from '../../rest/routes.js';
import { can, requirePermission } from '../../rbac/check.js';
import { guardTargetUser } from '../../rbac/guards.js';
import { NotFound, ValidationError } from '../../rest/errors.js';
import { S } from '../../rest/schema.js';
import { validateBody, isUuid } from '../../rest/validate.js';
import type { DB } from '../../db/index.js';

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
            throw ValidationError.field('username', 'User does not exist.');
          await guardTargetUser(db, caller, user.id);
          const exists = await db
            .selectFrom('duo_devices')
            .select('id')
            .where('user_id', '=', user.id)
            .where('duo_user_id', '=', data.duo_user_id as string)
            .executeTakeFirst();
          if (exists) throw ValidationError.field('duo_user_id', 'Device exists already.');
          const now = new Date().toISOString();
          await db
            .insertInto('duo_devices')
            .values({
              user_id: user.id,
              stage: stage.stage_uuid,
              name: 'Imported Duo authenticator',
              confirmed: 1,
              created: now,
              last_updated: now,
              last_used: null,
              duo_user_id: data.duo_user_id as string,
            } as never)
            .execute();
          reply.code(204);
          return reply.send();
        },
      },
    },
    [{ name: 'stage_uuid', schema: { type: 'string', format: 'uuid' } }],
  );
}
