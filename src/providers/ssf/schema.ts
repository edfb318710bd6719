/**
 * The Shared Signals Framework provider's fields (authentik's SSFProviderSerializer, 2026.8) and list filters, and
 * the event types and delivery methods of its streams (authentik's EventTypes, DeliveryMethods, StreamStatus).
 */
import { Type } from '@sinclair/typebox';
import { sql, type SqlBool } from 'kysely';
import { S } from '../../rest/schema.js';
import { boolFilter, type FilterSpec } from '../../rest/list.js';
import type { ProviderDef } from '../types.js';
import { ssfMigrations } from './migrations.js';

export const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
export const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';

/** every event type a stream may request (the schema's EventsRequestedEnum) */
export const EVENT_TYPES = [
  SESSION_REVOKED,
  'https://schemas.openid.net/secevent/caep/event-type/token-claims-change',
  CREDENTIAL_CHANGE,
  'https://schemas.openid.net/secevent/caep/event-type/assurance-level-change',
  'https://schemas.openid.net/secevent/caep/event-type/device-compliance-change',
  'https://schemas.openid.net/secevent/caep/event-type/session-established',
  'https://schemas.openid.net/secevent/caep/event-type/session-presented',
  'https://schemas.openid.net/secevent/caep/event-type/risk-level-change',
  VERIFICATION,
] as const;
/** the event types Keystage sends (authentik's `events_supported`) */
export const EVENTS_SUPPORTED = [SESSION_REVOKED, CREDENTIAL_CHANGE, VERIFICATION];

export const RISC_PUSH = 'https://schemas.openid.net/secevent/risc/delivery-method/push';
export const RISC_POLL = 'https://schemas.openid.net/secevent/risc/delivery-method/poll';
export const RFC_PUSH = 'urn:ietf:rfc:8935';
export const RFC_POLL = 'urn:ietf:rfc:8936';
export const DELIVERY_METHODS = [RISC_PUSH, RISC_POLL, RFC_PUSH, RFC_POLL] as const;
export const PUSH_METHODS: readonly string[] = [RISC_PUSH, RFC_PUSH];

export const STREAM_STATUSES = ['enabled', 'paused', 'disabled', 'disabled_deleted'] as const;

const computed = (o: Record<string, unknown> = {}) => S.ro(S.text({ 'x-computed': true, ...o }));

const nameIexact: FilterSpec = {
  type: 'custom',
  parse: (values) => {
    const v = values.at(-1);
    if (v === undefined || v === '') return { cond: undefined };
    return { cond: () => sql<SqlBool>`lower(p.name) = ${v.toLowerCase()}` };
  },
};

/** providers no application uses as its main provider (for a backchannel type: all of them) */
const applicationIsnull = boolFilter((none) => (eb) => {
  const used = eb.exists(
    eb
      .selectFrom('applications as a')
      .select(sql`1`.as('one'))
      .whereRef('a.provider', '=', 'p.id' as never),
  );
  return none ? eb.not(used) : used;
});

export const ssfSchema = {
  kind: 'ssfprovider',
  app: 'authentik_providers_ssf',
  model: 'SSFProvider',
  path: 'ssf',
  table: 'provider_ssf',
  component: 'ak-provider-ssf-form',
  verboseName: 'Shared Signals Framework Provider',
  verboseNamePlural: 'Shared Signals Framework Providers',
  description: 'Shared Signals Framework provider to allow applications to receive user events from authentik.',
  iconUrl: '/static/authentik/sources/ssf.svg',
  // (authentik's is an enterprise provider; Keystage asks for no licence, as for every type)
  requiresEnterprise: true,
  // (a stream is added by whoever holds this on the provider: its own service account, or a user of an OAuth2 token)
  permissions: [['add_stream', 'Add stream to SSF provider']],
  backchannelOnly: true,
  omitBase: ['property_mappings', 'assigned_backchannel_application_slug', 'assigned_backchannel_application_name'],
  keyPairColumns: ['signing_key'],
  fields: {
    // (required on writes; null once its key pair is deleted: then nothing is signed or sent)
    signing_key: Type.Unsafe<string | null>({
      type: 'string',
      format: 'uuid',
      'x-ref': { table: 'crypto_certificatekeypairs', column: 'kp_uuid' },
      description: 'Key used to sign the SSF Events.',
    }),
    token_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/Token' }], 'x-computed': true })),
    oidc_auth_providers: S.list(Type.Integer(), { default: [], 'x-m2m-table': true }),
    oidc_auth_providers_obj: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/Provider' }), { 'x-computed': true })),
    ssf_url: S.nullable(computed()),
    event_retention: S.duration({ default: 'days=30' }),
    push_verify_certificates: S.bool({ default: true }),
  },
  filters: { application__isnull: applicationIsnull, name__iexact: nameIexact },
  migrations: ssfMigrations,
} satisfies Omit<ProviderDef, 'validate'>;
