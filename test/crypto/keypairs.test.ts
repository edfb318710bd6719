/**
 * /crypto/certificatekeypairs/ through the official client and raw HTTP (authentik's fields, filters, messages,
 * generate, view_certificate/view_private_key with their audit events, used_by), the private key sealed at rest, and
 * src/crypto/keys.ts signing JWTs that jose verifies with the published public JWK.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { CryptoApi } from '@goauthentik/api/dist/apis/CryptoApi.js';
import { compactVerify, importJWK, SignJWT, jwtVerify } from 'jose';
import { call, dialects, freshDatabase, startServer, type TestServer } from '../helpers/server.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body } from '../rest/contract/client.js';
import { createUser } from '../helpers/flows.js';
import { buildSelfSigned } from '../../src/crypto/x509.js';
import { publicKeyOf, signingKeyOf, UnsupportedSigningKey } from '../../src/crypto/keys.js';
import { SELF_SIGNED_NAME } from '../../src/crypto/defaults.js';

const rsaPair = await buildSelfSigned({ commonName: 'imported.example', subjectAltNames: ['imported.example'], rsaBits: 2048 });
const otherPair = await buildSelfSigned({ commonName: 'other.example', alg: 'ecdsa' });

for (const dialect of dialects()) {
  describe(`certificate-key pairs (${dialect})`, () => {
    let srv: TestServer;
    let api: CryptoApi;
    before(async () => {
      srv = await startServer(dialect);
      api = new CryptoApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
    });
    after(async () => srv.close());

    it('the first start makes the self-signed certificate (authentik’s “authentik Self-signed Certificate”)', async () => {
      const list = await body(api.cryptoCertificatekeypairsListRaw({}));
      assertMatches('PaginatedCertificateKeyPairList', list);
      const self = list.results.find((r: { name: string }) => r.name === SELF_SIGNED_NAME);
      assert.ok(self, 'listed');
      assert.equal(self.key_type, 'rsa');
      assert.equal(self.private_key_available, true);
      assert.equal(self.managed, null);
      assert.equal(self.cert_subject, `OU=Self-signed,O=Keystage,CN=${SELF_SIGNED_NAME}`);
      const days = (new Date(self.cert_expiry).getTime() - Date.now()) / 86_400_000;
      assert.ok(days > 364 && days <= 365, `valid for a year (${days})`);
      const signing = await signingKeyOf(srv.app.services, self.pk);
      assert.equal(signing?.alg, 'RS256');
    });

    it('generate: RSA, EC, Ed25519 and Ed448 (the official client for RSA and EC), with authentik’s fields', async () => {
      const rsa = await body(
        api.cryptoCertificatekeypairsGenerateCreateRaw({
          certificateGenerationRequest: { commonName: 'rsa.example', subjectAltName: 'a.example,b.example', validityDays: 3 },
        }),
      );
      assertMatches('CertificateKeyPair', rsa);
      assert.equal(rsa.name, 'rsa.example');
      assert.equal(rsa.key_type, 'rsa');
      assert.equal(rsa.private_key_available, true);
      assert.equal(rsa.cert_subject, 'OU=Self-signed,O=Keystage,CN=rsa.example');
      assert.match(rsa.fingerprint_sha256, /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
      assert.match(rsa.fingerprint_sha1, /^([0-9a-f]{2}:){19}[0-9a-f]{2}$/);
      assert.equal(rsa.certificate_download_url, `/api/v3/crypto/certificatekeypairs/${rsa.pk}/view_certificate/?download`);
      assert.equal(rsa.private_key_download_url, `/api/v3/crypto/certificatekeypairs/${rsa.pk}/view_private_key/?download`);
      assert.ok(!('certificate_data' in rsa) && !('key_data' in rsa));
      const days = (new Date(rsa.cert_expiry).getTime() - Date.now()) / 86_400_000;
      assert.ok(days > 2.9 && days <= 3, `valid for three days (${days})`);
      const pem = (await body(api.cryptoCertificatekeypairsViewPrivateKeyRetrieveRaw({ kpUuid: rsa.pk }))).data as string;
      assert.match(pem, /^-----BEGIN RSA PRIVATE KEY-----/);
      assert.equal(createPrivateKey(pem).asymmetricKeyDetails?.modulusLength, 4096);
      const cert = new X509Certificate((await body(api.cryptoCertificatekeypairsViewCertificateRetrieveRaw({ kpUuid: rsa.pk }))).data);
      assert.equal(cert.subjectAltName, 'DNS:a.example, DNS:b.example');
      assert.equal(cert.issuer, 'CN=Keystage 2026.8.3');

      const ec = await body(
        api.cryptoCertificatekeypairsGenerateCreateRaw({
          certificateGenerationRequest: { commonName: 'ec.example', validityDays: 30, alg: 'ecdsa' },
        }),
      );
      assert.equal(ec.key_type, 'ec');
      const ed = (
        await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', { common_name: 'ed.example', validity_days: 1, alg: 'ed25519' })
      ).body;
      assert.equal(ed.key_type, 'ed25519');
      const ed448 = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', {
        common_name: 'ed448.example',
        validity_days: 1,
        alg: 'ed448',
      });
      assert.deepEqual([ed448.status, ed448.body.key_type], [200, 'ed448']);

      const bad = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', { alg: 'dsa', validity_days: 'x' });
      assert.equal(bad.status, 400);
      assert.deepEqual(Object.keys(bad.body).sort(), ['alg', 'common_name', 'validity_days']);
      const accented = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', {
        common_name: 'accented',
        subject_alt_name: 'caf\u00e9.example',
        validity_days: 1,
        alg: 'ecdsa',
      });
      assert.deepEqual([accented.status, accented.body], [400, { subject_alt_name: ['Subject-alt names must be ASCII DNS names.'] }]);
      const dup = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', { common_name: 'ec.example', validity_days: 1 });
      assert.deepEqual([dup.status, dup.body], [400, { name: ['Certificate-Key Pair with this name already exists.'] }]);
    });

    it('import: a valid pair is stored; garbage, encrypted and mismatched PEM are 400 field errors', async () => {
      const created = await body(
        api.cryptoCertificatekeypairsCreateRaw({
          certificateKeyPairRequest: { name: 'imported', certificateData: rsaPair.certificate, keyData: rsaPair.privateKey },
        }),
      );
      assertMatches('CertificateKeyPair', created);
      assert.equal(created.key_type, 'rsa');
      assert.equal(created.cert_subject, 'OU=Self-signed,O=Keystage,CN=imported.example');
      const certOnly = await call(srv, 'POST', '/crypto/certificatekeypairs/', {
        name: 'cert only',
        certificate_data: otherPair.certificate,
      });
      assert.equal(certOnly.status, 201);
      assert.equal(certOnly.body.private_key_available, false);
      assert.equal(certOnly.body.key_type, 'ec');

      const post = (b: unknown) => call(srv, 'POST', '/crypto/certificatekeypairs/', b);
      assert.deepEqual((await post({ name: 'x', certificate_data: 'not a certificate' })).body, {
        certificate_data: ['Unable to load certificate.'],
      });
      const truncated = rsaPair.certificate.slice(0, 200) + rsaPair.certificate.slice(-30);
      assert.deepEqual((await post({ name: 'x', certificate_data: truncated })).body, {
        certificate_data: ['Unable to load certificate.'],
      });
      const r = await post({ name: 'x', certificate_data: rsaPair.certificate, key_data: 'garbage' });
      assert.deepEqual([r.status, r.body], [400, { key_data: ['Unable to load private key (possibly encrypted?).'] }]);
      const encrypted = createPrivateKey(rsaPair.privateKey).export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'secret',
      }) as string;
      assert.deepEqual((await post({ name: 'x', certificate_data: rsaPair.certificate, key_data: encrypted })).body, {
        key_data: ['Unable to load private key (possibly encrypted?).'],
      });
      assert.deepEqual((await post({ name: 'x', certificate_data: rsaPair.certificate, key_data: otherPair.privateKey })).body, {
        key_data: ['Private key does not match the certificate.'],
      });
      assert.deepEqual((await post({ name: '', key_data: [] })).body, {
        name: ['This field may not be blank.'],
        certificate_data: ['This field is required.'],
        key_data: ['Not a valid string.'],
      });
      assert.deepEqual((await post({ name: 'imported', certificate_data: rsaPair.certificate })).body, {
        name: ['Certificate-Key Pair with this name already exists.'],
      });
      // a PATCH replacing only the key checks it against the stored certificate
      const patch = await call(srv, 'PATCH', `/crypto/certificatekeypairs/${created.pk}/`, { key_data: otherPair.privateKey });
      assert.deepEqual([patch.status, patch.body], [400, { key_data: ['Private key does not match the certificate.'] }]);
      const names = (await call(srv, 'GET', '/crypto/certificatekeypairs/?search=x')).body.results.map((p: { name: string }) => p.name);
      assert.ok(!names.includes('x'), 'nothing stored by a refused write');
    });

    it('the private key is in no list or detail response, and not in clear in the database', async () => {
      const list = await call(srv, 'GET', '/crypto/certificatekeypairs/?page_size=100');
      const text = JSON.stringify(list.body);
      assert.ok(!text.includes('PRIVATE KEY') && !text.includes('key_data') && !text.includes('certificate_data'));
      const imported = list.body.results.find((p: { name: string }) => p.name === 'imported');
      const detail = await call(srv, 'GET', `/crypto/certificatekeypairs/${imported.pk}/`);
      assert.ok(!JSON.stringify(detail.body).includes('PRIVATE KEY'));
      const keyBody = rsaPair.privateKey.split('\n')[5]!;
      const rows = await srv.app.store.db.selectFrom('crypto_certificatekeypairs').select(['name', 'key_data']).execute();
      for (const row of rows) {
        if (row.name === 'cert only') assert.equal(row.key_data, '');
        else assert.match(row.key_data, /^enc:v1:[0-9a-f]{8}:/);
        assert.ok(!row.key_data.includes('PRIVATE KEY'));
      }
      if (dialect === 'sqlite') {
        for (const file of [srv.config.sqlitePath, `${srv.config.sqlitePath}-wal`]) {
          if (!fs.existsSync(file)) continue;
          const raw = fs.readFileSync(file).toString('latin1');
          assert.ok(!raw.includes('PRIVATE KEY-----'), `${file}: no PEM private key`);
          assert.ok(!raw.includes(keyBody), `${file}: no line of the key`);
        }
      }
    });

    it('view_certificate, view_private_key (?download) and their secret_view events', async () => {
      const imported = (await call(srv, 'GET', '/crypto/certificatekeypairs/?name=imported')).body.results[0];
      const cert = await call(srv, 'GET', `/crypto/certificatekeypairs/${imported.pk}/view_certificate/`);
      assert.deepEqual(cert.body, { data: rsaPair.certificate.trim() });
      const key = await body(api.cryptoCertificatekeypairsViewPrivateKeyRetrieveRaw({ kpUuid: imported.pk }));
      assert.deepEqual(key, { data: rsaPair.privateKey.trim() });
      const dl = await fetch(`${srv.api}/crypto/certificatekeypairs/${imported.pk}/view_private_key/?download`, {
        headers: { authorization: `Bearer ${srv.token}` },
      });
      assert.equal(dl.status, 200);
      assert.equal(dl.headers.get('content-type'), 'application/x-pem-file');
      assert.equal(dl.headers.get('content-disposition'), 'attachment; filename="imported_private_key.pem"');
      assert.equal(await dl.text(), rsaPair.privateKey.trim());
      const events = (await call(srv, 'GET', '/events/events/?action=secret_view&page_size=100')).body.results;
      const types = events
        .filter((e: any) => e.context?.secret?.pk === imported.pk)
        .map((e: any) => e.context.type)
        .sort();
      assert.deepEqual(types, ['certificate', 'private_key', 'private_key']);
      const ev = events.find((e: any) => e.context?.type === 'private_key');
      assert.equal(ev.user.username, 'akadmin');
      assert.equal(ev.context.secret.name, 'Certificate-Key Pair imported');
      assert.ok(!JSON.stringify(events).includes('PRIVATE KEY'), 'the event holds no key');
      assert.equal(
        (await call(srv, 'GET', '/crypto/certificatekeypairs/00000000-0000-4000-8000-000000000000/view_private_key/')).status,
        404,
      );
    });

    it('filters, search and ordering', async () => {
      const names = async (q: string) =>
        (await call(srv, 'GET', `/crypto/certificatekeypairs/?page_size=100&${q}`)).body.results.map((p: { name: string }) => p.name);
      assert.ok(!(await names('has_key=true')).includes('cert only'));
      assert.ok((await names('has_key=false')).includes('cert only'));
      assert.deepEqual(await names('key_type=ed25519'), ['ed.example']);
      assert.deepEqual(await names('key_type=ec&key_type=ed25519'), ['cert only', 'ec.example', 'ed.example']);
      const bad = await call(srv, 'GET', '/crypto/certificatekeypairs/?key_type=nope');
      assert.deepEqual([bad.status, bad.body], [400, { key_type: ['Select a valid choice. nope is not one of the available choices.'] }]);
      assert.deepEqual(await names('name=imported'), ['imported']);
      assert.deepEqual(await names('search=EXAMPLE'), ['ec.example', 'ed.example', 'ed448.example', 'rsa.example']);
      assert.deepEqual(await names('key_type=ed448'), ['ed448.example']);
      const desc = await names('ordering=-name');
      assert.deepEqual(desc, [...desc].sort().reverse());
      const byType = (await call(srv, 'GET', '/crypto/certificatekeypairs/?ordering=key_type,name&page_size=100')).body.results;
      assert.deepEqual(
        byType.map((p: { key_type: string }) => p.key_type),
        byType.map((p: { key_type: string }) => p.key_type).sort(),
      );
      const brief = (await call(srv, 'GET', '/crypto/certificatekeypairs/?include_details=false&name=imported')).body.results[0];
      assert.deepEqual([brief.fingerprint_sha256, brief.cert_expiry, brief.cert_subject, brief.key_type], [null, null, null, null]);
      assert.equal(brief.private_key_available, true);
    });

    it('signingKeyOf signs a JWT that jose verifies with the published JWK; a replaced key is used at once', async () => {
      const ids = Object.fromEntries(
        (await call(srv, 'GET', '/crypto/certificatekeypairs/?page_size=100')).body.results.map((p: { name: string; pk: string }) => [
          p.name,
          p.pk,
        ]),
      );
      const p384pair = await buildSelfSigned({ commonName: 'p384.example', alg: 'ecdsa', ecCurve: 'P-384' });
      const p384 = { certificate: p384pair.certificate, key: p384pair.privateKey };
      const created = await call(srv, 'POST', '/crypto/certificatekeypairs/', {
        name: 'p384',
        certificate_data: p384.certificate,
        key_data: p384.key,
      });
      assert.equal(created.status, 201);
      for (const [name, alg] of [
        ['imported', 'RS256'],
        ['ec.example', 'ES256'],
        ['p384', 'ES384'],
      ] as const) {
        const pk = name === 'p384' ? created.body.pk : ids[name];
        const key = await signingKeyOf(srv.app.services, pk);
        assert.ok(key, name);
        assert.equal(key.alg, alg);
        assert.deepEqual([key.publicJwk.kid, key.publicJwk.alg, key.publicJwk.use], [key.kid, alg, 'sig']);
        const jwt = await new SignJWT({ sub: 'someone' }).setProtectedHeader({ alg, kid: key.kid }).setIssuedAt().sign(key.privateKey);
        const { payload, protectedHeader } = await jwtVerify(jwt, await importJWK(key.publicJwk, alg));
        assert.equal(payload.sub, 'someone');
        assert.equal(protectedHeader.kid, key.kid);
        // the certificate in the JWK is the pair's
        const cert = (await call(srv, 'GET', `/crypto/certificatekeypairs/${pk}/view_certificate/`)).body.data as string;
        assert.equal(key.publicJwk.x5c?.[0], new X509Certificate(cert).raw.toString('base64'));
        const pub = await publicKeyOf(srv.app.services, pk);
        assert.equal(pub?.kid, key.kid);
        await compactVerify(jwt, pub!.publicKey);
      }
      // authentik's kid: unpadded base64url SHA-512 of the PEM key
      const { createHash } = await import('node:crypto');
      const imported = await signingKeyOf(srv.app.services, ids.imported);
      assert.equal(imported?.kid, createHash('sha512').update(rsaPair.privateKey.trim()).digest('base64url'));

      assert.equal(await signingKeyOf(srv.app.services, ids['cert only']), undefined);
      assert.equal(await signingKeyOf(srv.app.services, '00000000-0000-4000-8000-000000000000'), undefined);
      assert.equal(await signingKeyOf(srv.app.services, 'not-a-uuid'), undefined);
      assert.equal((await publicKeyOf(srv.app.services, ids['cert only']))?.alg, 'ES256');
      await assert.rejects(signingKeyOf(srv.app.services, ids['ed.example']), UnsupportedSigningKey);
      await assert.rejects(signingKeyOf(srv.app.services, ids['ed448.example']), UnsupportedSigningKey);
      assert.equal((await publicKeyOf(srv.app.services, ids['ed448.example']))?.publicJwk.crv, 'Ed448');

      // replacing the pair through the API: the next signature uses the new key (the admin cache forgets on writes)
      const replaced = await call(srv, 'PATCH', `/crypto/certificatekeypairs/${ids['cert only']}/`, { key_data: otherPair.privateKey });
      assert.equal(replaced.status, 200);
      assert.equal(replaced.body.private_key_available, true);
      const now = await signingKeyOf(srv.app.services, ids['cert only']);
      assert.equal(now?.alg, 'ES256');
      assert.equal(now?.kid, createHash('sha512').update(otherPair.privateKey.trim()).digest('base64url'));
    });

    it('used_by, update and delete', async () => {
      const pk = (await call(srv, 'GET', '/crypto/certificatekeypairs/?name=rsa.example')).body.results[0].pk;
      assert.deepEqual(await body(api.cryptoCertificatekeypairsUsedByListRaw({ kpUuid: pk })), []);
      // a PUT without key_data keeps the stored key (DRF applies no default on update): not this certificate's
      const keep = await call(srv, 'PUT', `/crypto/certificatekeypairs/${pk}/`, { name: 'renamed', certificate_data: rsaPair.certificate });
      assert.deepEqual([keep.status, keep.body], [400, { key_data: ['Private key does not match the certificate.'] }]);
      const put = await call(srv, 'PUT', `/crypto/certificatekeypairs/${pk}/`, {
        name: 'renamed',
        certificate_data: rsaPair.certificate,
        key_data: '',
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual(
        [put.status, put.body.name, put.body.cert_subject],
        [200, 'renamed', 'OU=Self-signed,O=Keystage,CN=imported.example'],
      );
      // key_data '' drops the key
      assert.equal(put.body.private_key_available, false);
      assert.equal((await call(srv, 'DELETE', `/crypto/certificatekeypairs/${pk}/`)).status, 204);
      assert.equal((await call(srv, 'GET', `/crypto/certificatekeypairs/${pk}/`)).status, 404);
      assert.equal(await signingKeyOf(srv.app.services, pk), undefined);
    });
  });

  describe(`certificate-key pairs across secret keys (${dialect})`, () => {
    it('a pair sealed under the previous secret key is re-sealed at start and still signs', async () => {
      const db = await freshDatabase(dialect);
      try {
        const first = await startServer(dialect, { ...db.overrides, secretKey: 'first secret key '.repeat(3) });
        const pair = await call(first, 'POST', '/crypto/certificatekeypairs/', {
          name: 'rotating',
          certificate_data: otherPair.certificate,
          key_data: otherPair.privateKey,
        });
        const before = await first.app.store.db
          .selectFrom('crypto_certificatekeypairs')
          .select('key_data')
          .where('name', '=', 'rotating')
          .executeTakeFirstOrThrow();
        await first.close();
        const second = await startServer(dialect, {
          ...db.overrides,
          secretKey: 'second secret key '.repeat(3),
          secretKeyPrevious: ['first secret key '.repeat(3)],
        });
        try {
          const after = await second.app.store.db
            .selectFrom('crypto_certificatekeypairs')
            .select('key_data')
            .where('name', '=', 'rotating')
            .executeTakeFirstOrThrow();
          assert.notEqual(after.key_data.split(':')[2], before.key_data.split(':')[2], 'sealed under the new key id');
          const key = await signingKeyOf(second.app.services, pair.body.pk);
          assert.equal(key?.alg, 'ES256');
          const shown = await call(second, 'GET', `/crypto/certificatekeypairs/${pair.body.pk}/view_private_key/`);
          assert.equal(shown.body.data, otherPair.privateKey.trim());
        } finally {
          await second.close();
        }
      } finally {
        await db.drop();
      }
    });
  });
}

describe('certificate-key pairs: not for other users', () => {
  it('a user who is not a superuser gets 403 on every operation', async () => {
    const srv = await startServer('sqlite');
    try {
      const api = new CryptoApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      const pk = (await body(api.cryptoCertificatekeypairsListRaw({}))).results[0].pk as string;
      const user = await createUser(srv, 'plain', 'a long enough password 123');
      assert.equal((await call(srv, 'POST', '/core/tokens/', { identifier: 'plain-token', intent: 'api', user })).status, 201);
      const key = (await call(srv, 'GET', '/core/tokens/plain-token/view_key/')).body.key as string;
      const asUser = (m: string, p: string, b?: unknown) => call({ ...srv, token: key }, m, p, b);
      for (const [m, p] of [
        ['GET', '/crypto/certificatekeypairs/'],
        ['GET', `/crypto/certificatekeypairs/${pk}/`],
        ['GET', `/crypto/certificatekeypairs/${pk}/view_private_key/`],
        ['POST', '/crypto/certificatekeypairs/generate/'],
        ['DELETE', `/crypto/certificatekeypairs/${pk}/`],
      ] as const)
        assert.equal((await asUser(m, p, m === 'POST' ? { common_name: 'x', validity_days: 1 } : undefined)).status, 403, `${m} ${p}`);
    } finally {
      await srv.close();
    }
  });
});
