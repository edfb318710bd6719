/**
 * Plex sources (authentik's authentik/sources/plex) against plex.tv's API on 127.0.0.1 (`plexUrl`): the admin API
 * (a client id made when none is given, the owner's token sealed and never returned), `redeem_token/` — a member of an
 * allowed server or a friend of the owner gets the redirect to the source's flow and is enrolled, anyone else 403 —
 * `redeem_token_authenticated/`, and the identification stage's `ak-source-plex` button.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { connectionsOf, flowPks, groupNamesOf, loggedInAs } from '../helpers/sources.js';
import { createUser } from '../helpers/flows.js';
import { FakePlex } from '../helpers/fake-plex.js';

for (const dialect of dialects()) {
  describe(`Plex sources (${dialect})`, () => {
    let srv: TestServer;
    let plex: FakePlex;
    let sourcePk = '';

    const redeem = (jar: CookieJar, token: string, slug = 'plex') =>
      jar.json(`${srv.api}/sources/plex/redeem_token/?slug=${slug}`, 'POST', { plex_token: token });

    before(async () => {
      plex = await new FakePlex().start();
      srv = await startServer(dialect, { plexUrl: plex.url });
      plex.accounts.set('owner-token', { id: 1, username: 'owner', email: 'owner@plex.example', title: 'Owner', friends: [30] });
      plex.accounts.set('member-token', { id: 20, username: 'member', email: 'member@plex.example', title: 'Mem Ber', servers: ['srv-a'] });
      plex.accounts.set('friend-token', { id: 30, username: 'buddy', email: 'buddy@plex.example', title: 'Buddy' });
      plex.accounts.set('stranger-token', {
        id: 40,
        username: 'stranger',
        email: 'stranger@plex.example',
        title: 'Stranger',
        servers: ['srv-z'],
      });
    });
    after(async () => {
      await srv.close();
      await plex.close();
    });

    it('creates a source: a client id made when none is given, the owner’s token sealed and never returned', async () => {
      const flows = await flowPks(srv);
      const made = await call(srv, 'POST', '/sources/plex/', {
        name: 'Plex',
        slug: 'plex',
        allowed_servers: ['srv-a'],
        allow_friends: true,
        plex_token: 'owner-token',
        authentication_flow: flows['default-source-authentication'],
        enrollment_flow: flows['default-source-enrollment'],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assertMatches('PlexSource', made.body);
      assert.equal(made.body.client_id.length, 40);
      assert.deepEqual(made.body.allowed_servers, ['srv-a']);
      assert.equal(made.body.plex_token, '');
      sourcePk = made.body.pk;
      const row = await srv.app.store.db.selectFrom('plex_sources').select('plex_token').executeTakeFirstOrThrow();
      assert.ok(row.plex_token.startsWith('enc:v1:'));
      // the "" it reads back as, sent back, keeps the token
      assert.equal((await call(srv, 'PATCH', '/sources/plex/plex/', { plex_token: '', name: 'Plex' })).status, 200);
      const again = await srv.app.store.db.selectFrom('plex_sources').select('plex_token').executeTakeFirstOrThrow();
      assert.equal(again.plex_token, row.plex_token);
    });

    it('redeem_token/: a member of an allowed server is enrolled; a friend of the owner too; a stranger is refused', async () => {
      const jar = new CookieJar();
      const r = await redeem(jar, 'member-token');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assertMatches('RedirectChallenge', r.body);
      assert.equal(r.body.to, '/if/flow/default-source-enrollment/');
      const done = await jar.json(`${srv.api}/flows/executor/default-source-enrollment/?query=`);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      assert.equal(done.body.to, '/if/user/', JSON.stringify(done.body));
      const member = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'member').executeTakeFirstOrThrow();
      assert.equal(member.email, 'member@plex.example');
      assert.equal(member.name, 'Mem Ber');
      assert.equal(await loggedInAs(srv, jar), member.id);
      const [conn] = await connectionsOf(srv, sourcePk);
      assert.equal(conn!.identifier, '20');
      assert.ok(conn!.access_token?.startsWith('enc:v1:'));
      // plex.tv was asked with the source's client id
      const client = (await call(srv, 'GET', '/sources/plex/plex/')).body.client_id;
      assert.ok(plex.requests.filter((q) => q.path === '/api/v2/user').every((q) => q.client === client));

      const friend = new CookieJar();
      const fr = await redeem(friend, 'friend-token');
      assert.equal(fr.status, 200, JSON.stringify(fr.body));

      const stranger = await redeem(new CookieJar(), 'stranger-token');
      assert.equal(stranger.status, 403);
      assert.equal(stranger.body.detail, 'Access denied.');
      const unknown = await redeem(new CookieJar(), 'not-a-token');
      assert.equal(unknown.status, 400);
      assert.equal((await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'stranger').execute()).length, 0);
      // friends allowed but no owner token: the source cannot check friendships
      const second = await call(srv, 'POST', '/sources/plex/', { name: 'Plex 2', slug: 'plex2', allow_friends: true, plex_token: '' });
      assert.equal(second.status, 201, JSON.stringify(second.body));
      const noOwner = await redeem(new CookieJar(), 'member-token', 'plex2');
      assert.equal(noOwner.status, 400);
      assert.deepEqual(noOwner.body.non_field_errors, ['Source has no Plex token configured.']);
      // without allowed servers and friends: no one (authentik's check_server_overlap never matches an empty list)
      await call(srv, 'PATCH', '/sources/plex/plex2/', { allow_friends: false });
      for (const token of ['stranger-token', 'member-token']) {
        const none = await redeem(new CookieJar(), token, 'plex2');
        assert.equal(none.status, 403, JSON.stringify(none.body));
        assert.equal(none.body.detail, 'Access denied.');
      }
    });

    it('redeem_token/: the owner is let in by friendship checks; a friends list plex.tv will not give lets no friend in', async () => {
      // the owner reaches no allowed server, and is no friend of their own
      const owner = await redeem(new CookieJar(), 'owner-token');
      assert.equal(owner.status, 200, JSON.stringify(owner.body));
      assert.equal(owner.body.component, 'xak-flow-redirect');
      plex.accounts.set('owner2-token', {
        id: 2,
        username: 'owner2',
        email: 'o2@plex.example',
        title: 'O2',
        friends: [30],
        friendsStatus: 410,
      });
      const third = await call(srv, 'POST', '/sources/plex/', {
        name: 'Plex 3',
        slug: 'plex3',
        allow_friends: true,
        plex_token: 'owner2-token',
      });
      assert.equal(third.status, 201, JSON.stringify(third.body));
      const friend = await redeem(new CookieJar(), 'friend-token', 'plex3');
      assert.equal(friend.status, 403, JSON.stringify(friend.body));
      // (the owner passes the check; this source has no flows to go on with)
      const owner2 = await redeem(new CookieJar(), 'owner2-token', 'plex3');
      assert.equal(owner2.status, 400, JSON.stringify(owner2.body));
      assert.match(owner2.body.non_field_errors[0], /not configured for enrollment/);
    });

    it('a mapping sees plex.tv’s whole user as `info`, and the groups it names are made and joined', async () => {
      const flows = await flowPks(srv);
      const mapping = await call(srv, 'POST', '/propertymappings/source/plex/', {
        name: 'plex-groups',
        expression: 'return {"groups": ["plex-" + info["uuid"]], "attributes": {"plex_uuid": info["uuid"]}}',
      });
      assert.equal(mapping.status, 201, JSON.stringify(mapping.body));
      const fourth = await call(srv, 'POST', '/sources/plex/', {
        name: 'Plex 4',
        slug: 'plex4',
        allow_friends: false,
        allowed_servers: ['srv-z'],
        plex_token: '',
        enrollment_flow: flows['default-source-enrollment'],
        user_property_mappings: [mapping.body.pk],
      });
      assert.equal(fourth.status, 201, JSON.stringify(fourth.body));
      const jar = new CookieJar();
      const r = await redeem(jar, 'stranger-token', 'plex4');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const done = await jar.json(`${srv.api}/flows/executor/default-source-enrollment/?query=`);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      const db = srv.app.store.db;
      const user = await db.selectFrom('users').selectAll().where('username', '=', 'stranger').executeTakeFirstOrThrow();
      assert.equal(JSON.parse(user.attributes).plex_uuid, 'u40');
      assert.deepEqual(await groupNamesOf(srv, user.id), ['plex-u40']);
    });

    it('redeem_token_authenticated/ connects the Plex account to whoever is logged in; the identification button', async () => {
      await createUser(srv, 'paula', 'paula-password-1');
      const paula = await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'paula').executeTakeFirstOrThrow();
      await call(srv, 'POST', '/core/tokens/', { identifier: 'paula-api', intent: 'api', user: paula.id, expiring: false });
      const key = (await call(srv, 'GET', '/core/tokens/paula-api/view_key/')).body.key;
      const asPaula = (token: string) =>
        fetch(`${srv.api}/sources/plex/redeem_token_authenticated/?slug=plex`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ plex_token: token }),
        });
      plex.accounts.set('paula-token', { id: 50, username: 'paula_plex', email: 'p@plex.example', title: 'P', servers: ['srv-a'] });
      assert.equal((await asPaula('paula-token')).status, 204);
      const mine = (await connectionsOf(srv, sourcePk)).filter((c) => Number(c.user_id) === paula.id);
      assert.deepEqual(
        mine.map((c) => c.identifier),
        ['50'],
      );
      // the member's account is someone else's; a stranger is refused
      assert.equal((await asPaula('member-token')).status, 403);
      assert.equal((await asPaula('stranger-token')).status, 403);
      const anonymous = await fetch(`${srv.api}/sources/plex/redeem_token_authenticated/?slug=plex`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ plex_token: 'paula-token' }),
      });
      assert.equal(anonymous.status, 403);

      const stage = await call(srv, 'POST', '/stages/identification/', { name: 'plex-id', user_fields: ['username'], sources: [sourcePk] });
      const flow = await call(srv, 'POST', '/flows/instances/', {
        name: 'plex-login',
        slug: 'plex-login',
        title: 'x',
        designation: 'authentication',
      });
      await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: stage.body.pk, order: 0 });
      const shown = (await new CookieJar().json(`${srv.api}/flows/executor/plex-login/?query=`)).body;
      assertMatches('IdentificationChallenge', shown);
      const client = (await call(srv, 'GET', '/sources/plex/plex/')).body.client_id;
      assert.deepEqual(shown.sources[0].challenge, { component: 'ak-source-plex', client_id: client, slug: 'plex' });
    });
  });
}
