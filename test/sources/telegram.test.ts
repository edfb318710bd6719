/**
 * Telegram sources (authentik's authentik/sources/telegram): the admin API (the bot token sealed and never returned),
 * the login — the pre-authentication flow ending in the Telegram login stage, whose response is the Login Widget's
 * signed answer (HMAC-SHA-256 keyed with the bot token's SHA-256, as Telegram signs it), checked, then the source's
 * flows — and `connect_user/` for someone logged in.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { connectionsOf, flowPks, groupNamesOf, loggedInAs, runFlow } from '../helpers/sources.js';
import { createUser } from '../helpers/flows.js';

const BOT_TOKEN = '7654321:AAE-test-bot-token';

/** what Telegram's widget hands the page: the person's fields, auth_date and the hash over them */
function widgetAnswer(fields: Record<string, string | number>, token = BOT_TOKEN, authDate = Math.floor(Date.now() / 1000)) {
  const all: Record<string, string | number> = { ...fields, auth_date: authDate };
  const check = Object.keys(all)
    .sort()
    .map((k) => `${k}=${all[k]}`)
    .join('\n');
  const hash = createHmac('sha256', createHash('sha256').update(token).digest()).update(check).digest('hex');
  return { ...all, hash };
}

for (const dialect of dialects()) {
  describe(`Telegram sources (${dialect})`, () => {
    let srv: TestServer;
    let sourcePk = '';
    let flows: Record<string, string>;

    /** the login: start URL → the pre-authentication flow's Telegram stage; the jar's executor path */
    async function toTelegramStage(jar: CookieJar) {
      const res = await fetch(`${srv.url}/source/telegram/tg/`, { headers: jar.headers(), redirect: 'manual' });
      jar.keep(res);
      assert.equal(res.status, 302, await res.clone().text());
      const flow = /^\/if\/flow\/([^/]+)\/$/.exec(res.headers.get('location') ?? '')![1]!;
      const challenge = (await jar.json(`${srv.api}/flows/executor/${flow}/?query=`)).body;
      return { flow, challenge };
    }

    before(async () => {
      srv = await startServer(dialect);
      flows = await flowPks(srv);
    });
    after(async () => srv.close());

    it('creates a source; the bot token is required, sealed and never returned', async () => {
      const bad = await call(srv, 'POST', '/sources/telegram/', {
        name: 'Telegram',
        slug: 'tg',
        bot_username: 'keystage_bot',
        pre_authentication_flow: flows['default-source-pre-authentication'],
      });
      assert.equal(bad.status, 400);
      assert.deepEqual(Object.keys(bad.body), ['bot_token']);
      const made = await call(srv, 'POST', '/sources/telegram/', {
        name: 'Telegram',
        slug: 'tg',
        bot_username: 'keystage_bot',
        bot_token: BOT_TOKEN,
        pre_authentication_flow: flows['default-source-pre-authentication'],
        authentication_flow: flows['default-source-authentication'],
        enrollment_flow: flows['default-source-enrollment'],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assertMatches('TelegramSource', made.body);
      assert.equal('bot_token' in made.body, false);
      assert.equal(made.body.request_message_access, false);
      assert.equal(made.body.component, 'ak-source-telegram-form');
      sourcePk = made.body.pk;
      const row = await srv.app.store.db.selectFrom('telegram_sources').select('bot_token').executeTakeFirstOrThrow();
      assert.ok(row.bot_token.startsWith('enc:v1:'));
      assert.ok(!row.bot_token.includes(BOT_TOKEN));
      const types = await call(srv, 'GET', '/propertymappings/all/types/');
      assert.ok(types.body.some((t: { model_name: string }) => t.model_name === 'telegramsourcepropertymapping'));
    });

    it('logs a person in: the widget’s signed answer, then the enrollment flow; the next time the same account', async () => {
      const jar = new CookieJar();
      const { flow, challenge } = await toTelegramStage(jar);
      assert.equal(flow, 'default-source-pre-authentication');
      assert.equal(challenge.component, 'ak-source-telegram');
      assert.equal(challenge.bot_username, 'keystage_bot');
      assert.equal(challenge.request_message_access, false);
      assertMatches('TelegramLoginChallenge', challenge);
      const answer = widgetAnswer({ id: 424242, first_name: 'Tess', last_name: 'Gram', username: 'tessgram' });
      const posted = await jar.json(`${srv.api}/flows/executor/${flow}/?query=`, 'POST', { component: 'ak-source-telegram', ...answer });
      assert.equal(posted.body.component, 'xak-flow-redirect', JSON.stringify(posted.body));
      assert.equal(posted.body.to, '/source/telegram/tg/done/');
      const done = await fetch(`${srv.url}${posted.body.to}`, { headers: jar.headers(), redirect: 'manual' });
      jar.keep(done);
      const final = await runFlow(srv, jar, done);
      assert.equal(final.to, '/if/user/');
      const user = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'tessgram').executeTakeFirstOrThrow();
      assert.equal(user.name, 'Tess Gram');
      assert.equal(await loggedInAs(srv, jar), user.id);
      const [conn] = await connectionsOf(srv, sourcePk);
      assert.equal(conn!.identifier, '424242');
      // the answer was taken once
      const again = await fetch(`${srv.url}/source/telegram/tg/done/`, { headers: jar.headers(), redirect: 'manual' });
      assert.equal(again.status, 400);
      assert.match(await again.text(), /No Telegram login to continue/);

      const jar2 = new CookieJar();
      const second = await toTelegramStage(jar2);
      const p2 = await jar2.json(`${srv.api}/flows/executor/${second.flow}/?query=`, 'POST', {
        ...widgetAnswer({ id: 424242, first_name: 'Tess' }),
      });
      const d2 = await fetch(`${srv.url}${p2.body.to}`, { headers: jar2.headers(), redirect: 'manual' });
      jar2.keep(d2);
      assert.equal((await runFlow(srv, jar2, d2)).to, '/if/user/');
      assert.equal(await loggedInAs(srv, jar2), user.id);
      const listed = await call(srv, 'GET', '/sources/user_connections/telegram/');
      assertMatches('PaginatedUserTelegramSourceConnectionList', listed.body);
      assert.equal(listed.body.results.length, 1);
    });

    it('the groups a mapping names are made and joined (authentik: groups_properties for every source)', async () => {
      const mapping = await call(srv, 'POST', '/propertymappings/source/telegram/', {
        name: 'tg-groups',
        expression: 'return {"groups": ["tg-" + str(info["id"])]}',
      });
      assert.equal(mapping.status, 201, JSON.stringify(mapping.body));
      assert.equal((await call(srv, 'PATCH', '/sources/telegram/tg/', { user_property_mappings: [mapping.body.pk] })).status, 200);
      const jar = new CookieJar();
      const { flow } = await toTelegramStage(jar);
      const posted = await jar.json(`${srv.api}/flows/executor/${flow}/?query=`, 'POST', {
        component: 'ak-source-telegram',
        ...widgetAnswer({ id: 515151, first_name: 'Gro', username: 'groupie' }),
      });
      const done = await fetch(`${srv.url}${posted.body.to}`, { headers: jar.headers(), redirect: 'manual' });
      jar.keep(done);
      assert.equal((await runFlow(srv, jar, done)).to, '/if/user/');
      const db = srv.app.store.db;
      const user = await db.selectFrom('users').select('id').where('username', '=', 'groupie').executeTakeFirstOrThrow();
      assert.deepEqual(await groupNamesOf(srv, user.id), ['tg-515151']);
      assert.equal((await call(srv, 'PATCH', '/sources/telegram/tg/', { user_property_mappings: [] })).status, 200);
    });

    it('refuses a forged, altered or stale answer, keeping the person at the stage', async () => {
      const jar = new CookieJar();
      const { flow } = await toTelegramStage(jar);
      const post = (body: Record<string, unknown>) => jar.json(`${srv.api}/flows/executor/${flow}/?query=`, 'POST', body);
      const forged = await post(widgetAnswer({ id: 1, username: 'mallory' }, '1:other-bot-token'));
      assert.equal(forged.body.component, 'ak-source-telegram');
      assert.deepEqual(
        forged.body.response_errors.non_field_errors.map((e: { string: string }) => e.string),
        ['Invalid hash'],
      );
      const altered = { ...widgetAnswer({ id: 1, username: 'mallory' }), id: 424242 };
      assert.deepEqual(
        (await post(altered)).body.response_errors.non_field_errors.map((e: { string: string }) => e.string),
        ['Invalid hash'],
      );
      const stale = await post(widgetAnswer({ id: 1 }, BOT_TOKEN, Math.floor(Date.now() / 1000) - 600));
      assert.deepEqual(
        stale.body.response_errors.auth_date.map((e: { string: string }) => e.string),
        ['Authentication date is too old'],
      );
      const missing = await post({ component: 'ak-source-telegram', id: 1 });
      assert.ok(missing.body.response_errors.hash);
      // nothing was handed on
      const done = await fetch(`${srv.url}/source/telegram/tg/done/`, { headers: jar.headers(), redirect: 'manual' });
      assert.equal(done.status, 400);
      assert.equal((await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'mallory').execute()).length, 0);
    });

    it('connect_user/: someone logged in connects their Telegram account; another person’s is refused', async () => {
      await createUser(srv, 'ursula', 'ursula-password-1');
      const ursula = await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'ursula').executeTakeFirstOrThrow();
      const token = await call(srv, 'POST', '/core/tokens/', { identifier: 'ursula-api', intent: 'api', user: ursula.id, expiring: false });
      assert.equal(token.status, 201, JSON.stringify(token.body));
      const key = (await call(srv, 'GET', '/core/tokens/ursula-api/view_key/')).body.key;
      const asUrsula = (body: unknown) =>
        fetch(`${srv.api}/sources/telegram/tg/connect_user/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).then(async (r) => ({ status: r.status, body: await r.json() }));
      const made = await asUrsula(widgetAnswer({ id: 777, username: 'ursula_tg' }));
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assertMatches('UserTelegramSourceConnection', made.body);
      assert.equal(made.body.user, ursula.id);
      assert.equal(made.body.identifier, '777');
      // the same again: still hers
      assert.equal((await asUrsula(widgetAnswer({ id: 777 }))).status, 201);
      // tessgram's account is someone else's
      const taken = await asUrsula(widgetAnswer({ id: 424242 }));
      assert.equal(taken.status, 403);
      assert.equal(taken.body.detail, 'This Telegram account is already connected to another user.');
      const forged = await asUrsula(widgetAnswer({ id: 778 }, '1:other'));
      assert.equal(forged.status, 400);
      assert.deepEqual(forged.body.non_field_errors, ['Invalid hash']);
      const rows = (await connectionsOf(srv, sourcePk)).filter((c) => Number(c.user_id) === ursula.id);
      assert.deepEqual(
        rows.map((c) => c.identifier),
        ['777'],
      );
      // the identification stage's button
      const stage = await call(srv, 'POST', '/stages/identification/', { name: 'tg-id', user_fields: ['username'], sources: [sourcePk] });
      const flow = await call(srv, 'POST', '/flows/instances/', {
        name: 'tg-login',
        slug: 'tg-login',
        title: 'x',
        designation: 'authentication',
      });
      await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: stage.body.pk, order: 0 });
      const shown = (await new CookieJar().json(`${srv.api}/flows/executor/tg-login/?query=`)).body;
      assert.deepEqual(shown.sources[0].challenge, { component: 'xak-flow-redirect', to: '/source/telegram/tg/' });
      // a disabled source's login answers 404
      await call(srv, 'PATCH', '/sources/telegram/tg/', { enabled: false });
      assert.equal((await fetch(`${srv.url}/source/telegram/tg/`, { redirect: 'manual' })).status, 404);
    });
  });
}
