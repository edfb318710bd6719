/**
 * An LDAP source's property mappings applied to a directory entry (authentik's SourceMapper for LDAPSource): the base
 * properties — `attributes.distinguishedName` and `attributes.ldap_uniq`, a group's `parent` — then each of the
 * source's user (or group) mappings in name order with `ldap` (the entry's attributes, names case-insensitive),
 * `dn`, `source` (with `get_user_path()`) and `properties`; each dict a mapping returns is deep-merged in, None
 * values dropped at the end. A mapping that fails fails the entry (fail closed): the caller records it.
 */
import { evaluate, type JsonObject } from '../../expressions/index.js';
import type { Services } from '../../services.js';
import { mappingHost, type LooseMappingCall } from '../../propertymappings/scope.js';
import type { SourceMappingRow } from '../../propertymappings/source.js';
import { deepMerge, dropNones } from '../mappings.js';

export const LDAP_DISTINGUISHED_NAME = 'distinguishedName';
export const LDAP_UNIQUENESS = 'ldap_uniq';

export interface MappingSource {
  source_uuid: string;
  slug: string;
  name: string;
  user_path_template: string;
}

export type EntryMapped = { ok: true; properties: Record<string, unknown> } | { ok: false; mapping: string; error: string };

export async function mapEntry(
  svc: Services,
  source: MappingSource,
  mappings: readonly SourceMappingRow[],
  entry: { dn: string; attributes: Record<string, unknown> },
  base: Record<string, unknown>,
): Promise<EntryMapped> {
  let properties: Record<string, unknown> = base;
  const host = mappingHost(svc, { provider: { id: 0, name: '' } } as unknown as LooseMappingCall);
  for (const m of mappings) {
    const r = await evaluate({
      source: m.expression,
      globals: {
        ldap: entry.attributes as JsonObject,
        dn: entry.dn,
        source: { pk: source.source_uuid, slug: source.slug, name: source.name, user_path_template: source.user_path_template },
        properties: properties as JsonObject,
        user: null,
        request: null,
      },
      host,
      timeoutMs: 30_000,
      filename: m.name,
    });
    if (!r.ok) return { ok: false, mapping: m.name, error: r.exception ? `${r.exception.type}: ${r.exception.message}` : r.error };
    const v = r.value;
    if (v && typeof v === 'object' && !Array.isArray(v)) properties = deepMerge(properties, v as Record<string, unknown>);
  }
  return { ok: true, properties: dropNones(properties) };
}
