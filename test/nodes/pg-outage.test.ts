/**
 * Losing PostgreSQL: requests answer 503 (readiness too) while it is unreachable, and the same process serves again
 * as soon as it is back — no restart. The outage is a TCP proxy the test cuts, not the shared cluster.
 * Registered only with KEYSTAGE_TEST_DATABASE_URL.
 */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, ADMIN_TOKEN, ADMIN_PASSWORD } from '../helpers/server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { loadConfig } from '../../src/config.js';
import { buildApp, type App } from '../../src/server.js';
import { describePostgres } from '../helpers/postgres.js';
import { sql } from 'kysely';

describePostgres(
  'PostgreSQL outage: 503 while down, recovery without restart',
  'the outage is a PostgreSQL connection cut by a TCP proxy',
  () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    let proxy: TcpProxy;
    let app: App;
    let base = '';
    before(async () => {
      db = await freshDatabase('postgres');
      const target = new URL(db.overrides.databaseUrl!);
      proxy = await new TcpProxy(target.hostname, Number(target.port || 5432)).start();
      target.hostname = '127.0.0.1';
      target.port = String(proxy.port);
      app = await buildApp(
        loadConfig(
          {},
          {
            databaseUrl: target.toString(),
            logLevel: 'silent',
            bootstrapToken: ADMIN_TOKEN,
            bootstrapPassword: ADMIN_PASSWORD,
            port: 0,
            host: '127.0.0.1',
          },
        ),
      );
      await app.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = app.app.server.address();
      base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    });
    after(async () => {
      await app?.close().catch(() => undefined);
      await proxy?.close();
      await db?.drop();
    });

    const get = async (path: string) => {
      const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(15_000) });
      return { status: r.status, body: await r.text() };
    };

    /** the API's answer once it serves again (polled for up to 10 s after the proxy is restored) */
    const statusOnceBack = async () => {
      const t0 = Date.now();
      let status = 0;
      while (Date.now() - t0 < 10_000) {
        status = (await get('/api/v3/flows/instances/')).status;
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      return status;
    };

    it('answers 503 during the outage and recovers when the database is back', async () => {
      assert.equal((await get('/api/v3/flows/instances/')).status, 200);
      proxy.cut();
      const down = await get('/api/v3/flows/instances/');
      assert.equal(down.status, 503, down.body);
      assert.match(down.body, /"detail"/);
      assert.equal((await get('/-/health/ready/')).status, 503);
      assert.equal((await get('/-/health/live/')).status, 200, 'the process itself is alive');
      const flow = await fetch(`${base}/api/v3/flows/executor/default-authentication-flow/?query=`, {
        signal: AbortSignal.timeout(15_000),
      });
      assert.equal(flow.status, 503, 'the executor too');
      proxy.restore();
      assert.equal(await statusOnceBack(), 200, 'serving again without a restart');
      assert.equal((await get('/-/health/ready/')).status, 200);
    });

    it('a connection lost while lent out (inside a transaction) fails that transaction, not the process', async () => {
      const uncaught: unknown[] = [];
      const note = (e: unknown) => uncaught.push(e);
      process.on('uncaughtException', note);
      try {
        const outcome = await app.store.db
          .transaction()
          .execute(async (trx) => {
            await sql`select 1`.execute(trx);
            proxy.cut();
            await new Promise((r) => setTimeout(r, 300));
            await sql`select 2`.execute(trx);
            return 'committed';
          })
          .catch((e: Error) => `failed: ${e.message}`);
        assert.match(outcome, /^failed: /);
        proxy.restore();
        assert.equal(await statusOnceBack(), 200, 'serving again');
        assert.deepEqual(uncaught, []);
      } finally {
        process.off('uncaughtException', note);
        proxy.restore();
      }
    });
  },
);
