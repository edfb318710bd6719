/**
 * The e-mail stage's routes beside its resource: `/stages/email/templates/` (the built-in templates, as authentik's
 * TypeCreate list) and `/core/users/{id}/recovery_email/` (authentik's `recovery_email`: the administrator's recovery
 * link, src/flows/recovery.ts, sent to the user with this stage's settings and template).
 */
import type { ApiRouter } from '../../rest/routes.js';
import type { DB } from '../../db/index.js';
import { requireCaller } from '../../rest/auth.js';
import { ValidationError } from '../../rest/errors.js';
import { validateBody } from '../../rest/validate.js';
import { S } from '../../rest/schema.js';
import type { Services } from '../../flows/engine/runtime.js';
import { createRecoveryLink, recoveryTarget, tokenDuration } from '../../flows/recovery.js';
import { loadStageConfig } from '../resource.js';
import { emailSchema } from './schema.js';
import type { EmailConfig } from './stage.js';
import { renderMessage, sendMessage, TEMPLATES } from './send.js';

const STAGE_NOT_FOUND = 'Email stage not found.';

export function mountEmailRoutes(router: ApiRouter, _db: DB, svc: Services) {
  router.route('/stages/email/templates', {
    get: {
      doc: {
        operationId: 'stages_email_templates_list',
        tag: 'stages',
        response: { type: 'array', items: { $ref: '#/components/schemas/TypeCreate' } },
      },
      handler: async (req) => {
        requireCaller(req);
        return TEMPLATES.map((t) => ({ name: t.name, description: t.description, component: '', model_name: '' }));
      },
    },
  });
  router.route(
    '/core/users/{id}/recovery_email',
    {
      post: {
        doc: {
          operationId: 'core_users_recovery_email_create',
          tag: 'core',
          body: 'UserRecoveryEmailRequest',
          bodyRequired: true,
          status: 204,
        },
        handler: async (req, reply) => {
          const user = await recoveryTarget(svc, req);
          const data = await validateBody({ token_duration: S.str({ 'x-optional': true }), email_stage: S.uuid() }, req.body, {
            mode: 'create',
            db: svc.db,
          });
          if (!user.email) throw ValidationError.bare('non_field_errors', 'User does not have an email address set.');
          const kind = await svc.db
            .selectFrom('stages')
            .select('kind')
            .where('stage_uuid', '=', data.email_stage as string)
            .executeTakeFirst();
          const stage =
            kind?.kind === emailSchema.kind
              ? await loadStageConfig<EmailConfig>(svc.db, emailSchema, data.email_stage as string)
              : undefined;
          if (!stage) throw ValidationError.bare('non_field_errors', STAGE_NOT_FOUND);
          const link = await createRecoveryLink(svc, req, user, await tokenDuration(svc, data.token_duration), true);
          const message = renderMessage(stage.subject, stage.template, {
            url: link.link,
            user: user.name || user.username,
            username: user.username,
            expires: link.expires,
          });
          try {
            await sendMessage(stage, svc.config, { name: user.name, address: user.email }, message);
          } catch (e) {
            req.log.warn({ err: { message: (e as Error).message } }, 'recovery e-mail: sending failed');
            throw ValidationError.nonField('Failed to send the e-mail.');
          }
          await svc.events.emit('email_sent', {
            user: { pk: user.id, username: user.username, email: user.email },
            req,
            context: { to: user.email, subject: stage.subject, stage: { pk: stage.pk, name: stage.name } },
          });
          reply.code(204);
          return reply.send();
        },
      },
    },
    [{ name: 'id', schema: { type: 'integer' } }],
  );
  router.component('UserRecoveryEmailRequest', {
    type: 'object',
    description: 'Payload to create and email a recovery link',
    properties: { token_duration: { type: 'string', minLength: 1 }, email_stage: { type: 'string', format: 'uuid' } },
    required: ['email_stage'],
  });
}
