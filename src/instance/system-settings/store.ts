/**
 * authentik's system settings (its Tenant: `/admin/settings/`), one row of `instance_settings` shared by every node
 * and kept in the admin cache (a configuration table: a change applies at once on every node). A first start seeds
 * the row from the configuration — the environment variables that set these before the API existed
 * (`KEYSTAGE_IMPERSONATION`, `KEYSTAGE_EVENT_RETENTION_DAYS`, `KEYSTAGE_REPUTATION_*_LIMIT`,
 * `KEYSTAGE_DEFAULT_USER_CHANGE_*`) — and authentik's defaults; from then on the row holds (the API changes it).
 */
import type { DB } from '../../db/index.js';
import type { Config } from '../../config.js';
import { cachedAdminData, invalidateAdminCache } from '../../db/admin-cache.js';
import { parseDuration } from '../../rest/duration.js';

export interface FooterLink {
  name: string;
  href: string;
}

export interface Flags {
  core_default_app_access: boolean;
  enterprise_audit_include_expanded_diff: boolean;
  flows_continuous_login: boolean;
  flows_refresh_others: boolean;
}

export interface SystemSettings {
  avatars: string;
  default_user_change_name: boolean;
  default_user_change_email: boolean;
  default_user_change_username: boolean;
  event_retention: string;
  reputation_lower_limit: number;
  reputation_upper_limit: number;
  footer_links: FooterLink[];
  gdpr_compliance: boolean;
  impersonation: boolean;
  impersonation_require_reason: boolean;
  default_token_duration: string;
  default_token_length: number;
  pagination_default_page_size: number;
  pagination_max_page_size: number;
  flags: Flags;
}

/** authentik's flags and their defaults (`Flag` subclasses) */
export const FLAG_DEFAULTS: Flags = {
  core_default_app_access: true,
  enterprise_audit_include_expanded_diff: false,
  flows_continuous_login: false,
  flows_refresh_others: false,
};

/** authentik's Tenant defaults, with the configuration's values where it sets them */
export function defaultSettings(config?: Config): SystemSettings {
  return {
    // (authentik's default is "gravatar,initials"; Keystage asks no third party unless told to)
    avatars: 'initials',
    default_user_change_name: config?.defaultUserChange.name ?? true,
    default_user_change_email: config?.defaultUserChange.email ?? false,
    default_user_change_username: config?.defaultUserChange.username ?? false,
    event_retention: config ? `days=${Math.round(config.eventRetentionMs / 86_400_000)}` : 'days=365',
    reputation_lower_limit: config?.reputation.lowerLimit ?? -5,
    reputation_upper_limit: config?.reputation.upperLimit ?? 5,
    footer_links: [],
    gdpr_compliance: true,
    impersonation: config?.impersonation.enabled ?? true,
    impersonation_require_reason: config?.impersonation.requireReason ?? true,
    default_token_duration: 'days=1',
    default_token_length: 60,
    pagination_default_page_size: 20,
    pagination_max_page_size: 100,
    flags: { ...FLAG_DEFAULTS },
  };
}

const FALLBACK = Object.freeze(defaultSettings());

/** what the row holds over the defaults (a setting added since the row was written takes its default) */
function parse(data: string | undefined): SystemSettings {
  if (!data) return FALLBACK;
  try {
    const stored = JSON.parse(data) as Partial<SystemSettings>;
    return { ...FALLBACK, ...stored, flags: { ...FLAG_DEFAULTS, ...(stored.flags ?? {}) } };
  } catch {
    return FALLBACK;
  }
}

/** the row, created from the configuration if there is none (at every start; nodes starting together: one wins) */
export async function seedSystemSettings(db: DB, config: Config): Promise<void> {
  await db
    .insertInto('instance_settings')
    .values({ id: 1, data: JSON.stringify(defaultSettings(config)) })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** the settings in effect (kept until the next configuration write) */
export function systemSettings(db: DB): Promise<SystemSettings> {
  return cachedAdminData(db, 'system-settings', async () =>
    parse((await db.selectFrom('instance_settings').select('data').where('id', '=', 1).executeTakeFirst())?.data),
  );
}

/**
 * Changes the settings by `change` (which may throw, e.g. a validation error): read, changed and written back only if
 * the row still holds what was read (compare-and-set), else again from the new row — so two changes at once both
 * hold (one request's fields are not overwritten with what another read before). The settings as written.
 */
export async function changeSystemSettings(db: DB, change: (current: SystemSettings) => SystemSettings): Promise<SystemSettings> {
  for (let attempt = 0; ; attempt++) {
    const row = await db.selectFrom('instance_settings').select('data').where('id', '=', 1).executeTakeFirst();
    const next = change(parse(row?.data));
    const data = JSON.stringify(next);
    const r = row
      ? await db.updateTable('instance_settings').set({ data }).where('id', '=', 1).where('data', '=', row.data).executeTakeFirst()
      : await db
          .insertInto('instance_settings')
          .values({ id: 1, data })
          .onConflict((oc) => oc.column('id').doNothing())
          .executeTakeFirst();
    const written = 'numUpdatedRows' in r ? Number(r.numUpdatedRows) : Number(r.numInsertedOrUpdatedRows ?? 0);
    if (written === 1) {
      // (this request's later reads see the change too, not only the next request's)
      invalidateAdminCache(db);
      return next;
    }
    if (attempt >= 20) throw new Error('system settings: the row kept changing');
  }
}

/** a duration setting in milliseconds (the value was validated when written; a bad one falls back to `fallbackMs`) */
export const durationMs = (value: string, fallbackMs: number): number => parseDuration(value) ?? fallbackMs;

declare module '../../db/types.js' {
  interface Database {
    instance_settings: { id: number; data: string };
  }
}
