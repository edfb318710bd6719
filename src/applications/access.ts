/**
 * Does a provider's application let this user in? (authentik's PolicyEngine on the Application, no cache): what every
 * provider type asks before it signs someone into its application.
 */
import { systemSettings } from '../instance/system-settings/store.js';
import type { FastifyRequest } from 'fastify';
import type { UsersTable } from '../db/types.js';
import { applicationPolicyObject } from './policy-object.js';
import { httpOf } from '../policies/request.js';
import type { Services } from '../services.js';

/** a provider's application as the protocols read it */
export interface ProviderApplication {
  slug: string;
  name: string;
  pbm_uuid: string;
  policy_engine_mode: 'any' | 'all';
}

/** the application as authentik names it in policy requests and events */
export const applicationRef = (app: ProviderApplication) => ({
  app: 'authentik_core',
  model_name: 'application',
  pk: app.pbm_uuid,
  name: app.name,
});

/**
 * the application's policies for `user` with the OAuth context (`oauth_scopes`, `oauth_grant_type`, …); an
 * application without bindings passes (as the engine answers) without building the policy request
 */
export async function applicationAllows(
  svc: Services,
  provider: { application: ProviderApplication | null },
  user: UsersTable | undefined,
  /** none for background work (a SCIM provider's sync) */
  req: FastifyRequest | undefined,
  context: Record<string, unknown>,
): Promise<{ passing: boolean; messages: string[] }> {
  const app = provider.application;
  if (!app) return { passing: false, messages: [] };
  // (no bindings: the system settings' flag `core_default_app_access` decides, as for applicationAccess)
  if (!(await svc.policies.hasBindings(app.pbm_uuid)))
    return { passing: (await systemSettings(svc.db)).flags.core_default_app_access, messages: [] };
  const verdict = await svc.policies.check({
    target: app.pbm_uuid,
    mode: app.policy_engine_mode,
    request: { user, ...(req ? { http: httpOf(req) } : {}), obj: applicationPolicyObject(app), context, debug: false },
  });
  return { passing: verdict.passing, messages: verdict.messages };
}
