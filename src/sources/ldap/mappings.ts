/**
 * An LDAP source's property mappings applied to a directory entry (authentik's SourceMapper for LDAPSource): the base
 * properties — `attributes.distinguishedName` and `attributes.ldap_uniq`, a group's `parent` — then each of the
 * source's user (or group) mappings in name order with `ldap` (the entry's attributes, names case-insensitive),
 * `dn`, `source` (with `get_user_path()`) and `properties`; each dict a mapping returns is deep-merged in, None
 * values dropped at the end. A mapping that fails fails the entry (fail closed): the caller records it.
 */
import type { JsonObject } from '../../expressions/index.js';
import type { Services } from '../../services.js';
import { runSourceMapping, type SourceMappingRow } from '../../propertymappings/source.js';
import { deepMerge, dropNones, userPathOf } from '../mappings.js';
import { MANAGED_LDAP_MAPPINGS } from '../../propertymappings/managed.js';

export const LDAP_DISTINGUISHED_NAME = 'distinguishedName';
export const LDAP_UNIQUENESS = 'ldap_uniq';

export interface MappingSource {
  source_uuid: string;
  slug: string;
  name: string;
  user_path_template: string;
}

export type EntryMapped = { ok: true; properties: Record<string, unknown> } | { ok: false; mapping: string; error: string };

type Entry = { dn: string; attributes: Record<string, unknown> };
type Native = (entry: Entry, source: MappingSource) => Record<string, unknown>;

/** `ldap.get(name)`: the attribute, its name case-insensitive (None when absent) */
const get = (e: Entry, name: string): unknown => {
  const lower = name.toLowerCase();
  const k = Object.keys(e.attributes).find((x) => x.toLowerCase() === lower);
  return k === undefined ? null : e.attributes[k];
};
/** the expression runtime's `list_flatten` */
const listFlatten = (v: unknown) => (Array.isArray(v) ? (v.length ? v[0] : null) : v);

/**
 * authentik's nine managed LDAP mappings, run natively when a mapping's text is exactly theirs (the Python runtime
 * is not loaded for a source that uses only them); test/sources/ldap.test.ts checks each against the runtime
 */
const NATIVE = new Map<string, Native>(
  (
    [
      [
        'default-dn-path',
        (e, s) => {
          const parts: string[] = [];
          for (const pair of e.dn.split(',')) {
            const i = pair.indexOf('=');
            const attr = i < 0 ? pair : pair.slice(0, i);
            if (['cn', 'dc'].includes(attr.toLowerCase())) continue;
            parts.push(i < 0 ? '' : pair.slice(i + 1));
          }
          parts.reverse();
          const path = userPathOf(s);
          return { path: parts.length ? `${path}/${parts.join('/')}` : path };
        },
      ],
      ['default-name', (e) => ({ name: get(e, 'name') })],
      ['default-mail', (e) => ({ email: get(e, 'mail') })],
      ['ms-samaccountname', (e) => ({ username: get(e, 'sAMAccountName') })],
      ['ms-userprincipalname', (e) => ({ attributes: { upn: listFlatten(get(e, 'userPrincipalName')) } })],
      ['ms-givenName', (e) => ({ attributes: { givenName: listFlatten(get(e, 'givenName')) } })],
      ['ms-sn', (e) => ({ attributes: { sn: listFlatten(get(e, 'sn')) } })],
      ['openldap-uid', (e) => ({ username: get(e, 'uid') })],
      ['openldap-cn', (e) => ({ name: get(e, 'cn') })],
    ] as [string, Native][]
  ).map(([id, fn]) => [MANAGED_LDAP_MAPPINGS.find((m) => m.managed === `goauthentik.io/sources/ldap/${id}`)!.expression, fn]),
);

export async function mapEntry(
  svc: Services,
  source: MappingSource,
  mappings: readonly SourceMappingRow[],
  entry: Entry,
  base: Record<string, unknown>,
): Promise<EntryMapped> {
  let properties: Record<string, unknown> = base;
  for (const m of mappings) {
    const native = NATIVE.get(m.expression);
    if (native) {
      properties = deepMerge(properties, native(entry, source));
      continue;
    }
    const r = await runSourceMapping(svc, m, undefined, {
      ldap: entry.attributes as JsonObject,
      dn: entry.dn,
      source: { pk: source.source_uuid, slug: source.slug, name: source.name, user_path_template: source.user_path_template },
      properties: properties as JsonObject,
    });
    if (!r.ok) return { ok: false, mapping: m.name, error: r.error };
    const v = r.value;
    if (v && typeof v === 'object' && !Array.isArray(v)) properties = deepMerge(properties, v as Record<string, unknown>);
  }
  return { ok: true, properties: dropNones(properties) };
}
