/**
 * `POST /stages/invitation/invitations/{pk}/send_email/` (authentik's send_email action) against a local SMTP sink:
 * the link to the invitation's flow with `?itoken=`, built from KEYSTAGE_EXTERNAL_URL whatever Host the request
 * names; cc and bcc; refusals as field errors; superusers only; an `email_sent` event per address.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, type TestServer } from '../../helpers/server.js';
import type { SmtpSink } from '../../helpers/fake-providers.js';
import { createUser } from '../../helpers/flows.js';
import { decoded, emailServer, EXTERNAL, mailTo } from '../email/helpers.js';

for (const dialect of dialects()) {
  describe(`invitations: send_email (${dialect})`, () => {
    let srv: TestServer;
    let smtp: SmtpSink;
    let pk: string;
    let flowless: string;

    before(async () => {
      ({ srv, smtp } = await emailServer(dialect));
      const flow = (await call(srv, 'GET', '/flows/instances/default-enrollment-flow/')).body.pk;
      const a = await call(srv, 'POST', '/stages/invitation/invitations/', { name: 'team', flow, expires: '2031-01-02T03:04:05Z' });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      pk = a.body.pk;
      const b = await call(srv, 'POST', '/stages/invitation/invitations/', { name: 'nowhere' });
      flowless = b.body.pk;
    });
    after(async () => {
      await srv?.close();
      await smtp?.close();
    });

    const send = (id: string, body: unknown, headers: Record<string, string> = {}) =>
      call(srv, 'POST', `/stages/invitation/invitations/${id}/send_email/`, body, headers);

    it('mails the link to each address, cc and bcc, from the configured external URL (never the Host header)', async () => {
      const r = await send(
        pk,
        {
          email_addresses: ['ann@example.com', 'bob@example.com'],
          cc_addresses: ['boss@example.com'],
          bcc_addresses: ['audit@example.com'],
        },
        { host: 'evil.example' },
      );
      assert.equal(r.status, 204, JSON.stringify(r.body));
      const link = `${EXTERNAL}/if/flow/default-enrollment-flow/?itoken=${pk}`;
      for (const to of ['ann@example.com', 'bob@example.com']) {
        const m = await mailTo(smtp, to);
        assert.ok(m.to.includes('boss@example.com') && m.to.includes('audit@example.com'), 'cc and bcc are recipients');
        const text = decoded(m);
        assert.ok(text.includes(link), text);
        assert.doesNotMatch(text, /evil\.example/);
        assert.match(text, /Subject: You have been invited to login\.example\.test/);
        assert.doesNotMatch(text, /^Bcc:/m, 'bcc is not in the headers');
      }
      const events = (await call(srv, 'GET', '/events/events/?action=email_sent')).body.results;
      assert.deepEqual(events.map((e: { context: { to: string } }) => e.context.to).sort(), ['ann@example.com', 'bob@example.com']);
    });

    it('refuses what it cannot send, as field errors, sending nothing', async () => {
      const before = smtp.mails.length;
      assert.deepEqual((await send(pk, {})).body, { email_addresses: ['This field is required.'] });
      assert.deepEqual((await send(pk, { email_addresses: [] })).body, { email_addresses: ['No email addresses provided'] });
      const bad = await send(pk, { email_addresses: ['ok@example.com', 'not an address'] });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { email_addresses: ['Enter a valid email address.'] });
      assert.deepEqual((await send(pk, { email_addresses: ['a@example.com'], template: 'other.html' })).body, {
        template: ['Unknown template.'],
      });
      const noFlow = await send(flowless, { email_addresses: ['a@example.com'] });
      assert.equal(noFlow.status, 400);
      assert.deepEqual(noFlow.body, { non_field_errors: ['Invitation has no associated flow'] });
      assert.equal((await send('00000000-0000-4000-8000-000000000000', { email_addresses: ['a@example.com'] })).status, 404);
      assert.equal(smtp.mails.length, before);
    });

    it('superusers only', async () => {
      await createUser(srv, 'plain', 'plain-password-1');
      const t = await call(srv, 'POST', '/core/tokens/', {
        identifier: 'plain-key',
        intent: 'api',
        user: (await call(srv, 'GET', '/core/users/?username=plain')).body.results[0].pk,
      });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      const key = (await call(srv, 'GET', '/core/tokens/plain-key/view_key/')).body.key;
      const r = await call(
        srv,
        'POST',
        `/stages/invitation/invitations/${pk}/send_email/`,
        { email_addresses: ['x@example.com'] },
        { authorization: `Bearer ${key}` },
      );
      assert.equal(r.status, 403);
    });
  });
}
