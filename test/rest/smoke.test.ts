import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';

for (const dialect of dialects()) {
  describe(`server basics (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    it('answers health checks', async () => {
      assert.equal((await fetch(`${srv.url}/-/health/live/`)).status, 200);
      assert.equal((await fetch(`${srv.url}/-/health/ready/`)).status, 200);
    });

    it('rejects a wrong bearer token with 403 Token invalid/expired', async () => {
      const r = await call(srv, 'GET', '/root/config/', undefined, { authorization: 'Bearer nope' });
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, { detail: 'Token invalid/expired' });
    });

    it('lists flows for the bootstrap token', async () => {
      const r = await call(srv, 'GET', '/flows/instances/');
      assert.equal(r.status, 200);
      assert.equal(typeof r.body.pagination.count, 'number');
    });
  });
}
