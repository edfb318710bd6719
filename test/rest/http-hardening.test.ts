/**
 * HTTP-level behaviour found by probing a running server (issue 13): redirect targets outside Latin-1, media-type
 * parameters, what the log keeps of a malformed body, and the headers of API answers and HTML pages.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`HTTP hardening (${dialect})`, () => {
    let srv: TestServer;
    const logLines: string[] = [];
    before(async () => {
      srv = await startServer(
        dialect,
        { logLevel: 'info', trustedProxies: '127.0.0.1' },
        { logStream: { write: (line: string) => void logLines.push(line) } },
      );
    });
    after(async () => srv.close());

    describe('redirects', () => {
      it('/flows/-/cancel/?next= with characters outside Latin-1 redirects with a percent-encoded Location', async () => {
        for (const next of ['/app/ä€😀', '/a b', '/x\u{1F600}?q=ü']) {
          const res = await fetch(`${srv.url}/flows/-/cancel/?next=${encodeURIComponent(next)}`, { redirect: 'manual' });
          assert.equal(res.status, 302, next);
          const location = res.headers.get('location')!;
          assert.match(location, /^[\x21-\x7e]+$/, 'header text is printable ASCII');
          assert.equal(decodeURI(location), next);
        }
      });

      it('an already encoded next is kept as it is (no double encoding)', async () => {
        const res = await fetch(`${srv.url}/flows/-/cancel/?next=${encodeURIComponent('/app%C3%A4?a=1&b=%20')}`, { redirect: 'manual' });
        assert.equal(res.headers.get('location'), '/app%C3%A4?a=1&b=%20');
      });

      it('a request line with raw (unencoded) non-ASCII bytes: 400 with an authentik-shaped body', async () => {
        // fetch would encode the URL, so speak HTTP directly
        const u = new URL(srv.url);
        const raw = await new Promise<string>((resolve, reject) => {
          const s = net.connect(Number(u.port), u.hostname, () => {
            s.write(
              Buffer.concat([
                Buffer.from('GET /flows/-/cancel/?next=/'),
                Buffer.from('ä€', 'utf8'),
                Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
              ]),
            );
          });
          let got = '';
          s.on('data', (d) => (got += d.toString('latin1')));
          s.on('end', () => resolve(got));
          s.on('error', reject);
        });
        assert.match(raw, /^HTTP\/1\.1 400 /);
        assert.match(raw, /\r\n\r\n\{"detail":"Malformed request\."\}$/);
      });
    });

    describe('media types', () => {
      it('application/json; charset=utf-8 is accepted on an API write; other media types are still refused', async () => {
        const ok = await call(
          srv,
          'POST',
          '/stages/deny/',
          { name: 'charset-deny' },
          { 'content-type': 'application/json; charset=utf-8' },
        );
        assert.equal(ok.status, 201);
        assert.equal(ok.body.name, 'charset-deny');
        const upper = await call(
          srv,
          'PATCH',
          `/stages/deny/${ok.body.pk}/`,
          { deny_message: 'no' },
          { 'content-type': 'Application/JSON;charset="UTF-8"' },
        );
        assert.equal(upper.status, 200);
        assert.equal(upper.body.deny_message, 'no');
        const text = await call(srv, 'POST', '/stages/deny/', '{"name":"t"}', { 'content-type': 'text/plain; charset=utf-8' });
        assert.deepEqual(text.body, { detail: 'Unsupported media type "text/plain; charset=utf-8" in request.' });
        assert.equal(text.status, 415);
        const jsonish = await call(srv, 'POST', '/stages/deny/', '{"name":"t"}', { 'content-type': 'application/jsonp; charset=utf-8' });
        assert.equal(jsonish.status, 415);
      });

      it('application/json; charset=utf-8 is accepted on an executor POST', async () => {
        const jar = new CookieJar();
        const url = `${srv.api}/flows/executor/${FLOW}/?query=`;
        await jar.fetch(url, { headers: { accept: 'application/json' } });
        const res = await jar.fetch(url, {
          method: 'POST',
          headers: { accept: 'application/json', 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify({ component: 'ak-stage-identification', uid_field: 'akadmin' }),
        });
        const body = (await res.json()) as Record<string, unknown>;
        assert.equal(res.status, 200);
        assert.equal(body.component, 'ak-stage-password');
      });
    });

    describe('error text', () => {
      it('malformed JSON: the answer names the position, and no log line quotes the body', async () => {
        const secret = 'SuperSecretPassw0rd';
        const before = logLines.length;
        const bad = await call(srv, 'POST', '/stages/deny/', `{"name": ${secret}}`, {});
        assert.equal(bad.status, 400);
        assert.match(bad.body.detail, /^JSON parse error - /);
        assert.doesNotMatch(bad.body.detail, new RegExp(secret));
        const jar = new CookieJar();
        const url = `${srv.api}/flows/executor/${FLOW}/?query=`;
        await jar.fetch(url, { headers: { accept: 'application/json' } });
        for (const body of [
          `{"component":"ak-stage-password","password":${secret}}`,
          `{"password":"${secret}",`,
          `{"password":"${secret}"} trailing`,
        ]) {
          const res = await jar.fetch(url, {
            method: 'POST',
            headers: { accept: 'application/json', 'content-type': 'application/json' },
            body,
          });
          assert.equal(res.status, 200);
          assert.equal(((await res.json()) as { component: string }).component, 'ak-stage-flow-error');
        }
        const lines = logLines.slice(before);
        const warnings = lines.filter((l) => l.includes('flow executor error'));
        assert.equal(warnings.length, 3, lines.join(''));
        for (const l of warnings) {
          const err = JSON.parse(l).err;
          assert.equal(err.type, 'JsonParseError');
          assert.equal(err.message, undefined);
        }
        assert.equal(JSON.parse(warnings[1]!).err.position, `{"password":"${secret}",`.length);
        assert.ok(!lines.some((l) => l.includes(secret.slice(0, 8))), 'no part of the body in the log');
      });

      it('framework errors answer a generic message, not the error text', async () => {
        // an incomplete percent escape in the path is Fastify's FST_ERR_BAD_URL
        const res = await fetch(`${srv.api}/core/users/%E0%A4%A/`, { headers: { authorization: `Bearer ${srv.token}` } });
        const text = await res.text();
        assert.ok(res.status < 500, `status ${res.status}`);
        assert.doesNotMatch(text, /FST_|is not a valid url component|ERR_/);
      });
    });

    describe('headers', () => {
      it('authenticated API answers are never cached: view_key, the admin TOTP create, lists', async () => {
        const token = await call(srv, 'POST', '/core/tokens/', { identifier: 'nostore-token', intent: 'api' });
        assert.equal(token.status, 201);
        const key = await call(srv, 'GET', '/core/tokens/nostore-token/view_key/');
        assert.equal(key.status, 200);
        assert.equal(key.headers.get('cache-control'), 'no-store');
        const totp = await call(srv, 'POST', '/authenticators/admin/totp/', { name: 'nostore phone' });
        assert.equal(totp.status, 201);
        assert.equal(totp.headers.get('cache-control'), 'no-store');
        assert.equal((await call(srv, 'GET', '/core/users/')).headers.get('cache-control'), 'no-store');
        // refusals of a bad token too
        assert.equal(
          (await call(srv, 'GET', '/core/users/', undefined, { authorization: 'Bearer nope' })).headers.get('cache-control'),
          'no-store',
        );
      });

      it('HTML pages carry a CSP: scripts from this origin with the page nonce only, no framing', async () => {
        for (const path of [`/if/flow/${FLOW}/`, '/if/user/']) {
          const res = await fetch(`${srv.url}${path}`);
          const html = await res.text();
          const csp = res.headers.get('content-security-policy') ?? '';
          assert.match(csp, /script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/, path);
          assert.match(csp, /frame-ancestors 'none'/);
          assert.match(csp, /object-src 'none'/);
          const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
          assert.match(html, new RegExp(`<script type="module" nonce="${nonce.replace(/[+/=]/g, '\\$&')}" src="/static/dist/`));
          const again = (await fetch(`${srv.url}${path}`)).headers.get('content-security-policy');
          assert.notEqual(again, csp, 'a fresh nonce per page');
        }
        const missing = await fetch(`${srv.url}/nowhere/`);
        assert.equal(missing.status, 404);
        assert.match(missing.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      });

      it('HSTS only when the trusted protocol is https', async () => {
        const plain = await fetch(`${srv.url}/if/flow/${FLOW}/`);
        assert.equal(plain.headers.get('strict-transport-security'), null);
        const tls = await fetch(`${srv.url}/if/flow/${FLOW}/`, { headers: { 'x-forwarded-proto': 'https' } });
        assert.match(tls.headers.get('strict-transport-security') ?? '', /^max-age=\d+/);
        const api = await call(srv, 'GET', '/core/users/me/', undefined, { 'x-forwarded-proto': 'https' });
        assert.match(api.headers.get('strict-transport-security') ?? '', /^max-age=\d+/);
      });
    });
  });
}

describe('request deadlines (KEYSTAGE_REQUEST_TIMEOUT_MS, KEYSTAGE_HEADERS_TIMEOUT_MS)', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer('sqlite', { requestTimeoutMs: 1000, headersTimeoutMs: 600 });
  });
  after(async () => srv.close());

  /**
   * sends `head`, then one byte of `trickle` every 150 ms; resolves with what the server answered and whether the
   * server closed the connection before the client had sent everything (the trickle would take 150 ms per byte)
   */
  function trickle(head: string, rest: string): Promise<{ answer: string; cutOff: boolean }> {
    const port = Number(new URL(srv.url).port);
    return new Promise((resolve) => {
      let answer = '';
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(head);
        timer = setInterval(() => {
          if (sent < rest.length) s.write(rest[sent++]!);
        }, 150);
      });
      s.on('data', (d) => (answer += d.toString()));
      s.on('error', () => {});
      s.on('close', () => {
        clearInterval(timer);
        resolve({ answer, cutOff: sent < rest.length });
      });
    });
  }

  it('a body trickling in is answered 408 (authentik-shaped) and the connection closed', async () => {
    const body = JSON.stringify({ component: 'ak-stage-identification', uid_field: 'akadmin', padding: 'x'.repeat(200) });
    const head = `POST /api/v3/flows/executor/default-authentication-flow/?query= HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const r = await trickle(head, body);
    assert.equal(r.cutOff, true, 'the server closed the connection before the body was complete');
    assert.match(r.answer, /^HTTP\/1\.1 408 /);
    assert.match(r.answer, /\{"detail":"Request timed out\."\}$/);
  });

  it('headers trickling in are cut off too', async () => {
    const r = await trickle('GET /-/health/live/ HTTP/1.1\r\n', 'Host: x\r\nX-Slow: ' + 'y'.repeat(200) + '\r\n\r\n');
    assert.equal(r.cutOff, true);
    assert.match(r.answer, /^HTTP\/1\.1 408 /);
  });

  it('an ordinary request is not affected', async () => {
    assert.equal((await fetch(`${srv.url}/-/health/ready/`)).status, 200);
    const r = await call(srv, 'POST', '/stages/deny/', { name: 'deadline-deny' });
    assert.equal(r.status, 201);
  });
});

describe('HSTS without a trusted proxy', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer('sqlite');
  });
  after(async () => srv.close());

  it('X-Forwarded-Proto: https from a client that is not a trusted proxy sets no HSTS', async () => {
    const page = await fetch(`${srv.url}/if/flow/${FLOW}/`, { headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('strict-transport-security'), null);
    const api = await call(srv, 'GET', '/core/users/me/', undefined, { 'x-forwarded-proto': 'https' });
    assert.equal(api.status, 200);
    assert.equal(api.headers.get('strict-transport-security'), null);
  });
});
