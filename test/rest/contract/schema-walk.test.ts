/**
 * Generated from authentik's schema.yml (the official client's) and the OpenAPI document Keystage serves at
 * /api/v3/schema/, so every endpoint Keystage comes to serve falls under it without a line here:
 *
 * - for every list operation Keystage serves, every query parameter authentik documents is in Keystage's document,
 *   with authentik's shape (type, format, a choice list or not, array items), and a value that matches nothing
 *   narrows the seeded, non-empty list to zero (a filter cannot be ignored without this failing);
 * - for every object Keystage serves with GET and PUT, PUT of the object's own writable fields (those authentik's
 *   request component lists) answers 200 and leaves the object as it was;
 * - every model blueprints write (the app's `models`) with a seeded object applies back through one blueprint entry
 *   per model, in one file: each resource's validation and update running inside the import's transaction and
 *   reading through it (a resource reading through a database handle of its own would wait for that transaction
 *   forever with SQLite).
 *
 * Objects are seeded through each collection's POST with a body derived from authentik's request component; what no
 * POST creates (devices enrolled by flows, groups and roles without an API yet) is seeded below by name.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertAccessToken, insertCode, insertRefreshToken } from '../../../src/providers/oauth2/tokens/store.js';
import { updateReputation } from '../../../src/auth/reputation.js';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { authentikSchema } from '../../helpers/openapi-schema.js';
import { buildSelfSigned } from '../../../src/crypto/x509.js';
import { stringify } from 'yaml';
import { type FakeScim, startFakeScim } from '../../providers/scim/fake-scim.js';

/** the SCIM service provider the seeded SCIM provider points at, with one user and one group to link */
let walkScim: FakeScim | undefined;
const walkRemote = { user: '', group: '' };
async function startWalkScim() {
  walkScim = await startFakeScim({ token: 'scim-token' });
  const post = async (path: string, body: Record<string, unknown>) => {
    const r = await fetch(`${walkScim!.url}${path}`, {
      method: 'POST',
      headers: { authorization: 'Bearer scim-token', 'content-type': 'application/scim+json' },
      body: JSON.stringify(body),
    });
    return ((await r.json()) as { id: string }).id;
  };
  walkRemote.user = await post('/Users', { userName: 'walk-remote' });
  walkRemote.group = await post('/Groups', { displayName: 'walk-remote' });
}

type Schema = Record<string, any>;
type Doc = {
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, Schema>; parameters?: Record<string, Schema> };
};

const ak = authentikSchema() as unknown as Doc;

/** Keystage's served document (it does not depend on the database) */
const served: Doc = await (async () => {
  const probe = await startServer('sqlite');
  try {
    return (await call(probe, 'GET', '/schema/?format=json')).body as Doc;
  } finally {
    await probe.close();
  }
})();

/** parameters that do not narrow a list by their nature */
const NEVER_NARROWS: Record<string, string> = {
  ordering: 'orders the list; unknown names are dropped, as DRF’s OrderingFilter does',
  page: 'selects a page of the same list',
  page_size: 'sets the page length of the same list',
  include_groups: 'shapes each user (with or without its groups), selects no user',
  include_roles: 'shapes each user (with or without its roles), selects no user',
  include_users: 'shapes each group (with or without its members), selects no group',
  include_children: 'shapes each group (with or without its child groups), selects no group',
  include_parents: 'shapes each group (with or without its parent groups), selects no group',
  include_inherited_roles: 'shapes each group (with or without its inherited roles), selects no group',
  inherited:
    'widens the roles’ users and groups filters to roles held through groups; alone it selects no role (authentik: “requires users or groups filter”)',
  superuser_full_list: 'a superuser sees every application instead of those their policies let them use: the same ones where none is bound',
  for_user: 'lists the applications another user’s policies let them use: the same ones where none is bound',
  manageable_only: 'every file listed is an upload Keystage manages (it lists no built-in files): the same files',
  usage: 'media is the one usage files are uploaded to and listed by; another is a 400 naming it',
};

/** lists that are empty by design, with why: each filter is still served and answers 200 */
const ALWAYS_EMPTY: Record<string, string> = {};

/** parameters that pick one object and never an empty list, as authentik's: a value matching nothing answers a default */
const NEVER_ZERO: Record<string, string> = {
  '/sources/oauth/source_types/ name': 'authentik answers the default type (OpenID Connect) for a name it does not know',
};

/** boolean filters where, as authentik's, only `true` narrows (any other value lists everything) */
const ONLY_TRUE_NARROWS: Record<string, string> = {
  '/crypto/certificatekeypairs/ has_key': 'authentik’s filter_has_key returns the whole list for false',
};

/** a certificate and its key: a pair's POST needs a PEM certificate no schema can suggest */
const seedPair = await buildSelfSigned({ commonName: 'seed.example', alg: 'ecdsa' });

/** values a parameter's schema cannot suggest */
const VALUE_FOR: Record<string, string> = {
  // a model another than the one the seeded role holds permissions on
  model: 'authentik_core.user',
  // a role (a UUID) holding no permission
  role: '00000000-0000-4000-8000-000000000000',
  // a JSON object of attributes, not free text (free text is authentik's 400 "filter: failed to parse JSON")
  attributes: '{"no-such-attribute":"no-match"}',
};

/** parameters whose every value is refused: what they reference does not exist in Keystage */
const REFERENCES_NOTHING: Record<string, string> = {
  '/stages/authenticator/sms/ mapping':
    'property mappings are not in Keystage: every pk names nothing, a 400 as authentik answers for a pk it does not have',
};

/** response fields a save changes by design, per component */
const CHANGED_BY_EVERY_SAVE: Record<string, Record<string, string>> = {
  User: { last_updated: 'authentik’s auto_now: set by every save' },
  UserOAuthSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  UserSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  GroupOAuthSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  GroupSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  UserLDAPSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  GroupLDAPSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  UserSAMLSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  GroupSAMLSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  UserTelegramSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  UserPlexSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  GroupPlexSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  GroupTelegramSourceConnection: { last_updated: 'authentik’s auto_now: set by every save' },
  ObjectAttribute: { last_updated: 'authentik’s auto_now (CreatedUpdatedModel): set by every save' },
};

// ---------------------------------------------------------------- schema helpers

/** follows $ref and single-entry allOf to the schema itself */
function resolve(s: Schema | undefined): Schema {
  let cur = s ?? {};
  for (let i = 0; i < 10; i++) {
    if (cur.$ref) cur = { ...ak.components.schemas[String(cur.$ref).split('/').pop()!], ...omit(cur, ['$ref']) };
    else if (Array.isArray(cur.allOf) && cur.allOf.length === 1) cur = { ...resolve(cur.allOf[0]), ...omit(cur, ['allOf']) };
    else break;
  }
  return cur;
}

const omit = (o: Schema, keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

/** what a client relies on in a parameter's schema */
function shape(s: Schema | undefined): string {
  const r = resolve(s);
  if (r.type === 'array') return `array of ${shape(r.items)}`;
  return [r.type ?? 'any', r.format, Array.isArray(r.enum) ? 'choice' : undefined].filter(Boolean).join(' ');
}

function queryParams(op: Schema): { name: string; schema: Schema }[] {
  return ((op.parameters ?? []) as Schema[])
    .map((p) => (p.$ref ? ak.components.parameters![String(p.$ref).split('/').pop()!]! : p))
    .filter((p) => p.in === 'query')
    .map((p) => ({ name: String(p.name), schema: p.schema as Schema }));
}

const componentOf = (ref: Schema | undefined) => (ref?.$ref ? String(ref.$ref).split('/').pop()! : undefined);
const requestComponent = (op: Schema | undefined) => componentOf(op?.requestBody?.content?.['application/json']?.schema);

// ---------------------------------------------------------------- what Keystage serves

interface ListOp {
  path: string;
  operationId: string;
  params: { name: string; schema: Schema }[];
}

/** `_list` operations that answer aggregates, not objects a filter narrows: tested where they live */
const AGGREGATES: Record<string, string> = {
  '/events/events/volume/': 'counts per action and day: test/events/stats.test.ts',
  '/events/events/top_per_user/': 'counts per application: test/events/stats.test.ts',
};

const lists: ListOp[] = Object.entries(served.paths)
  .filter(([path, ops]) => ops.get && String(ops.get.operationId).endsWith('_list') && ak.paths[path]?.get && !AGGREGATES[path])
  .map(([path, ops]) => ({ path, operationId: ops.get.operationId, params: queryParams(ak.paths[path]!.get) }))
  .sort((a, b) => a.path.localeCompare(b.path));

interface PutOp {
  path: string;
  param: string;
  collection: string;
  request: string;
}

// (a singleton — /admin/settings/ — has no object to seed: test/instance/system-settings.test.ts PUTs it)
const puts: PutOp[] = Object.entries(served.paths)
  .filter(([path, ops]) => ops.get && ops.put && ak.paths[path]?.put && path.includes('{'))
  .map(([path]) => {
    const m = /^(.*\/)\{([^}]+)\}\/$/.exec(path)!;
    return { path, param: m[2]!, collection: m[1]!, request: requestComponent(ak.paths[path]!.put)! };
  })
  .sort((a, b) => a.path.localeCompare(b.path));

// ---------------------------------------------------------------- seeding

interface Seeded {
  /** the created objects, by collection path, with the body that created them */
  created: Map<string, { obj: Record<string, any>; sent: Record<string, unknown> }>;
  /** why a collection's POST did not create anything */
  failures: Map<string, string>;
  /** values that name existing objects, to find one that no listed object references */
  uuids: Set<string>;
  strings: Set<string>;
  ints: Set<number>;
}

let counter = 0;
const seedSlug = (path: string) => `seed-${path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}-${++counter}`;

/** a value for each required field of an authentik request component */
function synthesize(path: string, component: string): Record<string, unknown> {
  const s = ak.components.schemas[component]!;
  const out: Record<string, unknown> = {};
  for (const name of (s.required ?? []) as string[]) {
    const p = resolve(s.properties?.[name]);
    if (Array.isArray(p.enum)) out[name] = p.enum.find((v: unknown) => v !== '' && v !== null);
    else if (p.type === 'string' && p.format === 'email') out[name] = `${seedSlug(path)}@example.com`;
    else if (p.type === 'string' && p.format === 'uuid')
      continue; // a reference: see REFERENCES below
    else if (p.type === 'string' && p.format === 'date-time') out[name] = new Date(Date.now() + 3_600_000).toISOString();
    else if (p.type === 'string' && p.format === 'uri') out[name] = 'https://seed.example/';
    else if (p.type === 'string') out[name] = seedSlug(path).slice(0, p.maxLength ?? 200);
    else if (p.type === 'integer' || p.type === 'number') out[name] = Math.max(1, p.minimum ?? 1);
    else if (p.type === 'boolean') out[name] = false;
    else if (p.type === 'array') out[name] = [];
    else if (p.type === 'object') out[name] = {};
  }
  return out;
}

/**
 * required references and choices the component alone cannot pick, by collection, for the `i`th object; undefined
 * until what they reference exists (the first object of each collection is referenced, the second never is)
 */
const REFERENCES: Record<string, (s: Seeded, i: number) => Record<string, unknown> | undefined> = {
  '/flows/bindings/': (s, i) => {
    const flow = s.created.get('/flows/instances/')?.obj;
    const stage = s.created.get('/stages/dummy/')?.obj;
    return flow && stage ? { target: flow.pk, stage: stage.pk, order: i } : undefined;
  },
  '/policies/bindings/': (s, i) => {
    const flow = s.created.get('/flows/instances/')?.obj;
    const policy = s.created.get('/policies/dummy/')?.obj;
    return flow && policy ? { target: flow.pk, policy: policy.pk, order: i } : undefined;
  },
  // a model with attributes; disabled, so the users and groups the walk writes are not held to it
  '/core/object_attributes/': () => ({ object_type: 'authentik_core.group', enabled: false, regex: '' }),
  // a rule needs a reviewer (or a reviewer group)
  '/lifecycle/rules/': (s) => {
    const user = s.created.get('/core/users/')?.obj;
    return user ? { reviewers: [user.uuid] } : undefined;
  },
  // someone other than the caller (who may not offboard themselves), once (one pending per user)
  '/lifecycle/user_offboarding/': (s, i) => {
    const user = s.created.get('/core/users/')?.obj;
    return user && i === 0 ? { user: user.pk } : undefined;
  },
  // an app password keeps its expiry across writes (an API token's is reset on every write, as upstream)
  '/core/tokens/': () => ({ intent: 'app_password' }),
  // the first with a key, the second a certificate alone
  '/crypto/certificatekeypairs/': (_s, i) => ({
    certificate_data: seedPair.certificate,
    ...(i === 0 ? { key_data: seedPair.privateKey } : {}),
  }),
  // authentik refuses a static redirect stage without its URL
  '/stages/redirect/': () => ({ target_static: 'https://seed.example/' }),
  // authentik refuses a reputation policy unless check_ip or check_username is sent as true
  '/policies/reputation/': () => ({ check_ip: true }),
  // OpenID Connect (the first choice) needs its URLs, or a well-known URL to fetch: given, so nothing is fetched
  '/sources/oauth/': () => ({
    provider_type: 'openidconnect',
    authorization_url: 'https://seed.example/authorize',
    access_token_url: 'https://seed.example/token',
    profile_url: 'https://seed.example/userinfo',
  }),
  // an LDAP source on a port where nothing listens (its sync on save fails at once; the walk reads the API only)
  '/sources/ldap/': () => ({ server_uri: 'ldap://127.0.0.1:9/', sync_users_password: false }),
  // a SAML source needs its pre-authentication flow
  '/sources/saml/': (s) => {
    const flow = s.created.get('/flows/instances/')?.obj;
    return flow ? { pre_authentication_flow: flow.pk } : undefined;
  },
  // a Telegram source needs its bot and pre-authentication flow
  '/sources/telegram/': (s) => {
    const flow = s.created.get('/flows/instances/')?.obj;
    return flow ? { bot_token: '1:seed-token', pre_authentication_flow: flow.pk } : undefined;
  },
  '/sources/user_connections/telegram/': (s) => {
    const source = s.created.get('/sources/telegram/')?.obj;
    return source ? { source: source.pk } : undefined;
  },
  '/sources/plex/': () => ({ plex_token: 'seed-owner-token' }),
  '/managed/blueprints/': () => ({ content: 'version: 1\nentries: []\n' }),
  '/sources/user_connections/plex/': (s) => {
    const source = s.created.get('/sources/plex/')?.obj;
    return source ? { source: source.pk } : undefined;
  },
  '/sources/user_connections/saml/': (s) => {
    const source = s.created.get('/sources/saml/')?.obj;
    return source ? { source: source.pk } : undefined;
  },
  '/sources/user_connections/ldap/': (s) => {
    const source = s.created.get('/sources/ldap/')?.obj;
    return source ? { source: source.pk } : undefined;
  },
  // what an identity provider provisioned through the SCIM source
  '/sources/scim_users/': (s) => {
    const source = s.created.get('/sources/scim/')?.obj;
    return source ? { source: source.pk } : undefined;
  },
  '/sources/scim_groups/': (s) => {
    const source = s.created.get('/sources/scim/')?.obj;
    const group = s.created.get('/core/groups/')?.obj;
    return source && group ? { source: source.pk, group: group.pk } : undefined;
  },
  '/sources/user_connections/oauth/': (s) => {
    const source = s.created.get('/sources/oauth/')?.obj;
    return source ? { source: source.pk } : undefined;
  },
  '/rbac/initial_permissions/': (s) => {
    const role = s.created.get('/rbac/roles/')?.obj;
    return role ? { role: role.pk } : undefined;
  },
  '/core/application_entitlements/': (s) => {
    const app = s.created.get('/core/applications/')?.obj;
    return app ? { app: app.pk } : undefined;
  },
  '/stages/source/': (s) => {
    const source = s.created.get('/sources/oauth/')?.obj;
    return source ? { source: source.pk } : undefined;
  },
  '/providers/oauth2/': (s) => {
    const flow = s.created.get('/flows/instances/')?.obj;
    return flow ? { authorization_flow: flow.pk, invalidation_flow: flow.pk } : undefined;
  },
  '/providers/saml/': (s) => {
    const flow = s.created.get('/flows/instances/')?.obj;
    return flow ? { authorization_flow: flow.pk, invalidation_flow: flow.pk } : undefined;
  },
  '/providers/wsfed/': (s) => {
    const flow = s.created.get('/flows/instances/')?.obj;
    return flow ? { authorization_flow: flow.pk, invalidation_flow: flow.pk } : undefined;
  },
  // a rule on the first application (the first entitlement's), and that entitlement under it, once
  '/requests/rule-bindings/': (s) => {
    const rule = s.created.get('/requests/rules/')?.obj;
    const app = s.created.get('/core/applications/')?.obj;
    return rule && app ? { rule: rule.uuid, target: app.pk } : undefined;
  },
  '/requests/rule-child-bindings/': (s, i) => {
    const binding = s.created.get('/requests/rule-bindings/')?.obj;
    const ent = s.created.get('/core/application_entitlements/')?.obj;
    return binding && ent && i === 0 ? { binding: binding.uuid, target: ent.pbm_uuid } : undefined;
  },
  // a key pair to sign with (the first seeded has a key)
  '/providers/ssf/': (s) => {
    const kp = s.created.get('/crypto/certificatekeypairs/')?.obj;
    return kp ? { signing_key: kp.pk } : undefined;
  },
  // (a dry run: the walk's users and groups are not pushed)
  '/providers/scim/': () => (walkScim ? { url: walkScim.url, token: 'scim-token', dry_run: true } : undefined),
  // a link to the remote user (group) the fake holds: one each
  '/providers/scim_users/': (s, i) => {
    const provider = s.created.get('/providers/scim/')?.obj;
    const user = s.created.get('/core/users/')?.obj;
    return provider && user && i === 0 ? { provider: provider.pk, user: user.pk, scim_id: walkRemote.user } : undefined;
  },
  '/providers/scim_groups/': (s, i) => {
    const provider = s.created.get('/providers/scim/')?.obj;
    const group = s.created.get('/core/groups/')?.obj;
    return provider && group && i === 0 ? { provider: provider.pk, group: group.pk, scim_id: walkRemote.group } : undefined;
  },
};

/** objects seeded per collection: the first is what others reference, the second what a filter can name unreferenced */
const PER_COLLECTION = 2;

async function seed(srv: TestServer): Promise<Seeded> {
  const s: Seeded = { created: new Map(), failures: new Map(), uuids: new Set(), strings: new Set(), ints: new Set() };
  const collections = Object.entries(served.paths)
    .filter(([path, ops]) => ops.post && ops.get && String(ops.get.operationId).endsWith('_list') && ak.paths[path]?.post)
    .map(([path]) => path)
    .sort();
  // values naming existing objects: the seeded ones first, then every list's
  const walk = (v: unknown, key = '') => {
    if (Array.isArray(v)) for (const x of v) walk(x, key);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    else if (typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)) s.uuids.add(v);
    else if (typeof v === 'string' && (key === 'name' || key === 'username' || key === 'slug')) s.strings.add(v);
    else if (typeof v === 'number' && Number.isInteger(v) && (key === 'pk' || key === 'id')) s.ints.add(v);
  };
  // two rounds: a collection whose references are created in the first is seeded in the second
  for (let round = 0; round < 2; round++) {
    for (const path of collections) {
      if (s.created.has(path)) continue;
      const component = requestComponent(ak.paths[path]!.post);
      if (!component) continue;
      for (let i = 0; i < PER_COLLECTION; i++) {
        const refs = REFERENCES[path]?.(s, i);
        if (REFERENCES[path] && !refs) break;
        const sent = { ...synthesize(path, component), ...refs };
        const r = await call(srv, 'POST', path, sent);
        if (r.status !== 201) {
          s.failures.set(path, `POST ${JSON.stringify(sent)} → ${r.status} ${JSON.stringify(r.body)}`);
          break;
        }
        if (i === 0) s.created.set(path, { obj: r.body, sent });
        s.failures.delete(path);
        // the seeded objects first among the values to try
        walk(r.body);
      }
    }
  }

  // what no POST creates
  const db = srv.app.store.db;
  const admin = (await call(srv, 'GET', '/core/users/?username=akadmin')).body.results[0].pk as number;
  const now = new Date().toISOString();
  const device = { user_id: admin, confirmed: 1, created: now, last_updated: now, last_used: null };
  const side = {
    ...device,
    stage: null,
    throttling_failure_timestamp: null,
    throttling_failure_count: 0,
    token_hash: null,
    valid_until: null,
  };
  // e-mail and SMS devices are enrolled by proving the address, WebAuthn ones by an authenticator: rows, as enrolment leaves them
  await db
    .insertInto('email_devices')
    .values({ ...side, name: 'seed mail', email: 'seed@example.com' } as never)
    .execute();
  await db
    .insertInto('sms_devices')
    .values({ ...side, name: 'seed phone', phone_number: '+15550100' } as never)
    .execute();
  await db
    .insertInto('webauthn_devices')
    .values({
      ...device,
      name: 'seed key',
      credential_id: 'c2VlZA',
      public_key: 'pQ',
      sign_count: 0,
      rp_id: 'localhost',
      aaguid: '00000000-0000-0000-0000-000000000000',
      transports: '[]',
    } as never)
    .execute();
  // a certificate-key pair (brands' web_certificate and client_certificates name them), as a row: no POST here makes one
  const kp = '5eed0000-0000-4000-8000-00000000c0de';
  await db
    .insertInto('crypto_certificatekeypairs' as 'brand_client_certificates')
    .values({
      kp_uuid: kp,
      name: 'seed keypair',
      certificate_data: '',
      key_data: '',
      managed: null,
      created: now,
      last_updated: now,
    } as never)
    .execute();
  s.uuids.add(kp);
  // a Duo device through the API that imports one
  const duo = s.created.get('/stages/authenticator/duo/')?.obj;
  if (duo)
    await call(srv, 'POST', `/stages/authenticator/duo/${duo.pk}/import_device_manual/`, { duo_user_id: 'DU-SEED', username: 'akadmin' });
  // a group and a role nobody is in (no groups or roles API yet): what the users' group and role filters can name
  const group = randomUUID();
  await db
    .insertInto('groups')
    .values({ group_uuid: group, num_pk: 424242, name: 'seed-empty-group', is_superuser: 0, attributes: '{}' } as never)
    .execute();
  const role = randomUUID();
  await db
    .insertInto('roles')
    .values({ role_uuid: role, name: 'seed-empty-role' } as never)
    .execute();
  // a group connection, as a source's login leaves it (its group is read-only in authentik's serializer: no POST makes one)
  const source = s.created.get('/sources/oauth/')?.obj;
  if (source)
    await db
      .insertInto('group_source_connections')
      .values({ group_uuid: group, source_uuid: source.pk, identifier: 'seed-group-at-source', created: now, last_updated: now } as never)
      .execute();
  // and one at the LDAP source, as its sync leaves it
  const ldapSource = s.created.get('/sources/ldap/')?.obj;
  if (ldapSource)
    await db
      .insertInto('group_source_connections')
      .values({
        group_uuid: group,
        source_uuid: ldapSource.pk,
        identifier: 'seed-group-in-directory',
        created: now,
        last_updated: now,
      } as never)
      .execute();
  // and one at the SAML and Telegram sources, as a login leaves them
  for (const [path, identifier] of [
    ['/sources/saml/', 'seed-group-at-idp'],
    ['/sources/telegram/', 'seed-group-at-telegram'],
    ['/sources/plex/', 'seed-group-at-plex'],
  ] as const) {
    const seeded = s.created.get(path)?.obj;
    if (seeded)
      await db
        .insertInto('group_source_connections')
        .values({ group_uuid: group, source_uuid: seeded.pk, identifier, created: now, last_updated: now } as never)
        .execute();
  }
  // a receiver's stream of the SSF provider (receivers make them through the stream endpoint, not the API)
  const ssf = s.created.get('/providers/ssf/')?.obj;
  if (ssf)
    await db
      .insertInto('ssf_streams')
      .values({
        uuid: randomUUID(),
        provider_id: ssf.pk,
        status: 'enabled',
        delivery_method: 'urn:ietf:rfc:8935',
        endpoint_url: 'http://127.0.0.1:9/ssf',
        authorization_header: null,
        events_requested: JSON.stringify(['https://schemas.openid.net/secevent/ssf/event-type/verification']),
        format: 'iss_sub',
        aud: JSON.stringify(['urn:seed']),
        iss: 'http://127.0.0.1:9/.well-known/ssf-configuration/seed',
        created: now,
      })
      .execute();
  // a role holding a permission on one flow only: who holds what on that flow, and the role's object permissions
  const seededRole = s.created.get('/rbac/roles/')?.obj;
  const seededFlow = s.created.get('/flows/instances/')?.obj;
  if (seededRole && seededFlow) {
    const r = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${seededRole.pk}/assign/`, {
      permissions: ['view_flow'],
      model: 'authentik_flows.flow',
      object_pk: seededFlow.pk,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    REQUIRED_QUERY.set('/rbac/permissions/assigned_by_roles/', [
      ['model', 'authentik_flows.flow'],
      ['object_pk', seededFlow.pk],
    ]);
    REQUIRED_QUERY.set('/rbac/permissions/roles/', [['uuid', seededRole.pk]]);
  }
  // a notification, as a rule's local transport leaves it in a person's inbox
  await db
    .insertInto('notifications')
    .values({
      uuid: randomUUID(),
      user_id: admin,
      severity: 'notice',
      body: 'seed notification',
      created: now,
      event_uuid: null,
      seen: 0,
      hyperlink: null,
      hyperlink_label: null,
    })
    .execute();
  // a data export, asked for through a list's export action (no POST on /reports/exports/)
  assert.equal((await call(srv, 'POST', '/core/users/export/?username=akadmin')).status, 201);
  // a user without devices, tokens or groups
  await call(srv, 'POST', '/core/users/', { username: 'seed-plain', name: 'Seed Plain' });
  // an uploaded image (multipart), named by a brand's logo: /admin/file/ and its used_by
  const upload = new FormData();
  upload.set('file', new Blob([Buffer.from('GIF89a')]), 'seeded.gif');
  const uploaded = await fetch(`${srv.api}/admin/file/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}` },
    body: upload,
  });
  assert.equal(uploaded.status, 200, await uploaded.text());
  const logo = await call(srv, 'POST', '/core/brands/', { domain: 'seed-files.example.com', branding_logo: 'seeded.gif' });
  assert.equal(logo.status, 201, JSON.stringify(logo.body));
  REQUIRED_QUERY.set('/admin/file/used_by/', [['name', 'seeded.gif']]);
  // consent is given in a flow's consent stage: a row, as the stage leaves it
  const app = s.created.get('/core/applications/')?.obj;
  if (app)
    await db
      .insertInto('user_consents')
      .values({ user: admin, application: app.pk, expires: null, expiring: 0, permissions: 'openid email' } as never)
      .execute();
  // a logged-in session, as a login stores it (its public uuid, never its key, in the list)
  await db
    .insertInto('sessions')
    .values({
      session_key: `seed-session-${randomUUID()}`,
      user_id: admin,
      data: '{}',
      expires: new Date(Date.now() + 3600_000).toISOString(),
      last_ip: '192.0.2.20',
      last_user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0',
      created: now,
      last_seen: now,
      lock_until: null,
      uuid: randomUUID(),
    })
    .execute();
  // reputation scores are kept by logins: one failed and one successful login's worth
  await updateReputation(db, srv.config.reputation, '192.0.2.10', 'seed-reputation-failed', -1);
  await updateReputation(db, srv.config.reputation, '192.0.2.11', 'seed-reputation-ok', 1);
  // OAuth2 grants are issued by the protocol endpoints: one of each, as the token endpoint leaves them
  const oauth2 = await db.selectFrom('providers').select('id').where('kind', '=', 'oauth2provider').orderBy('id').executeTakeFirst();
  if (oauth2) {
    const grant = {
      provider_id: oauth2.id,
      user_id: admin,
      scope: 'openid',
      auth_time: new Date(),
      session_id: null,
      expires: new Date(Date.now() + 3600_000),
    };
    await insertCode(db, {
      ...grant,
      code: 'seed-code',
      nonce: null,
      code_challenge: null,
      code_challenge_method: null,
      redirect_uri: 'https://seed.example/',
      amr: null,
    });
    await insertAccessToken(db, { ...grant, token: 'seed-access', id_token: '{}', code_id: null });
    await insertRefreshToken(db, { ...grant, token: 'seed-refresh', id_token: '{}', code_id: null });
  }
  // a pending access request by another user for the first application, which the admin reviews (its rule binds them)
  const rule = s.created.get('/requests/rules/')?.obj;
  const firstApp = s.created.get('/core/applications/')?.obj;
  const requester = (await call(srv, 'GET', '/core/users/?username=seed-plain')).body.results[0]?.pk as number | undefined;
  if (rule && firstApp && requester) {
    await call(srv, 'POST', '/policies/bindings/', { target: rule.pbm_uuid, user: admin, order: 4242 });
    const request = randomUUID();
    await db
      .insertInto('grant_requests')
      .values({
        uuid: request,
        created_by: requester,
        fulfilled_by: null,
        revoked_by: null,
        requester_data: '{}',
        fulfiller_data: '{}',
        status: 'created',
        requested_expiry: 'hours=1',
        expiring: 1,
        expires: new Date(Date.now() + 3600_000).toISOString(),
        created: now,
        last_updated: now,
      })
      .execute();
    await db.insertInto('grant_request_targets').values({ uuid: randomUUID(), request, target: firstApp.pk, binding: null }).execute();
  }
  // a task: the expired-objects schedule sent (a send runs it at once) and run to its end
  const clean = (await call(srv, 'GET', '/tasks/schedules/?actor_name=authentik.core.tasks.clean_expired_models')).body.results[0];
  assert.ok(clean, 'the built-in schedule');
  assert.equal((await call(srv, 'POST', `/tasks/schedules/${clean.id}/send/`)).status, 204);
  for (let i = 0; i < 400 && (await call(srv, 'GET', '/tasks/tasks/?state=done')).body.pagination.count === 0; i++)
    await new Promise((r) => setTimeout(r, 25));
  for (const x of [group, role]) s.uuids.add(x);
  for (const x of ['seed-empty-group', 'seed-empty-role']) s.strings.add(x);

  for (const l of lists) if (!l.path.includes('{')) walk((await call(srv, 'GET', `${l.path}?page_size=100`)).body);
  return s;
}

// ---------------------------------------------------------------- the checks

const countOf = (body: any): number => (Array.isArray(body) ? body.length : Number(body?.pagination?.count));

/** lists that answer only with a query parameter authentik requires: the value the seeding gives (the walked filter comes after, and wins) */
const REQUIRED_QUERY = new Map<string, [string, string][]>();

async function listCount(srv: TestServer, path: string, query: [string, string][]): Promise<{ status: number; count: number; body: any }> {
  const qs = new URLSearchParams([...(REQUIRED_QUERY.get(path) ?? []), ...query]).toString();
  const r = await call(srv, 'GET', `${path}${qs ? `?${qs}` : ''}`);
  return { status: r.status, count: r.status === 200 ? countOf(r.body) : Number.NaN, body: r.body };
}

/** asserts that `name` narrows the list at `path` (of `total` objects) to zero with some value its schema allows */
async function assertNarrows(srv: TestServer, seeded: Seeded, path: string, name: string, schema: Schema, total: number) {
  const r = resolve(schema);
  const item = r.type === 'array' ? resolve(r.items) : r;
  const tried: string[] = [];
  const zeroWith = async (candidates: Iterable<string>, limit = 400): Promise<boolean> => {
    let n = 0;
    for (const v of candidates) {
      if (n++ >= limit) break;
      const got = await listCount(srv, path, [[name, v]]);
      tried.push(`${v} → ${got.status === 200 ? got.count : `${got.status} ${JSON.stringify(got.body)}`}`);
      assert.ok(got.status === 200 || got.status === 400, `${path}?${name}=${v}: ${got.status} ${JSON.stringify(got.body)}`);
      if (got.status === 400)
        assert.ok(got.body && typeof got.body === 'object' && name in got.body, `a 400 names ${name}: ${JSON.stringify(got.body)}`);
      if (got.status === 200 && got.count === 0) return true;
    }
    return false;
  };

  const refused = REFERENCES_NOTHING[`${path} ${name}`];
  if (refused) {
    const got = await listCount(srv, path, [[name, randomUUID()]]);
    assert.equal(got.status, 400, `${refused}: ${JSON.stringify(got.body)}`);
    assert.ok(name in got.body, JSON.stringify(got.body));
    return;
  }

  if (NEVER_ZERO[`${path} ${name}`]) {
    const got = await listCount(srv, path, [[name, `no-match-${randomUUID().slice(0, 8)}`]]);
    assert.equal(got.status, 200);
    assert.ok(
      got.count === 1 && got.count < total,
      `${path}?${name}= narrows the ${total} objects to one: ${NEVER_ZERO[`${path} ${name}`]}`,
    );
    return;
  }

  if (ONLY_TRUE_NARROWS[`${path} ${name}`]) {
    const yes = await listCount(srv, path, [[name, 'true']]);
    const no = await listCount(srv, path, [[name, 'false']]);
    assert.ok(yes.count < total, `${path}?${name}=true narrows the ${total} objects (${yes.count})`);
    assert.equal(no.count, total, `${path}?${name}=false: ${ONLY_TRUE_NARROWS[`${path} ${name}`]}`);
    return;
  }

  if (item.type === 'boolean' || Array.isArray(item.enum)) {
    // a finite domain: each value selects its own objects, so the counts add up to at most the whole list (an
    // ignored filter would count the whole list for every value)
    const values = item.type === 'boolean' ? ['true', 'false'] : (item.enum as string[]).filter((v) => v !== '' && v !== null);
    let sum = 0;
    for (const v of values) {
      const got = await listCount(srv, path, [[name, v]]);
      assert.equal(got.status, 200, `${path}?${name}=${v}: ${JSON.stringify(got.body)}`);
      tried.push(`${v} → ${got.count}`);
      sum += got.count;
    }
    assert.ok(sum <= total, `${path}?${name}: the values’ counts add up to ${sum} of ${total} objects (${tried.join(', ')})`);
    return;
  }

  let found = false;
  if (VALUE_FOR[name] !== undefined) found = await zeroWith([VALUE_FOR[name]!]);
  else if (item.type === 'integer' || item.type === 'number')
    found = await zeroWith(['2147483000', '-2147483000', ...[...seeded.ints].map(String)]);
  else if (item.format === 'date-time') found = await zeroWith(['1970-01-01T00:00:00Z', '2999-01-01T00:00:00Z']);
  // (every seeded object's UUID can be a candidate: the device types a WebAuthn stage's filter takes come late)
  else if (item.format === 'uuid') found = await zeroWith([randomUUID(), ...seeded.uuids], 2000);
  else found = await zeroWith([`no-match-${randomUUID().slice(0, 8)}`, ...seeded.strings]);
  assert.ok(found, `${path}?${name}= never narrowed the ${total} objects to zero:\n  ${tried.slice(0, 20).join('\n  ')}`);
}

for (const dialect of dialects()) {
  describe(`generated from authentik’s schema.yml: list filters and PUT round trips (${dialect})`, () => {
    let srv: TestServer;
    let seeded: Seeded;
    let blueprints: string;
    before(async () => {
      // a blueprints folder with one file: `available/` lists it, discovery makes its instance
      blueprints = await mkdtemp(join(tmpdir(), 'keystage-walk-blueprints-'));
      await writeFile(join(blueprints, 'walk.yaml'), 'version: 1\nmetadata: { name: Schema walk, labels: { walk: "yes" } }\nentries: []\n');
      srv = await startServer(dialect, { blueprintsDir: blueprints });
      await startWalkScim();
      await srv.app.blueprints.settled();
      seeded = await seed(srv);
    });
    after(async () => {
      await srv.close();
      await walkScim?.close();
      await rm(blueprints, { recursive: true, force: true });
    });

    it('every query parameter authentik documents for a list Keystage serves is in Keystage’s document, with its shape', () => {
      const problems: string[] = [];
      for (const l of lists) {
        const mine = new Map(queryParams(served.paths[l.path]!.get).map((p) => [p.name, p.schema]));
        for (const p of l.params) {
          if (!mine.has(p.name)) problems.push(`${l.path} ${p.name}: not served`);
          else if (shape(mine.get(p.name)) !== shape(p.schema))
            problems.push(`${l.path} ${p.name}: served as ${shape(mine.get(p.name))}, authentik documents ${shape(p.schema)}`);
        }
      }
      assert.deepEqual(problems, []);
      assert.ok(lists.length >= 40, `${lists.length} list operations`);
    });

    for (const l of lists) {
      const narrowing = l.params.filter((p) => NEVER_NARROWS[p.name] === undefined);
      it(`${l.path}: seeded, and each of ${narrowing.map((p) => p.name).join(', ') || 'no filters'} narrows it to zero`, async () => {
        if (l.path.includes('{')) {
          assert.equal(narrowing.length, 0, `${l.path} documents filters: seed its parent`);
          return;
        }
        const all = await listCount(srv, l.path, []);
        assert.equal(all.status, 200, JSON.stringify(all.body));
        if (ALWAYS_EMPTY[l.path]) {
          assert.equal(all.count, 0, ALWAYS_EMPTY[l.path]);
          for (const p of narrowing) assert.equal((await listCount(srv, l.path, [[p.name, 'x']])).status === 500, false);
          return;
        }
        assert.ok(all.count > 0, `${l.path} is empty: seed it (${seeded.failures.get(l.path) ?? 'no POST'})`);
        for (const p of narrowing) await assertNarrows(srv, seeded, l.path, p.name, p.schema, all.count);
      });
    }

    it('every model blueprints write applies back through a blueprint entry, unchanged', async () => {
      const entries: unknown[] = [];
      const objects: [string, string, Record<string, unknown>][] = [];
      const skipped: string[] = [];
      for (const [label, m] of srv.app.models) {
        const list = await call(srv, 'GET', `${m.def.path}/?page_size=1`);
        assert.equal(list.status, 200, `${m.def.path}: ${JSON.stringify(list.body)}`);
        const obj = list.body.results[0] as Record<string, unknown> | undefined;
        if (!obj || m.def.inBlueprints === false) continue;
        const attrs: Record<string, unknown> = {};
        for (const [k, schema] of Object.entries(m.def.props) as [string, Schema][])
          if (!schema.readOnly && !schema.writeOnly && k in obj) attrs[k] = obj[k];
        const key = obj[m.def.lookup.param] ?? obj[m.def.lookup.rowKey ?? m.def.lookup.column] ?? obj.pk;
        const pk = obj.pk ?? key;
        // what the API itself accepts for this object (an internal service account, say, it refuses to change)
        const patched = await call(srv, 'PATCH', `${m.def.path}/${encodeURIComponent(String(key))}/`, attrs);
        if (patched.status !== 200) {
          skipped.push(`${label}: ${patched.status}`);
          continue;
        }
        entries.push({ model: label, identifiers: { pk }, attrs });
        objects.push([label, `${m.def.path}/?page_size=1`, obj]);
      }
      assert.ok(entries.length >= 60, `${entries.length} of ${srv.app.models.size} models seeded (API refused: ${skipped.join(', ')})`);
      const form = new FormData();
      form.set('file', new Blob([stringify({ version: 1, entries })]), 'all.yaml');
      const res = await fetch(`${srv.api}/managed/blueprints/import/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${srv.token}` },
        body: form,
      });
      const body = (await res.json()) as { success: boolean; logs: { log_level: string; event: string }[] };
      assert.equal(res.status, 200);
      assert.equal(body.success, true, JSON.stringify(body.logs.filter((l) => l.log_level !== 'debug')));
      assert.equal(body.logs.filter((l) => l.event === 'Updated model').length, entries.length);
      for (const [label, path, obj] of objects) {
        const after = (await call(srv, 'GET', path)).body.results[0];
        for (const k of ['pk', 'name', 'slug', 'username', 'identifier', 'title'])
          if (k in obj) assert.deepEqual(after[k], obj[k], `${label}.${k}`);
      }
      // the same file in the blueprints folder: discovery applies it as the system, with no HTTP request behind it
      await writeFile(join(blueprints, 'all.yaml'), stringify({ version: 1, entries }));
      await srv.app.blueprints.settled();
      const instance = (await call(srv, 'GET', '/managed/blueprints/?path=all.yaml')).body.results[0];
      assert.equal(instance?.status, 'successful', JSON.stringify(instance));
      assert.equal(instance.managed_models.length, new Set(entries.map((e) => (e as { model: string }).model)).size);
    });

    it('every model the walk seeds through its POST is also made through a blueprint entry (or refused by both)', async () => {
      const failures: string[] = [];
      let made = 0;
      for (const [label, m] of srv.app.models) {
        const path = `${m.def.path}/`;
        const component = requestComponent(ak.paths[path]?.post);
        if (!seeded.created.has(path) || !component || m.def.inBlueprints === false) continue;
        const refs = REFERENCES[path]?.(seeded, PER_COLLECTION + 1);
        if (REFERENCES[path] && !refs) continue;
        const attrs = { ...synthesize(path, component), ...refs };
        const pk = m.pkInt ? 2_000_000_000 + made : randomUUID();
        const entry = { model: label, state: 'must_created', identifiers: { pk }, attrs };
        const form = new FormData();
        form.set('file', new Blob([stringify({ version: 1, entries: [entry] })]), 'one.yaml');
        const res = await fetch(`${srv.api}/managed/blueprints/import/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${srv.token}` },
          body: form,
        });
        const body = (await res.json()) as { success: boolean; logs: { log_level: string; event: string }[] };
        if (res.status === 200 && body.success) {
          made++;
          continue;
        }
        // refused: so must the API's POST of the same fields be (a 400, never a 500)
        const api = await call(srv, 'POST', path, attrs);
        const why = body.logs?.filter((l) => l.log_level !== 'debug').map((l) => l.event);
        if (api.status !== 400)
          failures.push(`${label}: ${res.status} ${JSON.stringify(why)}; the API: ${api.status} ${JSON.stringify(api.body)}`);
      }
      assert.deepEqual(failures, []);
      assert.ok(made >= 50, `${made} models made`);
    });

    for (const p of puts) {
      it(`PUT ${p.path} with the object’s own writable fields (${p.request}) answers 200 and changes nothing`, async () => {
        const mine = seeded.created.get(p.collection);
        const listed = mine?.obj ?? (await call(srv, 'GET', `${p.collection}?page_size=1`)).body.results?.[0];
        assert.ok(listed, `nothing to PUT at ${p.collection}: seed it (${seeded.failures.get(p.collection) ?? 'no POST'})`);
        const url = p.path.replace(`{${p.param}}`, encodeURIComponent(String(listed[p.param] ?? listed.pk)));
        const before = await call(srv, 'GET', url);
        assert.equal(before.status, 200, JSON.stringify(before.body));
        const request = ak.components.schemas[p.request]!;
        const body: Record<string, unknown> = {};
        for (const [k, s] of Object.entries(request.properties ?? {}) as [string, Schema][]) {
          if (s.readOnly) continue;
          // write-only values are never shown: the client sends what it set (here: what seeding sent)
          if (s.writeOnly) {
            if (mine && k in mine.sent) body[k] = mine.sent[k];
          } else if (k in before.body) body[k] = before.body[k];
        }
        const put = await call(srv, 'PUT', url, body);
        assert.equal(put.status, 200, `PUT ${url} ${JSON.stringify(body)} → ${put.status} ${JSON.stringify(put.body)}`);
        const after = await call(srv, 'GET', url);
        const changing = Object.keys(
          CHANGED_BY_EVERY_SAVE[componentOf(ak.paths[p.path]!.get.responses['200'].content['application/json'].schema) ?? ''] ?? {},
        );
        assert.deepEqual(omit(after.body, changing), omit(before.body, changing), 'the object is unchanged');
        assert.deepEqual(omit(put.body, changing), omit(after.body, changing), 'the PUT answer is the object');
      });
    }
  });
}
