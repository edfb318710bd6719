/**
 * A source's property mappings applied to what its identity provider said (authentik's
 * SourceMapper.build_object_properties): the type's base properties first, then each of the source's user (or group)
 * mappings in name order, each dict it returns deep-merged into the properties; None values dropped at the end. A
 * mapping that fails refuses the login (fail closed) and is recorded as a `configuration_error` event naming it.
 */
import type { FastifyRequest } from 'fastify';
import type { JsonObject } from '../expressions/index.js';
import type { Services } from '../services.js';
import { runSourceMapping, type SourceMappingRow } from '../propertymappings/source.js';
import { groupIdentifiers, sourceGroupOf, type SourceGroup } from './groups.js';

export type Mapped = { ok: true; properties: Record<string, unknown> } | { ok: false; mapping: string };

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** authentik's Source.get_user_path: the source's `user_path_template` with its slug (a user's default path) */
export const userPathOf = (s: { slug: string; user_path_template: string }) =>
  (s.user_path_template || 'goauthentik.io/sources/%(slug)s').replace(/%\(slug\)s/g, s.slug);

/** deepmerge's always_merger: dicts merged key by key, lists appended, anything else replaced */
export function deepMerge(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...into };
  for (const [k, v] of Object.entries(from)) {
    const cur = out[k];
    if (isObject(cur) && isObject(v)) out[k] = deepMerge(cur, v);
    else if (Array.isArray(cur) && Array.isArray(v)) out[k] = [...cur, ...v];
    else out[k] = v;
  }
  return out;
}

/** authentik's delete_none_values, recursively */
export function dropNones(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = isObject(v) ? dropNones(v) : v;
  return out;
}

export async function sourceMappings(svc: Services, source: string, kind: 'user' | 'group'): Promise<SourceMappingRow[]> {
  return svc.db
    .selectFrom('source_property_mappings as spm')
    .innerJoin('property_mappings as m', 'm.pm_uuid', 'spm.pm_uuid')
    .select(['m.pm_uuid', 'm.name', 'm.expression'])
    .where('spm.source_uuid', '=', source)
    .where('spm.kind', '=', kind)
    .orderBy('m.name')
    .execute();
}

export async function mapProperties(
  svc: Services,
  req: FastifyRequest,
  source: { source_uuid: string; slug: string; name: string; user_path_template?: string },
  mappings: readonly SourceMappingRow[],
  base: Record<string, unknown>,
  globals: JsonObject,
  /** the source's type, as the failure's event names its models */
  type: 'oauth' | 'scim' | 'saml' | 'telegram' | 'plex' = 'oauth',
): Promise<Mapped> {
  let properties: Record<string, unknown> = { ...base };
  if (!isObject(properties.attributes)) properties.attributes = {};
  for (const m of mappings) {
    const r = await runSourceMapping(svc, m, req, {
      ...globals,
      source: {
        pk: source.source_uuid,
        slug: source.slug,
        name: source.name,
        ...(source.user_path_template !== undefined ? { user_path_template: source.user_path_template } : {}),
      },
      properties: properties as JsonObject,
    }).catch((e: unknown) => ({ ok: false as const, error: e instanceof Error ? e.message : String(e) }));
    if (!r.ok) {
      await svc.events
        .emit('configuration_error', {
          req,
          context: {
            message: `Failed to evaluate property mapping: '${m.name}'`,
            error: r.error,
            source: { app: `authentik_sources_${type}`, model_name: `${type}source`, pk: source.source_uuid, name: source.name },
            mapping: { app: `authentik_sources_${type}`, model_name: `${type}sourcepropertymapping`, pk: m.pm_uuid, name: m.name },
          },
        })
        .catch(() => undefined);
      return { ok: false, mapping: m.name };
    }
    if (isObject(r.value)) properties = deepMerge(properties, r.value);
  }
  return { ok: true, properties: dropNones(properties) };
}

type SourceRef = Parameters<typeof mapProperties>[2];

/**
 * the groups a login names (authentik's SourceFlowManager `groups_properties`): each identifier in the user mappings'
 * `groups`, named by the identifier (or `baseName`), then by the source's group mappings (which see `group_id`)
 */
export async function mapGroups(
  svc: Services,
  req: FastifyRequest,
  source: SourceRef,
  claim: unknown,
  globals: JsonObject,
  type: Parameters<typeof mapProperties>[6],
  baseName: (id: string) => string = (id) => id,
): Promise<{ ok: true; groups: SourceGroup[] } | { ok: false; mapping: string }> {
  const groupMappings = await sourceMappings(svc, source.source_uuid, 'group');
  const groups: SourceGroup[] = [];
  for (const id of groupIdentifiers(claim)) {
    if (!groupMappings.length) {
      groups.push({ id, name: baseName(id) });
      continue;
    }
    const g = await mapProperties(svc, req, source, groupMappings, { name: baseName(id) }, { ...globals, group_id: id }, type);
    if (!g.ok) return g;
    groups.push(sourceGroupOf(id, g.properties));
  }
  return { ok: true, groups };
}
