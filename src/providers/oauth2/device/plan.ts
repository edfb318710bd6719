/**
 * A typed user code becomes an authorization (authentik's `validate_code`): the code's provider's authorization flow
 * is planned for the person with authentik's consent context, and the approval stage (device-code-finish) is put at
 * its end with the code it approves in its state. Undefined when the code is unknown, approved or expired, the
 * provider has no application, or the flow does not apply to the person — all read as "Invalid code".
 */
import { planApplication } from '../../../flows/engine/context.js';
import type { FastifyRequest } from 'fastify';
import type { FlowsTable, UsersTable } from '../../../db/types.js';
import type { Plan } from '../../../flows/engine/plan.js';
import { planFlow } from '../../../flows/engine/planner.js';
import { isSuperuser } from '../../../rest/auth.js';
import type { Services } from '../../../services.js';
import { oauth2ProviderById } from '../config.js';
import { GRANT_TYPE_DEVICE_CODE } from '../protocol/constants.js';
import { parseScope } from '../protocol/scopes.js';
import { applicationAllows } from '../../../applications/access.js';
import { permissionsOf } from '../endpoints/authorize.js';
import { DEVICE_FINISH, inMemoryBinding } from '../stages/in-memory.js';
import { findPendingUserCode } from './store.js';

/** the state the approval stage reads */
export interface FinishState {
  device?: number;
}

export async function planDeviceAuthorization(
  svc: Services,
  userCode: string,
  user: UsersTable | undefined,
  req: FastifyRequest,
): Promise<{ plan: Plan; slug: string } | undefined> {
  if (!/^\d{1,16}$/.test(userCode.trim())) return undefined;
  const token = await findPendingUserCode(svc.db, userCode.trim());
  if (!token) return undefined;
  const provider = await oauth2ProviderById(svc, token.provider_id);
  const app = provider?.application;
  if (!provider || !app) return undefined;
  const flow = (await svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', provider.authorization_flow).executeTakeFirst()) as
    | FlowsTable
    | undefined;
  if (!flow) return undefined;
  const scope = parseScope(token.scope);
  if (user) {
    const access = await applicationAllows(svc, provider, user, req, {
      oauth_scopes: [...scope],
      oauth_grant_type: GRANT_TYPE_DEVICE_CODE,
    });
    if (!access.passing) return undefined;
  }
  const context = {
    ...(user ? { pendingUser: { id: user.id, username: user.username, email: user.email, name: user.name } } : {}),
    application: planApplication(app),
    consent_header: `You're about to sign into ${app.name}.`,
    consent_permissions: await permissionsOf(svc, provider, scope),
    stages: { [DEVICE_FINISH.stage]: { device: token.id } satisfies FinishState },
  };
  const requester = { user, superuser: user ? await isSuperuser(svc.db, user.id) : false };
  const r = await planFlow(svc, flow, requester, context, { req });
  if (r.type === 'not_applicable') return undefined;
  const plan: Plan = r.type === 'plan' ? r.plan : { flow_uuid: flow.flow_uuid, bindings: [], context };
  plan.bindings.push(inMemoryBinding(DEVICE_FINISH));
  return { plan, slug: flow.slug };
}
