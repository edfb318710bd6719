/**
 * `/admin/settings/` (authentik's SettingsView): GET with `authentik_rbac.view_system_settings`, PUT and PATCH with
 * `authentik_rbac.edit_system_settings` (superusers hold both). Validation as authentik's SettingsSerializer
 * (durations, the reputation limits' signs, flags of the wrong type), plus Keystage's own: footer links are
 * `{name, href}` with an http(s) or relative href (they are rendered on every flow page), avatar modes are the ones
 * Keystage draws (avatars.ts), and `base_url` is `KEYSTAGE_EXTERNAL_URL`, read at start: a request changing it is
 * refused rather than stored without effect. Every change is one statement and a `model_updated` event.
 */
import type { FastifyRequest } from 'fastify';
import type { ApiRouter } from '../../rest/routes.js';
import type { Services } from '../../services.js';
import { requirePermission } from '../../rbac/check.js';
import { ValidationError } from '../../rest/errors.js';
import { S, type Props } from '../../rest/schema.js';
import { validateBody } from '../../rest/validate.js';
import { avatarModeError } from '../../users/avatar.js';
import { changeSystemSettings, FLAG_DEFAULTS, type Flags, type FooterLink, type SystemSettings, systemSettings } from './store.js';

const props: Props = {
  avatars: S.str({ description: 'Configure how authentik should show avatars for users.' }),
  base_url: S.text({
    maxLength: 200,
    description: 'Configure the base URL under which this authentik instance is reachable, e.g. https://authentik.company',
  }),
  default_user_change_name: S.bool({ description: 'Enable the ability for users to change their name.' }),
  default_user_change_email: S.bool({ description: 'Enable the ability for users to change their email address.' }),
  default_user_change_username: S.bool({ description: 'Enable the ability for users to change their username.' }),
  event_retention: S.duration({
    description: 'Events will be deleted after this duration.(Format: weeks=3;days=2;hours=3,seconds=2).',
  }),
  reputation_lower_limit: S.int({ maximum: 0, description: 'Reputation cannot decrease lower than this value. Zero or negative.' }),
  reputation_upper_limit: S.int({ minimum: 0, description: 'Reputation cannot increase higher than this value. Zero or positive.' }),
  footer_links: S.list(S.obj()),
  gdpr_compliance: S.bool({
    description: "When enabled, all the events caused by a user will be deleted upon the user's deletion.",
  }),
  impersonation: S.bool({ description: 'Globally enable/disable impersonation.' }),
  impersonation_require_reason: S.bool({ description: 'Require administrators to provide a reason for impersonating a user.' }),
  default_token_duration: S.duration({ description: 'Default token duration' }),
  default_token_length: S.int({ minimum: 1, description: 'Default token length' }),
  pagination_default_page_size: S.int({ minimum: 0, description: 'Default page size for API responses, if no size was requested.' }),
  pagination_max_page_size: S.int({ minimum: 0, description: 'Maximum page size' }),
  flags: S.obj(),
};
const optional = Object.fromEntries(
  Object.entries(props).map(([k, s]) => [k, k === 'flags' ? s : { ...s, 'x-optional': true, default: undefined }]),
) as Props;

const SAFE_HREF = /^(https?:\/\/|\/(?!\/))/i;

function footerLinks(raw: unknown): FooterLink[] {
  const fail = (m: string) => {
    throw ValidationError.field('footer_links', m);
  };
  if (!Array.isArray(raw)) return fail('Expected a list of {"name", "href"} links.');
  return raw.map((l) => {
    const o = (l ?? {}) as Record<string, unknown>;
    if (typeof o.name !== 'string' || typeof o.href !== 'string' || !o.name.trim()) return fail('Each link needs a "name" and an "href".');
    if (!SAFE_HREF.test(o.href)) return fail(`"${o.href}" is not an http(s) or relative link.`);
    return { name: o.name, href: o.href };
  });
}

function flags(raw: unknown): Flags {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw ValidationError.field('flags', 'Expected a dictionary of items.');
  const out = { ...FLAG_DEFAULTS };
  for (const key of Object.keys(FLAG_DEFAULTS) as (keyof Flags)[]) {
    const v = (raw as Record<string, unknown>)[key];
    if (v === undefined || v === null) continue;
    // (authentik's FlagJSONField: a falsy value of another type is let through as the flag's "off")
    if (typeof v !== 'boolean') {
      if (!v) out[key] = false;
      else throw ValidationError.field('flags', `Value for flag ${key} needs to be of type bool.`);
    } else out[key] = v;
  }
  return out;
}

function render(s: SystemSettings, svc: Services) {
  return { ...s, base_url: svc.config.externalUrl ? svc.config.externalUrl.href.replace(/\/+$/, '') : '' };
}

async function update(svc: Services, req: FastifyRequest, partial: boolean) {
  const caller = await requirePermission(svc.db, req, 'authentik_rbac.edit_system_settings');
  const data = await validateBody(partial ? optional : { ...optional, flags: props.flags! }, req.body, {
    mode: partial ? 'partial' : 'update',
    db: svc.db,
  });
  const written = await changeSystemSettings(svc.db, (current) => {
    const next: SystemSettings = structuredClone(current) as SystemSettings;
    for (const [key, value] of Object.entries(data)) {
      if (value === undefined) continue;
      if (key === 'base_url') {
        const now = render(current, svc).base_url;
        if (String(value).replace(/\/+$/, '') !== now)
          throw ValidationError.field('base_url', 'Set by KEYSTAGE_EXTERNAL_URL, which is read at start: change it there.');
        continue;
      }
      if (key === 'footer_links') next.footer_links = footerLinks(value);
      // (the flags sent replace the stored ones, as authentik's JSON field: a flag left out takes its default)
      else if (key === 'flags') next.flags = flags(value);
      else (next as unknown as Record<string, unknown>)[key] = value;
    }
    const avatarError = avatarModeError(next.avatars);
    if (avatarError) throw ValidationError.field('avatars', avatarError);
    return next;
  });
  await svc.events.emit('model_updated', {
    user: { pk: caller.user.id, username: caller.user.username, email: caller.user.email },
    req,
    context: { model: { app: 'authentik_tenants', model_name: 'tenant', pk: 'default', name: 'Default' } },
  });
  return render(written, svc);
}

export function mountSystemSettings(router: ApiRouter, svc: Services) {
  const component = (required: string[]) => ({
    type: 'object',
    description: 'Settings Serializer',
    properties: Object.fromEntries(
      Object.entries(props).map(([k, s]) => {
        const { 'x-json': _j, 'x-duration': _d, default: _f, ...json } = s as Record<string, unknown>;
        if (k === 'flags')
          return [
            k,
            {
              type: 'object',
              properties: Object.fromEntries(Object.keys(FLAG_DEFAULTS).map((f) => [f, { type: 'boolean' }])),
              required: Object.keys(FLAG_DEFAULTS),
            },
          ];
        if (k === 'footer_links') return [k, {}];
        return [k, json];
      }),
    ),
    required,
  });
  router.component('Settings', component(['flags']));
  router.component('SettingsRequest', component(['flags']));
  router.component('PatchedSettingsRequest', component([]));
  router.route('/admin/settings', {
    get: {
      doc: { operationId: 'admin_settings_retrieve', tag: 'admin', response: 'Settings' },
      handler: async (req) => {
        await requirePermission(svc.db, req, 'authentik_rbac.view_system_settings');
        return render(await systemSettings(svc.db), svc);
      },
    },
    put: {
      doc: { operationId: 'admin_settings_update', tag: 'admin', body: 'SettingsRequest', bodyRequired: true, response: 'Settings' },
      handler: (req) => update(svc, req, false),
    },
    patch: {
      doc: { operationId: 'admin_settings_partial_update', tag: 'admin', body: 'PatchedSettingsRequest', response: 'Settings' },
      handler: (req) => update(svc, req, true),
    },
  });
}
