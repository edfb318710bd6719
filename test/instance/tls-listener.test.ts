/**
 * Keystage's TLS listener (KEYSTAGE_TLS_PORT, src/instance/tls/): a handshake naming a brand's domain gets that
 * brand's `web_certificate` (verified by a client trusting the issuing authority), any other name the self-signed
 * fallback; a client certificate is asked for once an authority is configured, and the mutual TLS stage logs its
 * owner in from the handshake alone — headers claiming a certificate count for nothing on this port. Requests keep
 * every behaviour of the HTTP port (HSTS, Secure cookies). The `npm start` process serves it and stops cleanly.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import type { X509Certificate } from 'node:crypto';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createStage, createUser, flowOf } from '../helpers/flows.js';
import { freePort, startNode } from '../helpers/process.js';
import { startTlsListener, type TlsListener } from '../../src/instance/tls/listener.js';
import { fixture, importCa } from '../helpers/certificates.js';
import { stageM2mReferences } from '../../src/stages/registry.js';
import { until } from '../helpers/wait.js';

interface TlsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  peer: X509Certificate | undefined;
}

/** one HTTPS request on its own connection (no agent: each handshake is this request's) */
function tlsRequest(
  port: number,
  urlPath: string,
  opts: { servername?: string; cert?: string; key?: string; ca?: string; cookie?: string; headers?: Record<string, string> } = {},
): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        agent: false,
        servername: opts.servername ?? '',
        ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}),
        ...(opts.ca ? { ca: opts.ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
        headers: { ...(opts.cookie ? { cookie: opts.cookie } : {}), ...opts.headers },
        timeout: 10_000,
      },
      (res) => {
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate();
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? safeJson(text) : undefined, peer }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const safeJson = (t: string) => {
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
};

const sessionCookie = (a: TlsAnswer) =>
  ([] as string[])
    .concat(a.headers['set-cookie'] ?? [])
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('authentik_session='));

for (const dialect of dialects()) {
  describe(`TLS listener (${dialect})`, () => {
    let srv: TestServer;
    let tls: TlsListener;
    let ca: string;
    const client = { cert: fixture('client.pem'), key: fixture('client.key') };

    before(async () => {
      // loopback trusted as a proxy on the HTTP port: on the TLS port headers must still count for nothing
      srv = await startServer(dialect, { trustedProxies: '127.0.0.1' });
      tls = await startTlsListener(srv.app.app, srv.app.services.db, srv.config, {
        host: '127.0.0.1',
        port: 0,
        refreshMs: 60_000,
        stageAuthorityLinks: stageM2mReferences('crypto_certificatekeypairs').map((r) => r.table),
      });
      ca = await importCa(srv, 'tls-test-ca', fixture('ca.pem'));
      await createUser(srv, 'client', 'unused-password-1');
    });
    after(async () => {
      await tls.close();
      await srv.close();
    });

    it("SNI: a brand's domain gets its web certificate (verified against its authority), other names the fallback", async () => {
      const fallback = await tlsRequest(tls.port, '/-/health/live/', { servername: 'login.example.test' });
      assert.equal(fallback.status, 200);
      assert.match(fallback.peer!.subject, /CN=Keystage/);
      const pair = await call(srv, 'POST', '/crypto/certificatekeypairs/', {
        name: 'web',
        certificate_data: fixture('web.pem'),
        key_data: fixture('web.key'),
      });
      assert.equal(pair.status, 201, JSON.stringify(pair.body));
      const brand = await call(srv, 'POST', '/core/brands/', { domain: 'example.test', web_certificate: pair.body.pk });
      assert.equal(brand.status, 201, JSON.stringify(brand.body));
      const served = await tlsRequest(tls.port, '/-/health/live/', { servername: 'login.example.test', ca: fixture('ca.pem') });
      assert.equal(served.status, 200);
      assert.equal(served.peer!.subject, 'CN=login.example.test');
      // a name no brand with a certificate covers, and a handshake naming none
      assert.match((await tlsRequest(tls.port, '/-/health/live/', { servername: 'elsewhere.invalid' })).peer!.subject, /CN=Keystage/);
      assert.match((await tlsRequest(tls.port, '/-/health/live/')).peer!.subject, /CN=Keystage/);
      // HTTPS as far as the application is concerned
      assert.ok(served.headers['strict-transport-security']);
      // the brand's certificate removed: the fallback again
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand.body.brand_uuid}/`, { web_certificate: null })).status, 200);
      assert.match((await tlsRequest(tls.port, '/-/health/live/', { servername: 'login.example.test' })).peer!.subject, /CN=Keystage/);
      await call(srv, 'DELETE', `/core/brands/${brand.body.brand_uuid}/`);
    });

    it('client certificates: asked for once an authority is configured; the mutual TLS stage logs the owner in from the handshake', async () => {
      await tls.refresh();
      assert.equal((tls.server as unknown as { requestCert: boolean }).requestCert, false, 'no authority: no certificate asked for');
      const stage = await createStage(srv, '/stages/mtls/', {
        name: 'tls-mtls',
        mode: 'required',
        certificate_authorities: [ca],
        cert_attribute: 'common_name',
        user_attribute: 'username',
      });
      const login = await createStage(srv, '/stages/user_login/', { name: 'tls-login' });
      await flowOf(srv, 'tls-mtls', [stage, login]);
      await tls.refresh();
      assert.equal((tls.server as unknown as { requestCert: boolean }).requestCert, true);

      const flow = await tlsRequest(tls.port, '/api/v3/flows/executor/tls-mtls/', client);
      assert.equal(flow.status, 200);
      assert.equal(flow.body.component, 'xak-flow-redirect', JSON.stringify(flow.body));
      const cookie = sessionCookie(flow);
      assert.ok(cookie);
      // the session cookie is Secure on this port
      assert.ok(([] as string[]).concat(flow.headers['set-cookie'] ?? []).some((c) => /authentik_session=.*;\s*Secure/i.test(c)));
      const me = await tlsRequest(tls.port, '/api/v3/core/users/me/', { cookie });
      assert.equal(me.body.user.username, 'client');

      // no certificate, another authority's, and a forwarded-certificate header (trusted on the HTTP port, not here)
      const headerOnly = {
        headers: { 'SSL-Client-Cert': encodeURIComponent(fixture('client.pem')) },
      };
      for (const opts of [{}, { cert: fixture('client-elsewhere.pem'), key: fixture('client-elsewhere.key') }, headerOnly]) {
        const r = await tlsRequest(tls.port, '/api/v3/flows/executor/tls-mtls/', opts);
        assert.equal(r.body.component, 'ak-stage-access-denied');
        assert.equal(r.body.error_message, 'Certificate required but no certificate was given.');
      }
    });

    it("another node sets a brand's certificate: this node's next handshakes serve it with no HTTP request here in between", {
      skip: dialect === 'postgres' ? false : 'several nodes share PostgreSQL only',
    }, async () => {
      const here = await startTlsListener(srv.app.app, srv.app.services.db, srv.config, {
        host: '127.0.0.1',
        port: 0,
        refreshMs: 200,
        stageAuthorityLinks: stageM2mReferences('crypto_certificatekeypairs').map((r) => r.table),
      });
      const other = await startServer('postgres', { databaseUrl: srv.config.databaseUrl });
      let brand: string | undefined;
      try {
        const subject = async () => (await tlsRequest(here.port, '/-/health/live/', { servername: 'login.example.test' })).peer!.subject;
        assert.match(await subject(), /CN=Keystage/, 'no brand covers the name yet (and this node keeps that)');
        const pair = await call(other, 'POST', '/crypto/certificatekeypairs/', {
          name: 'web-from-the-other-node',
          certificate_data: fixture('web.pem'),
          key_data: fixture('web.key'),
        });
        assert.equal(pair.status, 201, JSON.stringify(pair.body));
        const made = await call(other, 'POST', '/core/brands/', { domain: 'example.test', web_certificate: pair.body.pk });
        assert.equal(made.status, 201, JSON.stringify(made.body));
        brand = made.body.brand_uuid;
        // only handshakes and health checks reach this node (which read no configuration epoch)
        assert.equal(
          await until('the new certificate', async () => ((await subject()) === 'CN=login.example.test' ? true : undefined), 5_000),
          true,
        );
      } finally {
        if (brand) assert.equal((await call(other, 'DELETE', `/core/brands/${brand}/`)).status, 204);
        await other.close();
        await here.close();
      }
    });
  });
}

describe('TLS listener in the npm start process', () => {
  it('KEYSTAGE_TLS_PORT: the health check answers over TLS; SIGTERM ends the process with 0', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-tls-'));
    const tlsPort = await freePort();
    const node = await startNode({ KEYSTAGE_SQLITE_PATH: path.join(dir, 'db.sqlite3'), KEYSTAGE_TLS_PORT: String(tlsPort) });
    try {
      const r = await tlsRequest(tlsPort, '/-/health/ready/');
      assert.equal(r.status, 200);
      assert.match(r.peer!.subject, /CN=Keystage/);
      node.child.kill('SIGTERM');
      assert.equal(await node.exited, 0);
    } finally {
      if (node.child.exitCode === null) node.child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
