/**
 * The assertion's attributes from the provider's SAML mappings (authentik's AssertionProcessor.get_attributes), the
 * NameID and AuthnContextClassRef mappings' values. authentik's managed texts run natively while unchanged; any other
 * text is authentik's Python (src/expressions/), with `request`, `user` and `provider`. A mapping that fails is left
 * out and recorded as authentik records it (a `configuration_error` event naming the mapping and the provider).
 */
import { pyStr } from '../../expressions/py-str.js';
import type {} from '../../propertymappings/table.js';
import type { FastifyRequest } from 'fastify';
import { cachedAdminData } from '../../db/admin-cache.js';
import type { DB } from '../../db/index.js';
import type { UsersTable } from '../../db/types.js';
import type { Services } from '../../services.js';
import { normalise, runMapping, type MappingResult } from '../../propertymappings/scope.js';
import type { SamlProvider } from './config.js';
import { SAML_EMAIL, SAML_GROUPS, SAML_NAME, SAML_UID, SAML_UPN, SAML_USERNAME } from './managed.js';

export interface SamlMapping {
  pm_uuid: string;
  name: string;
  expression: string;
  saml_name: string;
  friendly_name: string | null;
}

export interface SamlAttribute {
  Name: string;
  FriendlyName?: string;
  values: string[];
}

export interface SamlCall {
  user: UsersTable;
  request?: FastifyRequest;
  provider: SamlProvider;
}

function loadMappings(db: DB, ids: string[]): Promise<SamlMapping[]> {
  return db
    .selectFrom('property_mappings as m')
    .innerJoin('property_mapping_saml as s', 's.pm_uuid', 'm.pm_uuid')
    .select(['m.pm_uuid', 'm.name', 'm.expression', 's.saml_name', 's.friendly_name'])
    .where('m.pm_uuid', 'in', ids)
    .orderBy('s.saml_name')
    .orderBy('m.name')
    .execute();
}

/** the SAML mappings among the provider's property mappings, by SAML name (authentik's order) */
export function samlMappingsOf(svc: Pick<Services, 'db'>, provider: SamlProvider): Promise<SamlMapping[]> {
  const ids = provider.property_mappings;
  if (!ids.length) return Promise.resolve([]);
  return cachedAdminData(svc.db, `saml:mappings:${ids.join(',')}`, () => loadMappings(svc.db, ids));
}

export async function samlMappingById(svc: Pick<Services, 'db'>, id: string): Promise<SamlMapping | undefined> {
  return (await cachedAdminData(svc.db, `saml:mapping:${id}`, () => loadMappings(svc.db, [id])))[0];
}

type Native = (db: DB, user: UsersTable) => Promise<unknown> | unknown;

const attributesOf = (u: UsersTable): Record<string, unknown> => {
  try {
    return JSON.parse(u.attributes || '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
};

async function directGroupNames(db: DB, userId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('user_groups as ug')
    .innerJoin('groups as g', 'g.group_uuid', 'ug.group_uuid')
    .select('g.name')
    .where('ug.user_id', '=', userId)
    .orderBy('g.name')
    .execute();
  return rows.map((r) => r.name);
}

const NATIVE = new Map<string, Native>([
  [
    normalise(SAML_UPN),
    (_db, u) => {
      const a = attributesOf(u);
      return 'upn' in a ? a.upn : u.email;
    },
  ],
  [normalise(SAML_NAME), (_db, u) => u.name],
  [normalise(SAML_EMAIL), (_db, u) => u.email],
  [normalise(SAML_USERNAME), (_db, u) => u.username],
  [normalise(SAML_UID), (_db, u) => u.id],
  [normalise(SAML_GROUPS), (db, u) => directGroupNames(db, u.id)],
]);

/** a mapping's value for a user: native for authentik's managed texts, else the Python runtime */
export async function runSamlMapping(
  svc: Services,
  mapping: Pick<SamlMapping, 'name' | 'expression'>,
  call: SamlCall,
): Promise<MappingResult> {
  const native = NATIVE.get(normalise(mapping.expression));
  if (native) return { ok: true, value: await native(svc.db, call.user) };
  try {
    return await runMapping(svc, mapping, {
      user: call.user,
      request: call.request,
      provider: { id: call.provider.id, name: call.provider.name, application: call.provider.application },
    });
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** authentik's CONFIGURATION_ERROR event for a mapping that failed */
async function mappingFailed(svc: Services, mapping: Pick<SamlMapping, 'pm_uuid' | 'name'>, call: SamlCall, error: string) {
  try {
    await svc.events.emit('configuration_error', {
      user: { pk: call.user.id, username: call.user.username, email: call.user.email },
      req: call.request,
      context: {
        message: `Failed to evaluate property-mapping: '${mapping.name}'`,
        error,
        provider: { app: 'authentik_providers_saml', model_name: 'samlprovider', pk: call.provider.id, name: call.provider.name },
        mapping: { app: 'authentik_providers_saml', model_name: 'samlpropertymapping', pk: mapping.pm_uuid, name: mapping.name },
      },
    });
  } catch {
    // the event log being unwritable does not change the assertion (the mapping is left out)
  }
}

/** the value of one mapping, or undefined when it failed (recorded) */
export async function mappingValue(svc: Services, mapping: SamlMapping, call: SamlCall): Promise<{ value: unknown } | undefined> {
  const r = await runSamlMapping(svc, mapping, call);
  if (r.ok) return { value: r.value };
  await mappingFailed(svc, mapping, call, r.error);
  return undefined;
}

/** the assertion's attributes: one per mapping with a value (null leaves it out), lists as several values */
export async function attributesFor(svc: Services, call: SamlCall): Promise<SamlAttribute[]> {
  const out: SamlAttribute[] = [];
  for (const mapping of await samlMappingsOf(svc, call.provider)) {
    const r = await mappingValue(svc, mapping, call);
    if (!r || r.value === null || r.value === undefined) continue;
    const values = Array.isArray(r.value) ? r.value : [r.value];
    out.push({
      ...(mapping.friendly_name ? { FriendlyName: mapping.friendly_name } : {}),
      Name: mapping.saml_name,
      values: values.map(pyStr),
    });
  }
  return out;
}
