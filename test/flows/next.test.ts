/**
 * `next` in the flow page's query (the executor's `query` parameter): a relative `next` is where the finished flow
 * sends the browser; anything with a host is refused with "Invalid next URL".
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { createStage, flowOf, sessionRow } from '../helpers/flows.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`flow next handling (${dialect})`, () => {
    let srv: TestServer;
    let dummySlug: string;
    before(async () => {
      srv = await startServer(dialect);
      dummySlug = await flowOf(srv, 'next-dummy', [await createStage(srv, '/stages/dummy/', { name: 'next-dummy' })]);
    });
    after(async () => srv.close());

    it('next=/app: the login ends with a final redirect to /app', async () => {
      const b = new Browser(srv.api);
      const query = 'next=%2Fapp';
      const ident = await b.get(FLOW, query);
      assert.equal(ident.body.flow_info.cancel_url, '/flows/-/cancel/?next=%2Fapp');
      const pw = await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'akadmin' }, query);
      assert.equal(pw.body.component, 'ak-stage-password');
      assert.equal(pw.hops[0]!.status, 302);
      assert.equal(new URL(pw.hops[0]!.location!, srv.url).searchParams.get('query'), query, 'the advance keeps the query');
      const done = await b.solve(FLOW, { component: 'ak-stage-password', password: ADMIN_PASSWORD }, query);
      assert.deepEqual(done.body, { component: 'xak-flow-redirect', to: '/app', final_redirect: true });
      const row = await sessionRow(srv, b.session);
      assert.equal(row?.data.plan, undefined);
      assert.equal((row?.data as { query?: unknown } | undefined)?.query, undefined, 'the stored query is cleared with the plan');
    });

    it('next keeps its own query string', async () => {
      const b = new Browser(srv.api);
      await b.get(dummySlug, 'next=%2Fapp%3Fa%3D1%26b%3D2');
      const done = await b.solve(dummySlug, { component: 'ak-stage-dummy' }, 'next=%2Fapp%3Fa%3D1%26b%3D2');
      assert.deepEqual(done.body, { component: 'xak-flow-redirect', to: '/app?a=1&b=2', final_redirect: true });
    });

    it('an absolute next (https://evil.example/) is refused with "Invalid next URL"', async () => {
      const b = new Browser(srv.api);
      const query = `next=${encodeURIComponent('https://evil.example/')}`;
      await b.get(FLOW, query);
      await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'akadmin' }, query);
      const r = await b.solve(FLOW, { component: 'ak-stage-password', password: ADMIN_PASSWORD }, query);
      assert.equal(r.status, 200);
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, 'Invalid next URL');
      assert.equal((await sessionRow(srv, b.session))?.data.plan, undefined);
    });

    it('protocol-relative, backslash and script next values are refused too', async () => {
      // browsers drop tabs and newlines inside URLs, so "/<TAB>/evil.example" navigates to //evil.example
      for (const next of [
        '//evil.example/x',
        '/\\evil.example',
        '/\t/evil.example',
        '/\n/evil.example',
        'javascript:alert(1)',
        'http:/evil.example',
      ]) {
        const b = new Browser(srv.api);
        const query = `next=${encodeURIComponent(next)}`;
        await b.get(dummySlug, query);
        const r = await b.solve(dummySlug, { component: 'ak-stage-dummy' }, query);
        assert.equal(r.body.component, 'ak-stage-access-denied', next);
        assert.equal(r.body.error_message, 'Invalid next URL', next);
      }
    });

    it('the latest request’s query wins', async () => {
      const b = new Browser(srv.api);
      await b.get(dummySlug, 'next=%2Ffirst');
      const done = await b.solve(dummySlug, { component: 'ak-stage-dummy' }, 'next=%2Fsecond');
      assert.equal(done.body.to, '/second');
    });
  });
}
