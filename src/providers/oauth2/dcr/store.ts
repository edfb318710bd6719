/** A provider's dynamic client registration settings as the protocol reads them (cached with the configuration). */
import type {} from './table.js';
import { cachedAdminData } from '../../../db/admin-cache.js';
import type { Services } from '../../../services.js';

export interface DcrSettings {
  pbm_uuid: string;
  default_application_group: string;
  override_authorization_flow: string | null;
  override_invalidation_flow: string | null;
  override_property_mappings: string[];
  access_token_validity: string;
  refresh_token_validity: string;
  allowed_grant_types: string[];
  policy_engine_mode: 'any' | 'all';
}

const strings = (text: string): string[] => {
  try {
    const v = JSON.parse(text || '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
};

/** the settings of the provider `providerId`, or null when registration is off for it */
export function dcrOf(svc: Pick<Services, 'db'>, providerId: number): Promise<DcrSettings | null> {
  return cachedAdminData(svc.db, `oauth2:dcr:${providerId}`, async () => {
    const r = await svc.db.selectFrom('provider_oauth2_dcr').selectAll().where('provider_id', '=', providerId).executeTakeFirst();
    if (!r) return null;
    return {
      pbm_uuid: r.pbm_uuid,
      default_application_group: r.default_application_group,
      override_authorization_flow: r.override_authorization_flow,
      override_invalidation_flow: r.override_invalidation_flow,
      override_property_mappings: strings(r.override_property_mappings),
      access_token_validity: r.access_token_validity,
      refresh_token_validity: r.refresh_token_validity,
      allowed_grant_types: strings(r.allowed_grant_types),
      policy_engine_mode: r.policy_engine_mode === 'all' ? 'all' : 'any',
    };
  });
}

/** the registration endpoint of the application `slug` */
export const registrationUrl = (base: string, slug: string) => `${base}/application/o/${slug}/register/`;
