/**
 * POST /stages/authenticator/duo/{stage_uuid}/enrollment_status/ (authentik's `enrollment_status`, open to anyone):
 * what Duo says of the activation the request's session is waiting for at this stage — `success`, `waiting` or
 * `invalid` — so a page can poll instead of asking the person to press a button. The enrolment is the stage's state
 * in the session's flow plan (stage.ts); a session without one at this stage is a 400 with no body, as authentik's.
 * Read only: the device is saved when the flow's response passes the stage.
 */
import type { ApiRouter } from '../../rest/routes.js';
import { EmptyBadRequest, NotFound, ServiceUnavailable } from '../../rest/errors.js';
import { isUuid, normalizeUuid } from '../../rest/validate.js';
import type { Services } from '../../flows/engine/runtime.js';
import { duoCall } from '../../mfa/duo/duo-api.js';
import type { DuoStageConfig, DuoSetupState } from './stage.js';

export function mountDuoEnrollmentStatus(router: ApiRouter, svc: Services) {
  router.component('DuoDeviceEnrollmentStatus', {
    type: 'object',
    properties: { duo_response: { $ref: '#/components/schemas/DuoResponseEnum' } },
    required: ['duo_response'],
  });
  router.component('DuoResponseEnum', { enum: ['success', 'waiting', 'invalid'], type: 'string' });
  router.route(
    '/stages/authenticator/duo/{stage_uuid}/enrollment_status',
    {
      post: {
        doc: { operationId: 'stages_authenticator_duo_enrollment_status_create', tag: 'stages', response: 'DuoDeviceEnrollmentStatus' },
        handler: async (req) => {
          const raw = (req.params as { stage_uuid: string }).stage_uuid;
          const id = isUuid(raw) ? normalizeUuid(raw) : undefined;
          const config = id ? await svc.stageConfig<DuoStageConfig>('authenticatorduostage', id) : undefined;
          if (!id || !config) throw NotFound.model('AuthenticatorDuoStage');
          const session = await svc.sessions.load(req);
          const state = session.data.plan?.context.stages?.[id] as DuoSetupState | undefined;
          const e = state?.enrolment;
          if (!e) throw new EmptyBadRequest();
          let status: string;
          try {
            status = await duoCall<string>(config, '/auth/v2/enroll_status', { user_id: e.user_id, activation_code: e.activation_code });
          } catch (err) {
            req.log.warn({ err }, 'Duo enroll_status failed');
            throw new ServiceUnavailable('Duo could not be reached; try again shortly.');
          }
          return { duo_response: status === 'success' || status === 'invalid' ? status : 'waiting' };
        },
      },
    },
    [{ name: 'stage_uuid', schema: { type: 'string', format: 'uuid' } }],
  );
}
