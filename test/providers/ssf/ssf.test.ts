/**
 * The Shared Signals Framework provider, on SQLite and PostgreSQL: `/providers/ssf/` through the official client
 * (its service account and token, validation, used_by, deletion), the transmitter's configuration and JWKS, the
 * stream endpoint as a receiver drives it (create, read, update, verify, status, delete; who may), and the CAEP events
 * pushed to a receiver on 127.0.0.1 — verification, session-revoked at logout, credential-change for a password and an
 * authenticator — as security event tokens signed by the provider's key; only about people who may use the
 * application; a failing receiver; a paused stream holding its events; two nodes sending an event once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { ProvidersApi } from '@goauthentik/api/dist/apis/ProvidersApi.js';
import { SsfApi } from '@goauthentik/api/dist/apis/SsfApi.js';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser, loggedIn } from '../../helpers/flows.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { until } from '../../helpers/wait.js';
import { FakeSsfReceiver } from '../../helpers/fake-ssf-receiver.js';
import { body } from '../../rest/contract/client.js';
import { keyPairOf } from '../saml/sp.js';

const PUSH = 'urn:ietf:rfc:8935';
const RISC_PUSH = 'https://schemas.openid.net/secevent/risc/delivery-method/push';
const RISC_POLL = 'https://schemas.openid.net/secevent/risc/delivery-method/poll';
const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
const PASSWORD = 'ssf-correct-horse-1';

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
    /** the deliveries after the first `from`, once there are `n` of them */
    const deliveries = (from: number, n: number) =>
      until(`${n} deliveries`, async () => (receiver.deliveries.length >= from + n ? receiver.deliveries.slice(from) : undefined));
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
  });
}
