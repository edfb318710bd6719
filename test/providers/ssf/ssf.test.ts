/**
 * The Shared Signals Framework provider, on SQLite and PostgreSQL: `/providers/ssf/` through the official client
 * (its service account and token, validation, used_by, deletion), the transmitter's configuration and JWKS, the
 * stream endpoint as a receiver drives it (create, read, update, verify, status, delete; who may), and the CAEP events
 * pushed to a receiver on 127.0.0.1 — verification, session-revoked at logout, credential-change for a password and an
 * authenticator, and for a password revoked by an account lockdown and by a password expiry policy — as security
 * event tokens signed by the provider's key; only about people who may use the application; a failing receiver; a
 * paused stream holding its events; two nodes sending an event once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { ProvidersApi } from '@goauthentik/api/dist/apis/ProvidersApi.js';
import { SsfApi } from '@goauthentik/api/dist/apis/SsfApi.js';
import { ADMIN_PASSWORD, call, dialects, startServer, type TestServer, sameDatabase } from '../../helpers/server.js';
import { bindingOf, createUser, defaultStages, loggedIn } from '../../helpers/flows.js';
import { Browser } from '../../helpers/browser.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { until } from '../../helpers/wait.js';
import { FakeSsfReceiver } from '../../helpers/fake-ssf-receiver.js';
import { importBlueprint } from '../../helpers/blueprints.js';
import { body } from '../../rest/contract/client.js';
import { keyPairOf } from '../saml/sp.js';
import { failWritesOf } from '../../helpers/faults.js';

const PUSH = 'urn:ietf:rfc:8935';
const RISC_PUSH = 'https://schemas.openid.net/secevent/risc/delivery-method/push';
const RISC_POLL = 'https://schemas.openid.net/secevent/risc/delivery-method/poll';
const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
const PASSWORD = 'ssf-correct-horse-1';

/** a token's claims, unverified (to tell the streams' deliveries apart) */
const decodeClaims = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string; aud?: string[] };
const decodeJti = (token: string) => decodeClaims(token).jti;

for (const dialect of dialects()) {
  describe(`Shared Signals Framework provider (${dialect})`, () => {
    let srv: TestServer;
    let providers: ProvidersApi;
    let ssf: SsfApi;
    let receiver: FakeSsfReceiver;
    let kp: { pk: string };
    /** the application `apps` whose backchannel provider is the SSF provider `pk` */
    let pk: number;
    let providerToken: string;
    let jwks: JSONWebKeySet;

    const stream = (method: string, slug: string, token: string | undefined, b?: unknown, query = '') =>
      fetch(`${srv.url}/application/ssf/${slug}/stream/${query}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(b !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: b === undefined ? undefined : JSON.stringify(b),
      }).then(async (r) => ({ status: r.status, body: r.status === 204 ? undefined : await r.json() }));

    /** a provider (and its application `slug`); its token's key */
    async function ssfApp(name: string, slug: string) {
      const created = await body(providers.providersSsfCreateRaw({ sSFProviderRequest: { name, signingKey: kp.pk } }));
      const app = await call(srv, 'POST', '/core/applications/', { name, slug, backchannel_providers: [created.pk] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const key = await call(srv, 'GET', `/core/tokens/ak-providers-ssf-${created.pk}/view_key/`);
      assert.equal(key.status, 200, JSON.stringify(key.body));
      return { pk: created.pk as number, token: key.body.key as string, app: app.body.pk as string };
    }

    const verify = async (token: string) => (await jwtVerify(token, createLocalJWKSet(jwks), { typ: 'secevent+jwt' })).payload;
    /** the deliveries after the first `from` (to the stream of audience `aud`, if given), once there are `n` of them */
    const deliveries = (from: number, n: number, aud?: string) =>
      until(`${n} deliveries`, async () => {
        const got = receiver.deliveries.slice(from).filter((d) => aud === undefined || decodeClaims(d.token).aud?.[0] === aud);
        return got.length >= n ? got : undefined;
      });
    const eventRows = (streamId: string) =>
      srv.app.store.db.selectFrom('ssf_stream_events').selectAll().where('stream_uuid', '=', streamId).orderBy('created').execute();

    before(async () => {
      srv = await startServer(dialect);
      const conf = new Configuration({ basePath: srv.api, accessToken: srv.token });
      providers = new ProvidersApi(conf);
      ssf = new SsfApi(conf);
      receiver = await new FakeSsfReceiver().start();
      kp = await keyPairOf(srv, 'ssf-signing');
      const made = await ssfApp('Receiver', 'receiver');
      pk = made.pk;
      providerToken = made.token;
      jwks = (await (await fetch(`${srv.url}/application/ssf/receiver/ssf-jwks/`)).json()) as JSONWebKeySet;
    });
    after(async () => {
      await receiver.stop();
      await srv.close();
    });

    it('the admin API: authentik’s fields, a service account and token, validation, filters, used_by', async () => {
      const p = await body(providers.providersSsfRetrieveRaw({ id: pk }));
      assertMatches('SSFProvider', p);
      assert.equal(p.component, 'ak-provider-ssf-form');
      assert.equal(p.meta_model_name, 'authentik_providers_ssf.ssfprovider');
      assert.equal(p.signing_key, kp.pk);
      assert.equal(p.event_retention, 'days=30');
      assert.equal(p.push_verify_certificates, true);
      assert.equal(p.ssf_url, `${srv.url}/.well-known/ssf-configuration/receiver`);
      assert.equal(p.token_obj.identifier, `ak-providers-ssf-${pk}`);
      assert.equal(p.token_obj.intent, 'api');
      assert.equal(p.token_obj.expiring, false);
      assert.equal(p.token_obj.managed, `goauthentik.io/providers/ssf/${pk}`);
      assert.equal(p.token_obj.user_obj.type, 'internal_service_account');
      assert.equal(p.token_obj.user_obj.path, 'goauthentik.io/providers/ssf');
      assert.equal('key' in p.token_obj, false);
      assert.deepEqual(p.oidc_auth_providers, []);
      assert.equal('property_mappings' in p, false);

      const missing = await call(srv, 'POST', '/providers/ssf/', { name: 'no key' });
      assert.equal(missing.status, 400);
      assert.deepEqual(missing.body, { signing_key: ['This field is required.'] });
      const badRetention = await call(srv, 'POST', '/providers/ssf/', { name: 'x', signing_key: kp.pk, event_retention: 'forever' });
      assert.equal(badRetention.status, 400);
      assert.ok(badRetention.body.event_retention, JSON.stringify(badRetention.body));
      const notOauth = await call(srv, 'POST', '/providers/ssf/', { name: 'x', signing_key: kp.pk, oidc_auth_providers: [pk] });
      assert.equal(notOauth.status, 400);
      assert.deepEqual(notOauth.body, { oidc_auth_providers: [`Invalid pk "${pk}" - object does not exist.`] });
      assert.equal((await call(srv, 'GET', '/providers/ssf/?name=x')).body.pagination.count, 0);

      const list = await body(providers.providersSsfListRaw({ nameIexact: 'RECEIVER' }));
      assertMatches('PaginatedSSFProviderList', list);
      assert.deepEqual(
        list.results.map((r: { pk: number }) => r.pk),
        [pk],
      );
      assert.equal((await call(srv, 'GET', '/providers/ssf/?application__isnull=true')).body.pagination.count, 1);
      assert.equal(
        (await call(srv, 'GET', '/providers/all/?backchannel=true')).body.results.some((r: { pk: number }) => r.pk === pk),
        true,
      );

      // a token deleted by hand is made again by the provider's next save
      const token = p.token_obj.identifier as string;
      assert.equal((await call(srv, 'DELETE', `/core/tokens/${token}/`)).status, 204);
      const saved = await body(
        providers.providersSsfPartialUpdateRaw({ id: pk, patchedSSFProviderRequest: { eventRetention: 'days=30' } }),
      );
      assert.equal(saved.token_obj.identifier, token);
      assert.notEqual(saved.token_obj.pk, p.token_obj.pk);
      providerToken = (await call(srv, 'GET', `/core/tokens/${token}/view_key/`)).body.key;

      // a renamed provider renames its service account; a deleted one takes its account and token along
      const other = await body(providers.providersSsfCreateRaw({ sSFProviderRequest: { name: 'Short-lived', signingKey: kp.pk } }));
      await body(providers.providersSsfPartialUpdateRaw({ id: other.pk, patchedSSFProviderRequest: { name: 'Renamed' } }));
      const account = await call(srv, 'GET', `/core/users/?username=ak-providers-ssf-${other.pk}`);
      assert.equal(account.body.results[0].name, 'SSF Provider Renamed Service-Account');
      const usedBy = (await call(srv, 'GET', `/providers/ssf/${other.pk}/used_by/`)).body;
      assert.deepEqual(
        usedBy.map((u: { model_name: string; action: string }) => [u.model_name, u.action]),
        [['token', 'cascade']],
      );
      assert.equal((await call(srv, 'DELETE', `/providers/ssf/${other.pk}/`)).status, 204);
      assert.equal((await call(srv, 'GET', `/core/users/?username=ak-providers-ssf-${other.pk}`)).body.pagination.count, 0);
      assert.equal((await call(srv, 'GET', `/core/tokens/ak-providers-ssf-${other.pk}/`)).status, 404);
    });

    it('the transmitter’s configuration and key; a stream made, read, changed and deleted by the receiver', async () => {
      const conf = await (await fetch(`${srv.url}/.well-known/ssf-configuration/receiver`)).json();
      assert.equal(conf.issuer, `${srv.url}/.well-known/ssf-configuration/receiver`);
      assert.equal(conf.jwks_uri, `${srv.url}/application/ssf/receiver/ssf-jwks/`);
      assert.equal(conf.configuration_endpoint, `${srv.url}/application/ssf/receiver/stream/`);
      assert.deepEqual(conf.delivery_methods_supported, [RISC_PUSH, PUSH]);
      assert.deepEqual(conf.authorization_schemes, [{ spec_urn: 'urn:ietf:rfc:6749' }]);
      assert.equal((await fetch(`${srv.url}/.well-known/ssf-configuration/nope`)).status, 404);
      assert.equal(jwks.keys.length, 1);
      assert.equal(jwks.keys[0]!.alg, 'RS256');

      // who may: nobody without a token, not another provider's token
      const req = { delivery: { method: PUSH, endpoint_url: receiver.url }, events_requested: [SESSION_REVOKED], format: 'iss_sub' };
      assert.equal((await stream('POST', 'receiver', undefined, req)).status, 403);
      assert.equal((await stream('POST', 'receiver', srv.token, req)).status, 403);
      const poll = await stream('POST', 'receiver', providerToken, { ...req, delivery: { method: RISC_POLL } });
      assert.equal(poll.status, 400);
      assert.deepEqual(poll.body, { delivery: { method: ['Polling for SSF events is not currently supported.'] } });
      const noUrl = await stream('POST', 'receiver', providerToken, { ...req, delivery: { method: PUSH } });
      assert.deepEqual(noUrl.body, { delivery: { non_field_errors: ['Endpoint URL is required when using push.'] } });
      const badType = await stream('POST', 'receiver', providerToken, { ...req, events_requested: ['urn:nope'] });
      assert.deepEqual(badType.body, { events_requested: { 0: ['"urn:nope" is not a valid choice.'] } });
      assert.equal((await srv.app.store.db.selectFrom('ssf_streams').select('uuid').execute()).length, 0);

      const from = receiver.deliveries.length;
      const made = await stream('POST', 'receiver', providerToken, {
        ...req,
        delivery: { ...req.delivery, authorization_header: 'Bearer receiver-secret' },
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const id = made.body.stream_id as string;
      assert.deepEqual(made.body, {
        stream_id: id,
        iss: `${srv.url}/.well-known/ssf-configuration/receiver`,
        aud: [`goauthentik.io/providers/ssf/${id}`],
        delivery: { method: PUSH, endpoint_url: receiver.url },
        format: 'iss_sub',
        events_requested: [SESSION_REVOKED, VERIFICATION],
        events_supported: [SESSION_REVOKED, CREDENTIAL_CHANGE, VERIFICATION],
        events_delivered: [SESSION_REVOKED, VERIFICATION],
      });
      // the receiver's credential is kept sealed
      const row = await srv.app.store.db.selectFrom('ssf_streams').selectAll().where('uuid', '=', id).executeTakeFirstOrThrow();
      assert.match(String(row.authorization_header), /^enc:v1:/);

      // the verification event, pushed at once: signed by the provider's key, about the stream
      const [first] = await deliveries(from, 1);
      assert.equal(first!.contentType, 'application/secevent+jwt');
      assert.equal(first!.authorization, 'Bearer receiver-secret');
      assert.equal(decodeProtectedHeader(first!.token).kid, jwks.keys[0]!.kid);
      const set = await verify(first!.token);
      assert.equal(set.iss, `${srv.url}/.well-known/ssf-configuration/receiver`);
      assert.deepEqual(set.aud, [`goauthentik.io/providers/ssf/${id}`]);
      assert.deepEqual(set.events, { [VERIFICATION]: { state: null } });
      assert.deepEqual(set.sub_id, { format: 'opaque', id });
      assert.match(String(set.jti), /^[0-9a-f]{32}$/);
      await until('sent', async () => ((await eventRows(id)).every((e) => e.status === 'sent') ? true : undefined));

      // read, verify with a state, change
      const read = await stream('GET', 'receiver', providerToken, undefined, `?stream_id=${id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.stream_id, id);
      const v = await fetch(`${srv.url}/application/ssf/receiver/stream/verify/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${providerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ stream_id: id, state: 'abc' }),
      });
      assert.equal(v.status, 204);
      const [again] = await deliveries(from + 1, 1);
      assert.deepEqual((await verify(again!.token)).events, { [VERIFICATION]: { state: 'abc' } });
      const changed = await stream('PATCH', 'receiver', providerToken, {
        stream_id: id,
        events_requested: [CREDENTIAL_CHANGE],
        aud: ['urn:rx'],
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.deepEqual(changed.body.events_requested, [CREDENTIAL_CHANGE, VERIFICATION]);
      assert.deepEqual(changed.body.aud, ['urn:rx']);
      const adminView = await body(ssf.ssfStreamsRetrieveRaw({ uuid: id }));
      assertMatches('SSFStream', adminView);
      assert.equal(adminView.provider, pk);
      assert.equal(adminView.status, 'enabled');
      assert.equal(adminView.provider_obj.pk, pk);
      const listed = await body(ssf.ssfStreamsListRaw({ provider: pk }));
      assertMatches('PaginatedSSFStreamList', listed);
      assert.deepEqual(
        listed.results.map((s: { pk: string }) => s.pk),
        [id],
      );

      // deleted: gone for the receiver, and from the database once nothing is pending
      assert.equal((await stream('DELETE', 'receiver', providerToken, undefined, `?stream_id=${id}`)).status, 204);
      assert.equal((await stream('GET', 'receiver', providerToken, undefined, `?stream_id=${id}`)).status, 404);
      assert.equal((await stream('DELETE', 'receiver', providerToken, undefined, `?stream_id=${id}`)).status, 404);
      assert.equal((await call(srv, 'GET', `/ssf/streams/${id}/`)).status, 404);
    });

    /** a stream of the application `slug` pushing `events` to the receiver; its id */
    async function pushStream(slug: string, token: string, events: string[]): Promise<string> {
      const from = receiver.deliveries.length;
      const made = await stream('POST', slug, token, {
        delivery: { method: PUSH, endpoint_url: receiver.url },
        events_requested: events,
        aud: [`urn:rx:${slug}`],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      await deliveries(from, 1, `urn:rx:${slug}`);
      return made.body.stream_id as string;
    }
    /** the verified tokens delivered to the stream of application `slug` after `from`, once there are `n` */
    const received = async (from: number, n: number, slug: string) =>
      Promise.all((await deliveries(from, n, `urn:rx:${slug}`)).map(async (d) => verify(d.token)));
    const status = (slug: string, token: string, b?: unknown, query = '') =>
      fetch(`${srv.url}/application/ssf/${slug}/stream/status/${query}`, {
        method: b === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, ...(b !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: b === undefined ? undefined : JSON.stringify(b),
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    // (a session's stored key is also its id for other parties: src/sessions/session-hash.ts)
    const sessionKeysOf = async (user: number) =>
      (await srv.app.store.db.selectFrom('sessions').select('session_key').where('user_id', '=', user).execute()).map((r) => r.session_key);

    it('CAEP events: a logout and a session ended by an admin, a password set, an authenticator added, renamed, removed', async () => {
      const app = await ssfApp('Events', 'events');
      const alice = await createUser(srv, 'alice', PASSWORD);
      const id = await pushStream('events', app.token, [SESSION_REVOKED, CREDENTIAL_CHANGE]);
      const aliceSubject = { format: 'email', email: 'alice@example.com' };

      let from = receiver.deliveries.length;
      const b = await loggedIn(srv, 'alice', PASSWORD);
      const [key] = await sessionKeysOf(alice);
      await b.get('default-invalidation-flow');
      assert.deepEqual(await sessionKeysOf(alice), []);
      const [revoked] = await received(from, 1, 'events');
      assert.deepEqual(revoked!.aud, ['urn:rx:events']);
      assert.deepEqual(Object.keys(revoked!.events as object), [SESSION_REVOKED]);
      const ev = (revoked!.events as Record<string, Record<string, unknown>>)[SESSION_REVOKED]!;
      assert.equal(ev.initiating_entity, 'user');
      assert.equal(typeof ev.event_timestamp, 'number');
      assert.deepEqual(revoked!.sub_id, { format: 'complex', user: aliceSubject, session: { format: 'opaque', id: key! } });

      // a session ended through the API: by an admin
      from = receiver.deliveries.length;
      await loggedIn(srv, 'alice', PASSWORD);
      const sessions = await call(srv, 'GET', `/core/authenticated_sessions/?user=${alice}`);
      const [second] = await sessionKeysOf(alice);
      assert.equal((await call(srv, 'DELETE', `/core/authenticated_sessions/${sessions.body.results[0].uuid}/`)).status, 204);
      const [byAdmin] = await received(from, 1, 'events');
      assert.equal((byAdmin!.events as Record<string, Record<string, unknown>>)[SESSION_REVOKED]!.initiating_entity, 'admin');
      assert.deepEqual((byAdmin!.sub_id as { session: unknown }).session, { format: 'opaque', id: second! });

      // a password set, an authenticator added, renamed and removed
      from = receiver.deliveries.length;
      assert.equal((await call(srv, 'POST', `/core/users/${alice}/set_password/`, { password: `${PASSWORD}-2` })).status, 204);
      const totp = await call(srv, 'POST', '/authenticators/admin/totp/', { name: 'Phone', user_pk: alice });
      assert.equal(totp.status, 201, JSON.stringify(totp.body));
      assert.equal((await call(srv, 'PATCH', `/authenticators/admin/totp/${totp.body.pk}/`, { name: 'Work phone' })).status, 200);
      assert.equal((await call(srv, 'DELETE', `/authenticators/admin/totp/${totp.body.pk}/`)).status, 204);
      const changes = await received(from, 4, 'events');
      assert.deepEqual(
        changes.map((c) => {
          const { event_timestamp, ...rest } = (c.events as Record<string, Record<string, unknown>>)[CREDENTIAL_CHANGE]!;
          assert.equal(typeof event_timestamp, 'number');
          return rest;
        }),
        [
          { credential_type: 'password', change_type: 'update' },
          { credential_type: 'pin', change_type: 'create', friendly_name: 'Phone' },
          { credential_type: 'pin', change_type: 'update', friendly_name: 'Work phone' },
          { credential_type: 'pin', change_type: 'delete', friendly_name: 'Work phone' },
        ],
      );
      for (const c of changes) assert.deepEqual(c.sub_id, { format: 'complex', user: aliceSubject });
      await until('all sent', async () => ((await eventRows(id)).every((e) => e.status === 'sent') ? true : undefined));

      // sent events past their retention go with the hourly clean-up, without another delivery
      const db = srv.app.store.db;
      const sent = await eventRows(id);
      assert.ok(sent.length >= 6);
      const past = new Date(Date.now() - 1000).toISOString();
      await db.updateTable('ssf_stream_events').set({ expires: past }).where('uuid', '=', sent[0]!.uuid).execute();
      const CLEAN = 'authentik.core.tasks.clean_expired_models';
      const schedule = (await call(srv, 'GET', `/tasks/schedules/?actor_name=${CLEAN}`)).body.results[0];
      assert.equal((await call(srv, 'POST', `/tasks/schedules/${schedule.id}/send/`)).status, 204);
      const task = await until('the clean-up', async () => {
        const t = (await call(srv, 'GET', `/tasks/tasks/?actor_name=${CLEAN}`)).body.results[0];
        return t && t.state === 'done' ? t : undefined;
      });
      const line = task.logs.find((l: { event: string }) => l.event === 'Expired ssf_stream_events');
      assert.ok(line && Number(line.attributes.amount) >= 1, JSON.stringify(task.logs));
      assert.deepEqual(
        (await eventRows(id)).map((e) => e.uuid),
        sent.slice(1).map((e) => e.uuid),
        'the expired one went, the others stay',
      );
    });

    it('only about people who may use the application: a user the application’s policies refuse is not told of', async () => {
      const app = await ssfApp('Members only', 'members');
      const group = await call(srv, 'POST', '/core/groups/', { name: 'ssf-members' });
      const carol = await createUser(srv, 'carol', PASSWORD, { groups: [group.body.pk] });
      const dave = await createUser(srv, 'dave', PASSWORD);
      const binding = await call(srv, 'POST', '/policies/bindings/', { target: app.app, group: group.body.pk, order: 0 });
      assert.equal(binding.status, 201, JSON.stringify(binding.body));
      const id = await pushStream('members', app.token, [CREDENTIAL_CHANGE]);
      const from = receiver.deliveries.length;
      assert.equal((await call(srv, 'POST', `/core/users/${dave}/set_password/`, { password: `${PASSWORD}-d` })).status, 204);
      assert.equal((await call(srv, 'POST', `/core/users/${carol}/set_password/`, { password: `${PASSWORD}-c` })).status, 204);
      const got = await received(from, 1, 'members');
      assert.deepEqual(
        got.map((g) => (g.sub_id as { user: { email: string } }).user.email),
        ['carol@example.com'],
      );
      const rows = await eventRows(id);
      assert.equal(rows.filter((r) => r.payload.includes('dave@example.com')).length, 0);
    });

    /** the CAEP credential-change events delivered to the stream of application `slug` after `from`, once there are `n` */
    const credentialChanges = async (from: number, n: number, slug: string) =>
      (await received(from, n, slug)).map((set) => {
        assert.deepEqual(Object.keys(set.events as object), [CREDENTIAL_CHANGE]);
        const { event_timestamp, ...rest } = (set.events as Record<string, Record<string, unknown>>)[CREDENTIAL_CHANGE]!;
        assert.equal(typeof event_timestamp, 'number');
        return { event: rest, sub_id: set.sub_id };
      });
    /** every event of stream `id` sent; then the deliveries to the stream of application `slug` after `from` */
    const allSentTo = async (id: string, from: number, slug: string) => {
      await until('all sent', async () => ((await eventRows(id)).every((e) => e.status === 'sent') ? true : undefined));
      return receiver.deliveries.slice(from).filter((d) => decodeClaims(d.token).aud?.[0] === `urn:rx:${slug}`);
    };

    it('CAEP credential-change "revoke" of the password when an account lockdown makes it unusable', async () => {
      const app = await ssfApp('Lockdown', 'lockdown');
      const gina = await createUser(srv, 'gina', PASSWORD);
      const id = await pushStream('lockdown', app.token, [CREDENTIAL_CHANGE]);
      const brand = (await call(srv, 'GET', '/core/brands/?domain=authentik-default')).body.results[0].brand_uuid;
      const flow = (await call(srv, 'GET', '/flows/instances/?slug=default-account-lockdown')).body.results[0].pk;
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_lockdown: flow })).status, 200);
      try {
        const from = receiver.deliveries.length;
        // an administrator locks gina's account from their browser (the default lockdown flow: prompt, then the stage)
        const admin = await loggedIn(srv, 'akadmin', ADMIN_PASSWORD);
        const link = await admin.fetch('/core/users/account_lockdown/', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ user: gina }),
        });
        assert.equal(link.status, 200, JSON.stringify(link.body));
        assert.equal((await admin.get('default-account-lockdown')).body.component, 'ak-stage-prompt');
        const done = await admin.solve('default-account-lockdown', { component: 'ak-stage-prompt', lockdown_reason: 'phished' } as never);
        assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
        const row = await srv.app.store.db
          .selectFrom('users')
          .select(['password', 'is_active'])
          .where('id', '=', gina)
          .executeTakeFirstOrThrow();
        assert.ok(row.password.startsWith('!'), 'the password is unusable');
        assert.equal(Number(row.is_active), 0);

        assert.deepEqual(await credentialChanges(from, 1, 'lockdown'), [
          {
            event: { credential_type: 'password', change_type: 'revoke' },
            sub_id: { format: 'complex', user: { format: 'email', email: 'gina@example.com' } },
          },
        ]);
        assert.equal((await allSentTo(id, from, 'lockdown')).length, 1, 'one event for the lockdown');
      } finally {
        assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_lockdown: null })).status, 200);
      }
    });

    it('CAEP credential-change "revoke" of the password when a password expiry policy makes an old one unusable', async () => {
      const app = await ssfApp('Expiry', 'expiry');
      const hank = await createUser(srv, 'hank', PASSWORD);
      const id = await pushStream('expiry', app.token, [CREDENTIAL_CHANGE]);
      const db = srv.app.store.db;
      // the password expiry policy (not deny_only: it makes the password unusable) on the default login binding
      const stages = await defaultStages(srv);
      const policy = await call(srv, 'POST', '/policies/password_expiry/', { name: 'ssf-expiry', days: 30, deny_only: false });
      assert.equal(policy.status, 201, JSON.stringify(policy.body));
      const binding = await call(srv, 'POST', '/policies/bindings/', {
        target: await bindingOf(srv, 'default-authentication-flow', stages.login),
        policy: policy.body.pk,
        order: 0,
      });
      assert.equal(binding.status, 201, JSON.stringify(binding.body));
      try {
        await db
          .updateTable('users')
          .set({ password_change_date: new Date(Date.now() - 31 * 86_400_000).toISOString() })
          .where('id', '=', hank)
          .execute();
        const from = receiver.deliveries.length;
        const b = new Browser(srv.api);
        await b.get('default-authentication-flow');
        await b.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: 'hank' });
        const end = await b.solve('default-authentication-flow', { component: 'ak-stage-password', password: PASSWORD });
        assert.equal(end.body.component, 'xak-flow-redirect', JSON.stringify(end.body));
        assert.equal((await b.me()).status, 403, 'not logged in');
        const row = await db.selectFrom('users').select('password').where('id', '=', hank).executeTakeFirstOrThrow();
        assert.ok(row.password.startsWith('!'), 'the password is unusable');

        assert.deepEqual(await credentialChanges(from, 1, 'expiry'), [
          {
            event: { credential_type: 'password', change_type: 'revoke' },
            sub_id: { format: 'complex', user: { format: 'email', email: 'hank@example.com' } },
          },
        ]);
        assert.equal((await allSentTo(id, from, 'expiry')).length, 1, 'one event for the expired password');
      } finally {
        assert.equal((await call(srv, 'DELETE', `/policies/bindings/${binding.body.pk}/`)).status, 204);
        assert.equal((await call(srv, 'DELETE', `/policies/password_expiry/${policy.body.pk}/`)).status, 204);
      }
    });

    it('a failing receiver: the event stays pending_failed with the answer logged; a paused stream holds its events', async () => {
      const app = await ssfApp('Flaky', 'flaky');
      const erin = await createUser(srv, 'erin', PASSWORD);
      const id = await pushStream('flaky', app.token, [CREDENTIAL_CHANGE]);
      receiver.status = 500;
      let from = receiver.deliveries.length;
      assert.equal((await call(srv, 'POST', `/core/users/${erin}/set_password/`, { password: `${PASSWORD}-1` })).status, 204);
      await deliveries(from, 1, 'urn:rx:flaky');
      const failed = await until('failed', async () => (await eventRows(id)).find((e) => e.status === 'pending_failed'));
      assert.equal(failed.attempts, 1);
      const task = await until('task logged', async () => {
        const t = await srv.app.store.db.selectFrom('tasks').selectAll().where('uid', '=', failed.uuid).executeTakeFirst();
        return t?.state === 'done' ? t : undefined;
      });
      const logs = JSON.parse(task.logs) as { event: string; attributes: Record<string, unknown> }[];
      assert.deepEqual(logs.find((l) => l.event === 'Failed to send request')?.attributes, {
        response: { status: 500, content: JSON.stringify({ err: 'invalid_request', description: 'refused' }) },
      });
      receiver.status = 202;

      // paused: held, not sent; enabled: the held event and the failed one go
      const paused = await status('flaky', app.token, { stream_id: id, status: 'paused' });
      assert.deepEqual(paused, { status: 200, body: { stream_id: id, status: 'paused' } });
      assert.deepEqual((await status('flaky', app.token, undefined, `?stream_id=${id}`)).body, { stream_id: id, status: 'paused' });
      assert.deepEqual((await status('flaky', app.token, { status: 'sleeping' })).body, { status: ['"sleeping" is not a valid choice.'] });
      from = receiver.deliveries.length;
      assert.equal((await call(srv, 'POST', `/core/users/${erin}/set_password/`, { password: `${PASSWORD}-2` })).status, 204);
      const held = await until('held', async () => (await eventRows(id)).find((e) => e.status === 'pending_new'));
      await until('held task done', async () => {
        const t = await srv.app.store.db.selectFrom('tasks').select('state').where('uid', '=', held.uuid).executeTakeFirst();
        return t?.state === 'done' ? true : undefined;
      });
      assert.equal(receiver.deliveries.slice(from).filter((d) => decodeClaims(d.token).aud?.[0] === 'urn:rx:flaky').length, 0);
      assert.equal((await status('flaky', app.token, { stream_id: id, status: 'enabled' })).status, 200);
      const sent = await received(from, 2, 'flaky');
      assert.deepEqual(new Set(sent.map((s) => s.jti)), new Set([failed.uuid, held.uuid].map((u) => u.replace(/-/g, ''))));
      await until('all sent', async () => ((await eventRows(id)).every((e) => e.status === 'sent') ? true : undefined));
    });

    it('a stream and its verification event are written together, as are a status and what it drops', async () => {
      const app = await ssfApp('Atomic', 'atomic');
      const streamsOf = async () =>
        (await srv.app.store.db.selectFrom('ssf_streams').select(['uuid', 'status']).where('provider_id', '=', app.pk).execute()).length;
      // the verification event cannot be stored: no stream is left without it
      let heal = await failWritesOf(srv, dialect, 'ssf_stream_events', 'insert');
      try {
        const refused = await stream('POST', 'atomic', app.token, {
          delivery: { method: PUSH, endpoint_url: receiver.url },
          events_requested: [CREDENTIAL_CHANGE],
          aud: ['urn:rx:atomic'],
        });
        assert.equal(refused.status, 500);
        assert.equal(await streamsOf(), 0);
      } finally {
        await heal();
      }
      const id = await pushStream('atomic', app.token, [CREDENTIAL_CHANGE]);
      assert.equal(await streamsOf(), 1);
      // paused with an event held; disabling cannot drop it: the stream stays paused, its event held
      assert.equal((await status('atomic', app.token, { stream_id: id, status: 'paused' })).status, 200);
      const erin = await createUser(srv, 'atomic-erin', PASSWORD);
      assert.equal((await call(srv, 'POST', `/core/users/${erin}/set_password/`, { password: `${PASSWORD}-1` })).status, 204);
      await until('held', async () => (await eventRows(id)).find((e) => e.status === 'pending_new'));
      heal = await failWritesOf(srv, dialect, 'ssf_stream_events', 'delete');
      try {
        assert.equal((await status('atomic', app.token, { stream_id: id, status: 'disabled' })).status, 500);
      } finally {
        await heal();
      }
      assert.deepEqual((await status('atomic', app.token, undefined, `?stream_id=${id}`)).body, { stream_id: id, status: 'paused' });
      assert.ok((await eventRows(id)).some((e) => e.status === 'pending_new'));
      // and without the fault both happen
      assert.equal((await status('atomic', app.token, { stream_id: id, status: 'disabled' })).status, 200);
      assert.deepEqual(
        (await eventRows(id)).filter((e) => e.status === 'pending_new'),
        [],
      );
    });

    it('two nodes re-enabling a stream at once send its held event once', async () => {
      const app = await ssfApp('Twice', 'twice');
      const frank = await createUser(srv, 'frank', PASSWORD);
      const id = await pushStream('twice', app.token, [CREDENTIAL_CHANGE]);
      const other = await startServer(dialect, sameDatabase(srv));
      try {
        assert.equal((await status('twice', app.token, { status: 'paused' })).status, 200);
        const from = receiver.deliveries.length;
        assert.equal((await call(srv, 'POST', `/core/users/${frank}/set_password/`, { password: `${PASSWORD}-1` })).status, 204);
        const held = await until('held', async () => (await eventRows(id)).find((e) => e.status === 'pending_new'));
        const enable = (node: TestServer) =>
          fetch(`${node.url}/application/ssf/twice/stream/status/`, {
            method: 'POST',
            headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ status: 'enabled' }),
          }).then((r) => r.status);
        assert.deepEqual(await Promise.all([enable(srv), enable(other), enable(srv), enable(other)]), [200, 200, 200, 200]);
        await until('sent', async () => ((await eventRows(id)).every((e) => e.status === 'sent') ? true : undefined));
        await until('tasks done', async () => {
          const ts = await srv.app.store.db.selectFrom('tasks').select('state').where('uid', '=', held.uuid).execute();
          return ts.length > 1 && ts.every((t) => t.state === 'done') ? true : undefined;
        });
        assert.equal(receiver.deliveries.slice(from).filter((d) => decodeJti(d.token) === held.uuid.replace(/-/g, '')).length, 1);
      } finally {
        await other.close();
      }
    });

    it('a stream deleted while the receiver verifies, re-enables or changes it: 204/200 or 404, and it stays deleted', async () => {
      const app = await ssfApp('Racing', 'racing');
      for (let round = 0; round < 4; round++) {
        const id = await pushStream('racing', app.token, [CREDENTIAL_CHANGE]);
        const [verified, enabled, changed, deleted] = await Promise.all([
          stream('POST', 'racing', app.token, { stream_id: id, state: `s${round}` }, 'verify/'),
          status('racing', app.token, { stream_id: id, status: 'enabled' }),
          stream('PATCH', 'racing', app.token, { stream_id: id, aud: [`urn:rx:racing:${round}`] }),
          stream('DELETE', 'racing', app.token, undefined, `?stream_id=${id}`),
        ]);
        assert.equal(deleted.status, 204);
        assert.ok([204, 404].includes(verified.status), `verify: ${verified.status} ${JSON.stringify(verified.body)}`);
        assert.ok([200, 404].includes(enabled.status), `status: ${enabled.status} ${JSON.stringify(enabled.body)}`);
        assert.ok([200, 404].includes(changed.status), `update: ${changed.status} ${JSON.stringify(changed.body)}`);
        const row = await srv.app.store.db.selectFrom('ssf_streams').select('status').where('uuid', '=', id).executeTakeFirst();
        assert.ok(row === undefined || row.status === 'disabled_deleted', `the stream came back: ${row?.status}`);
        assert.equal((await status('racing', app.token, undefined, `?stream_id=${id}`)).status, 404);
      }
    });

    it('a blueprint makes an SSF provider, its service account and token as the API does', async () => {
      const yaml = [
        'version: 1',
        'entries:',
        '  - model: authentik_providers_ssf.ssfprovider',
        '    identifiers: { name: From a blueprint }',
        `    attrs: { signing_key: ${kp.pk}, event_retention: hours=1 }`,
        '',
      ].join('\n');
      const applied = await importBlueprint(srv, yaml);
      assert.equal(applied.success, true, JSON.stringify(applied.logs));
      const made = (await call(srv, 'GET', '/providers/ssf/?name__iexact=from a blueprint')).body.results[0];
      assert.equal(made.event_retention, 'hours=1');
      assert.equal(made.token_obj.identifier, `ak-providers-ssf-${made.pk}`);
      assert.equal(made.token_obj.user_obj.type, 'internal_service_account');
    });

    it('OAuth2 access tokens of the application’s provider manage streams; adding one needs add_stream on the provider', async () => {
      const flows = await call(srv, 'GET', '/flows/instances/?ordering=slug&page_size=100');
      const flowPk = (s: string) => flows.body.results.find((f: { slug: string }) => f.slug === s).pk;
      const oauth = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'SSF RP',
        authorization_flow: flowPk('default-provider-authorization-implicit-consent'),
        invalidation_flow: flowPk('default-provider-invalidation-flow'),
        redirect_uris: [{ matching_mode: 'strict', url: 'http://127.0.0.1:9/cb' }],
      });
      assert.equal(oauth.status, 201, JSON.stringify(oauth.body));
      const created = await body(providers.providersSsfCreateRaw({ sSFProviderRequest: { name: 'With OIDC', signingKey: kp.pk } }));
      const app = await call(srv, 'POST', '/core/applications/', {
        name: 'OIDC',
        slug: 'oidc',
        provider: oauth.body.pk,
        backchannel_providers: [created.pk],
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const grant = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: oauth.body.client_id,
          client_secret: oauth.body.client_secret,
          scope: 'openid',
        }),
      });
      assert.equal(grant.status, 200);
      const access = ((await grant.json()) as { access_token: string }).access_token;
      const req = { delivery: { method: PUSH, endpoint_url: receiver.url }, events_requested: [SESSION_REVOKED] };
      // the token opens the endpoint (no stream yet: 404), but may not add one
      assert.equal((await stream('GET', 'oidc', access)).status, 404);
      const refused = await stream('POST', 'oidc', access, req);
      assert.deepEqual(refused, { status: 403, body: { detail: 'User does not have permission to create stream for this provider.' } });
      // not for another application's SSF provider
      assert.equal((await stream('GET', 'receiver', access)).status, 403);

      const sa = await call(srv, 'GET', '/core/users/?username=ak-SSF RP-client_credentials');
      const role = (await call(srv, 'POST', '/rbac/roles/', { name: 'ssf-stream-adders' })).body.pk;
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: sa.body.results[0].pk })).status, 204);
      const assign = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, {
        permissions: ['authentik_providers_ssf.add_stream'],
        model: 'authentik_providers_ssf.ssfprovider',
        object_pk: String(created.pk),
      });
      assert.equal(assign.status, 200, JSON.stringify(assign.body));
      const from = receiver.deliveries.length;
      const made = await stream('POST', 'oidc', access, req);
      assert.equal(made.status, 201, JSON.stringify(made.body));
      await deliveries(from, 1);
      // a revoked token no longer does
      await srv.app.store.db.updateTable('oauth2_access_tokens').set({ revoked: 1 }).execute();
      assert.equal((await stream('GET', 'oidc', access)).status, 403);
    });
  });
}
