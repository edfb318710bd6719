/**
 * Webhook mappings (/propertymappings/notification/, authentik's NotificationWebhookMapping) and the SMS stage's
 * `mapping`: the generic webhook's whole body, or Twilio's text, made by the mapping's Python from `user`, `device`,
 * `token` and `stage`; a failing mapping sends nothing and is recorded; deleting the mapping sets the stage's to null.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { SmsGateway } from '../helpers/fake-providers.js';
import { createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';

for (const dialect of dialects()) {
  describe(`SMS webhook mappings (${dialect})`, () => {
    let srv: TestServer;
    let sms: SmsGateway;
    let s: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      sms = await new SmsGateway().start();
      srv = await startServer(dialect, { twilioApiUrl: sms.url });
      s = await defaultStages(srv);
    });
    after(async () => {
      await srv.close();
      await sms.close();
    });

    const mapping = async (name: string, expression: string) => {
      const r = await call(srv, 'POST', '/propertymappings/notification/', { name, expression });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };
    const smsStage = (name: string, extra: Record<string, unknown>) =>
      createStage(srv, '/stages/authenticator/sms/', {
        name,
        provider: 'generic',
        from_number: 'Keystage',
        account_sid: `${sms.url}/hook`,
        auth: 'hook-token',
        auth_type: 'bearer',
        ...extra,
      });
    /** a login flow whose validation stage enrols with `setup`; the user at the phone number step */
    async function atPhoneNumber(setup: string, user: string) {
      const v = await createStage(srv, '/stages/authenticator/validate/', {
        name: `${user}-validate`,
        not_configured_action: 'configure',
        configuration_stages: [setup],
      });
      const slug = await flowOf(srv, `${user}-flow`, [s.identification, s.password, v, s.login]);
      await createUser(srv, user, `${user}-password-1`);
      const b = new BrowserSession(srv);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uid_field: user });
      const ch = await b.solve(slug, { component: 'ak-stage-password', password: `${user}-password-1` });
      assert.equal(ch.component, 'ak-stage-authenticator-sms');
      return { b, slug };
    }

    it('the API: authentik’s fields, a syntax check, the mapping in /propertymappings/all/ and its types', async () => {
      const bad = await call(srv, 'POST', '/propertymappings/notification/', { name: 'broken', expression: 'return {' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.expression[0], /^Expression Syntax Error/);
      const pk = await mapping('payload-a', 'return {"a": 1}');
      const one = await call(srv, 'GET', `/propertymappings/notification/${pk}/`);
      assert.deepEqual(one.body, { pk, name: 'payload-a', expression: 'return {"a": 1}' });
      const list = await call(srv, 'GET', '/propertymappings/notification/?name=payload-a');
      assert.deepEqual(
        list.body.results.map((m: { pk: string }) => m.pk),
        [pk],
      );
      const all = await call(srv, 'GET', `/propertymappings/all/${pk}/`);
      assert.deepEqual(
        [all.body.component, all.body.verbose_name, all.body.meta_model_name],
        ['ak-property-mapping-notification-form', 'Webhook Mapping', 'authentik_events.notificationwebhookmapping'],
      );
      const types = await call(srv, 'GET', '/propertymappings/all/types/');
      assert.ok(types.body.some((t: { model_name: string }) => t.model_name === 'notificationwebhookmapping'));
      // its test runs it with the context's variables, as the SMS stage does
      const shaped = await mapping('payload-shaped', 'return {"to": device.phone_number, "code": token, "who": user.username}');
      const tried = await call(srv, 'POST', `/propertymappings/all/${shaped}/test/`, {
        user: 1,
        context: { token: '123456', device: { pk: 1, phone_number: '+15550100' } },
      });
      assert.equal(tried.status, 200, JSON.stringify(tried.body));
      assert.deepEqual(tried.body, { successful: true, result: '{"to": "+15550100", "code": "123456", "who": "akadmin"}' });
      // not a scope mapping
      assert.equal((await call(srv, 'GET', `/propertymappings/provider/scope/${pk}/`)).status, 404);
    });

    it('an SMS stage takes a webhook mapping, not a scope mapping', async () => {
      const scopes = await call(srv, 'GET', '/propertymappings/provider/scope/');
      const scope = scopes.body.results[0].pk as string;
      const refused = await call(srv, 'POST', '/stages/authenticator/sms/', {
        name: 'sms-scope',
        provider: 'generic',
        from_number: 'x',
        account_sid: `${sms.url}/hook`,
        auth: 't',
        mapping: scope,
      });
      assert.equal(refused.status, 400);
      assert.ok(refused.body.mapping, JSON.stringify(refused.body));
      const pk = await mapping('payload-b', 'return {"b": 1}');
      const stage = await smsStage('sms-with-mapping', { mapping: pk });
      assert.equal((await call(srv, 'GET', `/stages/authenticator/sms/${stage}/`)).body.mapping, pk);
    });

    it('without a mapping the generic webhook gets authentik’s payload: From, To, Body (the code) and Message', async () => {
      const { b, slug } = await atPhoneNumber(await smsStage('sms-plain', {}), 'pia');
      await b.solve(slug, { component: 'ak-stage-authenticator-sms', phone_number: '+15550111' });
      const msg = sms.messages.at(-1)!;
      assert.deepEqual(Object.keys(msg.json ?? {}).sort(), ['Body', 'From', 'Message', 'To']);
      assert.match(msg.body, /^\d{6}$/);
      assert.equal(msg.json?.Message, `Use this code to authenticate: ${msg.body}`);
      assert.equal(msg.to, '+15550111');
    });

    it('with a mapping the generic webhook gets the mapping’s dict, made from user, device, token and stage', async () => {
      const pk = await mapping(
        'payload-generic',
        'return {"to": device.phone_number, "text": "Code " + token + " for " + user.username, "via": stage.name}',
      );
      const { b, slug } = await atPhoneNumber(await smsStage('sms-mapped', { mapping: pk }), 'mia');
      await b.solve(slug, { component: 'ak-stage-authenticator-sms', phone_number: '+1 555 0112' });
      const msg = sms.messages.at(-1)!;
      assert.equal(msg.authorization, 'Bearer hook-token');
      const code = /^Code (\d{6}) for mia$/.exec(String(msg.json?.text))?.[1];
      assert.ok(code, JSON.stringify(msg.json));
      assert.deepEqual(msg.json, { to: '+15550112', text: `Code ${code} for mia`, via: 'sms-mapped' });
      assert.equal((await b.solve(slug, { component: 'ak-stage-authenticator-sms', code })).component, 'xak-flow-redirect');
    });

    it('with Twilio the mapping’s `message` is the text', async () => {
      const pk = await mapping('payload-twilio', 'return {"message": "Your Keystage code: " + token}');
      const stage = await createStage(srv, '/stages/authenticator/sms/', {
        name: 'sms-twilio-mapped',
        provider: 'twilio',
        from_number: '+15550000000',
        account_sid: 'AC123',
        auth: 'twilio-token',
        mapping: pk,
      });
      const { b, slug } = await atPhoneNumber(stage, 'tia');
      await b.solve(slug, { component: 'ak-stage-authenticator-sms', phone_number: '+15550113' });
      const msg = sms.messages.at(-1)!;
      assert.equal(msg.provider, 'twilio');
      const code = /^Your Keystage code: (\d{6})$/.exec(msg.body)?.[1];
      assert.ok(code, msg.body);
      assert.equal((await b.solve(slug, { component: 'ak-stage-authenticator-sms', code })).component, 'xak-flow-redirect');
    });

    it('a mapping that raises sends nothing and is recorded as a property_mapping_exception', async () => {
      const pk = await mapping('payload-raises', 'raise ValueError("no payload today")');
      const { b, slug } = await atPhoneNumber(await smsStage('sms-raises', { mapping: pk }), 'ria');
      const before = sms.messages.length;
      const r = await b.solve(slug, { component: 'ak-stage-authenticator-sms', phone_number: '+15550114' });
      assert.notEqual(r.component, 'xak-flow-redirect');
      assert.equal(r.phone_number_required ?? true, true, 'no code was sent, so none is asked for');
      assert.equal(sms.messages.length, before, 'nothing sent');
      const events = await call(srv, 'GET', '/events/events/?action=property_mapping_exception');
      const e = events.body.results.find((x: { context: { mapping?: { pk: string } } }) => x.context.mapping?.pk === pk);
      assert.ok(e, 'the failure is recorded');
      assert.match(e.context.message, /no payload today/);
    });

    it('deleting the mapping sets the stage’s mapping to null; used_by says so first', async () => {
      const pk = await mapping('payload-gone', 'return {"x": token}');
      const stage = await smsStage('sms-losing-mapping', { mapping: pk });
      const used = await call(srv, 'GET', `/propertymappings/notification/${pk}/used_by/`);
      assert.deepEqual(used.body, [
        {
          app: 'authentik_stages_authenticator_sms',
          model_name: 'authenticatorsmsstage',
          pk: stage,
          name: 'sms-losing-mapping',
          action: 'set_null',
        },
      ]);
      assert.equal((await call(srv, 'DELETE', `/propertymappings/all/${pk}/`)).status, 204);
      assert.equal((await call(srv, 'GET', `/stages/authenticator/sms/${stage}/`)).body.mapping, null);
    });
  });
}
