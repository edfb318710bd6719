/**
 * A local user or group as the SCIM resource Keystage writes (authentik's to_schema): the provider's user (or group)
 * mappings in name order, each a dict deep-merged into the last (lists appended), None values dropped, the core
 * schema first and `externalId` defaulting to the user's uid (the group's pk). authentik's managed texts run natively
 * while unchanged; others are authentik's Python with `request`, `user` (or `group`), `provider` and `connection`. A
 * mapping that fails stops this object's sync with authentik's `configuration_error` event.
 */
import type {} from '../../propertymappings/table.js';
import type { DB } from '../../db/index.js';
import type { GroupsTable, UsersTable } from '../../db/types.js';
import type { Services } from '../../services.js';
import { normalise, runMapping } from '../../propertymappings/scope.js';
import { avatarOf } from '../../users/avatar.js';
import { uidOf } from '../../users/render.js';
import { systemSettings } from '../../instance/system-settings/store.js';
import { GROUP_SCHEMA, type Json, USER_SCHEMA } from './client.js';
import type { ScimProvider } from './config.js';
import { SCIM_GROUP_MAPPING, SCIM_USER_MAPPING } from './managed.js';

/** the object could not be synced (its message goes to the sync's messages) */
export class StopSync extends Error {}

interface Mapping {
  pm_uuid: string;
  name: string;
  expression: string;
}

function mappingsOf(db: DB, ids: string[]): Promise<Mapping[]> {
  if (!ids.length) return Promise.resolve([]);
  return db
    .selectFrom('property_mappings')
    .select(['pm_uuid', 'name', 'expression'])
    .where('pm_uuid', 'in', ids)
    .where('kind', '=', 'scimmapping')
    .orderBy('name')
    .execute();
}

const parse = (s: string): Json => {
  try {
    const v = JSON.parse(s || '{}') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
  } catch {
    return {};
  }
};

async function avatarFor(svc: Services, u: UsersTable): Promise<string> {
  return avatarOf({ ...u, attributes: parse(u.attributes) }, (await systemSettings(svc.db)).avatars);
}

async function nativeUser(svc: Services, u: UsersTable): Promise<Json> {
  const attributes = parse(u.attributes);
  const name = u.name ?? '';
  const space = name.indexOf(' ');
  const [givenName, familyName] = space >= 0 ? [name.slice(0, space), name.slice(space + 1)] : [name, ''];
  const avatar = await avatarFor(svc, u);
  const settings = attributes.settings && typeof attributes.settings === 'object' ? (attributes.settings as Json) : {};
  const locale = typeof settings.locale === 'string' && settings.locale !== '' ? settings.locale : null;
  return {
    userName: u.username,
    name: { formatted: name, givenName, familyName },
    displayName: name,
    photos: avatar.includes('://') ? [{ value: avatar, type: 'photo' }] : [],
    locale,
    active: Boolean(u.is_active),
    emails: u.email ? [{ value: u.email, type: 'other', primary: true }] : [],
  };
}

/** deepmerge's always_merger: dicts merged key by key, lists appended, anything else replaced */
export function alwaysMerge(into: Json, value: Json): Json {
  for (const [k, v] of Object.entries(value)) {
    const have = into[k];
    if (Array.isArray(have) && Array.isArray(v)) into[k] = [...have, ...v];
    else if (have && v && typeof have === 'object' && typeof v === 'object' && !Array.isArray(have) && !Array.isArray(v))
      into[k] = alwaysMerge({ ...(have as Json) }, v as Json);
    else into[k] = v;
  }
  return into;
}

/** authentik's delete_none_values: None dropped from dicts, recursively */
export function deleteNone(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(deleteNone);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v as Json)
        .filter(([, x]) => x !== null && x !== undefined)
        .map(([k, x]) => [k, deleteNone(x)]),
    );
  return v;
}

async function failed(svc: Services, provider: ScimProvider, mapping: Mapping, error: string) {
  try {
    await svc.events.emit('configuration_error', {
      context: {
        message: 'Failed to evaluate property-mapping',
        error,
        mapping: { app: 'authentik_providers_scim', model_name: 'scimmapping', pk: mapping.pm_uuid, name: mapping.name },
        provider: { app: 'authentik_providers_scim', model_name: 'scimprovider', pk: provider.id, name: provider.name },
      },
    });
  } catch {
    // the event log being unwritable does not change the outcome (the object is not synced)
  }
}

async function evaluate(
  svc: Services,
  provider: ScimProvider,
  ids: string[],
  native: { text: string; run: () => Promise<Json> | Json },
  call: { user?: UsersTable; userExtra?: Json; extra: Json },
  label: string,
): Promise<Json> {
  const out: Json = {};
  for (const m of await mappingsOf(svc.db, ids)) {
    let value: unknown;
    if (normalise(m.expression) === normalise(native.text)) value = await native.run();
    else {
      let r: Awaited<ReturnType<typeof runMapping>>;
      try {
        r = await runMapping(
          svc,
          m,
          {
            ...(call.user ? { user: call.user, userExtra: call.userExtra } : {}),
            provider: { id: provider.id, name: provider.name, application: null },
          } as never,
          30_000,
          call.extra,
        );
      } catch (e) {
        r = { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      if (!r.ok) {
        await failed(svc, provider, m, r.error);
        throw new StopSync(`Failed to evaluate property-mapping '${m.name}' for ${label}: ${r.error}`);
      }
      value = r.value;
    }
    if (value && typeof value === 'object' && !Array.isArray(value)) alwaysMerge(out, value as Json);
  }
  if (!Object.keys(out).length) throw new StopSync(`No mappings configured for ${label}`);
  return deleteNone(out) as Json;
}

const withSchema = (o: Json, schema: string): Json => {
  const schemas = Array.isArray(o.schemas) ? (o.schemas as unknown[]).map(String) : [];
  return { ...o, schemas: schemas.includes(schema) ? schemas : [schema, ...schemas] };
};

/** the SCIM user for a local user */
export async function userResource(svc: Services, provider: ScimProvider, user: UsersTable, connection: Json | null): Promise<Json> {
  const o = withSchema(
    await evaluate(
      svc,
      provider,
      provider.property_mappings,
      { text: SCIM_USER_MAPPING, run: () => nativeUser(svc, user) },
      { user, userExtra: { uid: uidOf(user.id, svc.installId), avatar: await avatarFor(svc, user) }, extra: { connection } },
      `user ${user.username}`,
    ),
    USER_SCHEMA,
  );
  if (typeof o.userName !== 'string' || !o.userName) throw new StopSync(`The mappings give user ${user.username} no userName`);
  if (!o.externalId) o.externalId = uidOf(user.id, svc.installId);
  return o;
}

/** the SCIM group for a local group (its members are added separately) */
export async function groupResource(svc: Services, provider: ScimProvider, group: GroupsTable, connection: Json | null): Promise<Json> {
  const g = {
    pk: group.group_uuid,
    group_uuid: group.group_uuid,
    num_pk: group.num_pk,
    name: group.name,
    is_superuser: Boolean(group.is_superuser),
    attributes: parse(group.attributes),
  };
  const o = withSchema(
    await evaluate(
      svc,
      provider,
      provider.property_mappings_group,
      { text: SCIM_GROUP_MAPPING, run: () => ({ displayName: group.name }) },
      { extra: { group: g, connection } },
      `group ${group.name}`,
    ),
    GROUP_SCHEMA,
  );
  if (typeof o.displayName !== 'string' || !o.displayName) throw new StopSync(`The mappings give group ${group.name} no displayName`);
  if (!o.externalId) o.externalId = group.group_uuid;
  return o;
}
