/**
 * DPoP (RFC 9449), on SQLite and PostgreSQL, with openid-client's DPoP handles as the client: tokens bound to the
 * client's key (`token_type` DPoP, `cnf.jkt`), userinfo only with a fresh proof by that key naming the token, a
 * code asked for with `dpop_jkt` redeemed only by that key, a public client's refresh token bound; and the proofs
 * authentik's validator refuses (wrong type, method, URL, age, algorithm, key, replay), each 400 invalid_dpop_proof.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import * as client from 'openid-client';
import { calculateJwkThumbprint, decodeJwt, exportJWK, type JWK, SignJWT } from 'jose';
import { dialects, startServer, type TestServer } from '../../helpers/server.js';
import { oauth2App } from './apps.js';
import { createUser } from '../../helpers/flows.js';
import { Browser, PASSWORD } from './browser.js';
import { accessTokenHash } from '../../../src/providers/oauth2/protocol/dpop.js';

const REDIRECT = 'http://127.0.0.1:9/cb';

/** a key pair and proofs by it, made by hand (for the proofs a client library would never send) */
function handKey(alg: 'ES256' | 'RS256' = 'ES256') {
  const { privateKey, publicKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwkP = exportJWK(publicKey);
  return {
    jkt: jwkP.then((j) => calculateJwkThumbprint(j)),
    async proof(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
      return new SignJWT({ jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })
        .setProtectedHeader({ typ: 'dpop+jwt', alg, jwk: (await jwkP) as JWK, ...header } as never)
        .sign(privateKey);
    },
  };
}

for (const dialect of dialects()) {
  describe(`OAuth2 DPoP (${dialect})`, () => {
    let srv: TestServer;
    const providers: Record<string, { pk: number; client_id: string; client_secret: string }> = {};
    const configs: Record<string, client.Configuration> = {};
    let tokenUrl: string;

    async function app(slug: string, extra: Record<string, unknown> = {}) {
      const made = await oauth2App(srv, slug, {
        mappings: ['openid', 'email', 'profile', 'offline_access', 'authentik_api'],
        extra: { redirect_uris: [{ matching_mode: 'strict', url: REDIRECT }], ...extra },
      });
      providers[slug] = made.provider;
      configs[slug] = made.config;
    }

    /** a code for alice at `slug`, logged in through the browser, with extra authorization parameters */
    async function codeUrl(slug: string, extra: Record<string, string>) {
      const browser = new Browser(srv);
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(configs[slug]!, {
        redirect_uri: REDIRECT,
        scope: 'openid profile offline_access',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'st',
        ...extra,
      });
      const r = await fetch(url, { redirect: 'manual' });
      const next = new URL(r.headers.get('location')!, srv.url).searchParams.get('next')!;
      await browser.login('alice', `next=${encodeURIComponent(next)}`);
      return { landed: await browser.authorize(new URL(next, srv.url)), verifier };
    }

    before(async () => {
      srv = await startServer(dialect);
      await createUser(srv, 'alice', PASSWORD);
      await app('api');
      await app('spa', { client_type: 'public' });
      tokenUrl = `${srv.url}/application/o/token/`;
    });
    after(async () => srv.close());

    it('client_credentials with a DPoP key: a DPoP token naming the key; userinfo only with a proof by it', async () => {
      const keyPair = await client.randomDPoPKeyPair('ES256');
      const DPoP = client.getDPoPHandle(configs.api!, keyPair);
      const tokens = await client.clientCredentialsGrant(configs.api!, { scope: 'openid profile' }, { DPoP });
      assert.equal(tokens.token_type.toLowerCase(), 'dpop');
      const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
      assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt });
      const info = await client.fetchUserInfo(configs.api!, tokens.access_token, client.skipSubjectCheck, { DPoP });
      assert.equal(info.preferred_username, 'ak-p-api-client_credentials');
      // as a bearer token, or with another key's proof, or with the proof of another request: 401
      const bearer = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(bearer.status, 401);
      const other = handKey();
      const userinfo = `${srv.url}/application/o/userinfo/`;
      const withProof = (proof: string) =>
        fetch(userinfo, { headers: { authorization: `DPoP ${tokens.access_token}`, dpop: proof } }).then((r) => r.status);
      assert.equal(await withProof(await other.proof({ htm: 'GET', htu: userinfo, ath: accessTokenHash(tokens.access_token) })), 401);
      // introspection tells a resource server the key
      const intro = await fetch(`${srv.url}/application/o/introspect/`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${providers.api!.client_id}:${providers.api!.client_secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token: tokens.access_token }),
      });
      const ib = (await intro.json()) as Record<string, any>;
      assert.deepEqual([ib.active, ib.cnf, ib.token_type], [true, { jkt }, 'DPoP']);
      // nor is a bound token a bearer credential of Keystage's API
      const apiTokens = await client.clientCredentialsGrant(configs.api!, { scope: 'openid goauthentik.io/api' }, { DPoP });
      assert.equal(
        (await fetch(`${srv.api}/core/users/me/`, { headers: { authorization: `Bearer ${apiTokens.access_token}` } })).status,
        403,
      );
      // an unbound token under the DPoP scheme: 401
      const plain = await client.clientCredentialsGrant(configs.api!, { scope: 'openid' });
      assert.equal(plain.token_type.toLowerCase(), 'bearer');
      assert.equal(
        (
          await fetch(userinfo, {
            headers: { authorization: `DPoP ${plain.access_token}`, dpop: await other.proof({ htm: 'GET', htu: userinfo }) },
          })
        ).status,
        401,
      );
    });

    it('a proof used twice, or for another resource call: refused', async () => {
      const key = handKey();
      const form = () =>
        new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: providers.api!.client_id,
          client_secret: providers.api!.client_secret,
          scope: 'openid',
        });
      const proof = await key.proof({ htm: 'POST', htu: tokenUrl });
      const first = await fetch(tokenUrl, { method: 'POST', headers: { dpop: proof }, body: form() });
      assert.equal(first.status, 200);
      const token = ((await first.json()) as { access_token: string }).access_token;
      const again = await fetch(tokenUrl, { method: 'POST', headers: { dpop: proof }, body: form() });
      assert.equal(again.status, 400);
      assert.equal(((await again.json()) as { error: string }).error, 'invalid_dpop_proof');
      const userinfo = `${srv.url}/application/o/userinfo/`;
      const resourceProof = await key.proof({ htm: 'GET', htu: userinfo, ath: accessTokenHash(token) });
      const use = () => fetch(userinfo, { headers: { authorization: `DPoP ${token}`, dpop: resourceProof } }).then((r) => r.status);
      assert.equal(await use(), 200);
      assert.equal(await use(), 401);
      // a proof naming another token
      assert.equal(
        (
          await fetch(userinfo, {
            headers: {
              authorization: `DPoP ${token}`,
              dpop: await key.proof({ htm: 'GET', htu: userinfo, ath: accessTokenHash('other') }),
            },
          })
        ).status,
        401,
      );
    });

    it('proofs authentik’s validator refuses: 400 invalid_dpop_proof', async () => {
      const key = handKey();
      const rsa = handKey('RS256');
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const privateJwk = await exportJWK(privateKey);
      const now = Math.floor(Date.now() / 1000);
      const cases: [string, () => Promise<string> | string][] = [
        ['wrong method', () => key.proof({ htm: 'GET', htu: tokenUrl })],
        ['wrong URL', () => key.proof({ htm: 'POST', htu: `${srv.url}/application/o/userinfo/` })],
        ['old', () => key.proof({ htm: 'POST', htu: tokenUrl, iat: now - 300 })],
        ['future', () => key.proof({ htm: 'POST', htu: tokenUrl, iat: now + 300 })],
        ['no jti', () => key.proof({ htm: 'POST', htu: tokenUrl, jti: undefined })],
        ['long jti', () => key.proof({ htm: 'POST', htu: tokenUrl, jti: 'x'.repeat(257) })],
        ['other typ', () => key.proof({ htm: 'POST', htu: tokenUrl }, { typ: 'JWT' })],
        ['private key in the header', () => key.proof({ htm: 'POST', htu: tokenUrl }, { jwk: privateJwk })],
        [
          'a symmetric algorithm',
          async () =>
            new SignJWT({ jti: randomUUID(), iat: now, htm: 'POST', htu: tokenUrl })
              .setProtectedHeader({
                typ: 'dpop+jwt',
                alg: 'HS256',
                jwk: (await exportJWK(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)) as never,
              })
              .sign(new TextEncoder().encode('a shared secret of enough length!')),
        ],
        [
          'signed by another key than the header’s',
          async () =>
            (await key.proof({ htm: 'POST', htu: tokenUrl })).replace(
              /\.[^.]+$/,
              (await rsa.proof({ htm: 'POST', htu: tokenUrl })).slice(-20),
            ),
        ],
        ['not a JWT', () => 'not-a-proof'],
      ];
      for (const [why, proof] of cases) {
        const r = await fetch(tokenUrl, {
          method: 'POST',
          headers: {
            dpop: await Promise.resolve()
              .then(proof)
              .catch(() => 'unsignable'),
          },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: providers.api!.client_id,
            client_secret: providers.api!.client_secret,
          }),
        });
        assert.equal(r.status, 400, why);
        assert.equal(((await r.json()) as { error: string }).error, 'invalid_dpop_proof', why);
      }
      // an RSA key is fine, and the query string of the URL does not matter
      const ok = await fetch(tokenUrl, {
        method: 'POST',
        headers: { dpop: await rsa.proof({ htm: 'POST', htu: `${tokenUrl}?x=1` }) },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: providers.api!.client_id,
          client_secret: providers.api!.client_secret,
        }),
      });
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { token_type: string }).token_type, 'DPoP');
    });

    it('a code asked for with dpop_jkt: redeemed only by that key; a public client’s refresh token is bound', async () => {
      const keyPair = await client.randomDPoPKeyPair('ES256');
      const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
      const DPoP = client.getDPoPHandle(configs.spa!, keyPair);
      const { landed, verifier } = await codeUrl('spa', { dpop_jkt: jkt });
      const code = landed.searchParams.get('code')!;
      const redeem = (headers: Record<string, string>) =>
        fetch(tokenUrl, {
          method: 'POST',
          headers,
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            client_id: providers.spa!.client_id,
            code,
            redirect_uri: REDIRECT,
            code_verifier: verifier,
          }),
        });
      const without = await redeem({});
      assert.equal(without.status, 400);
      assert.equal(((await without.json()) as { error: string }).error, 'invalid_dpop_proof');
      const byOther = await redeem({ dpop: await handKey().proof({ htm: 'POST', htu: tokenUrl }) });
      assert.equal(((await byOther.json()) as { error: string }).error, 'invalid_dpop_proof');
      // the code is still good for the right key (openid-client, its DPoP handle)
      const tokens = await client.authorizationCodeGrant(
        configs.spa!,
        landed,
        { pkceCodeVerifier: verifier, idTokenExpected: true, expectedState: 'st' },
        undefined,
        {
          DPoP,
        },
      );
      assert.equal(tokens.token_type.toLowerCase(), 'dpop');
      assert.ok(tokens.refresh_token);
      // the refresh token needs the key too
      const bare = await fetch(tokenUrl, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: providers.spa!.client_id,
          refresh_token: tokens.refresh_token!,
        }),
      });
      assert.equal(bare.status, 400);
      assert.equal(((await bare.json()) as { error: string }).error, 'invalid_dpop_proof');
      const refreshed = await client.refreshTokenGrant(configs.spa!, tokens.refresh_token!, undefined, { DPoP });
      assert.equal(refreshed.token_type.toLowerCase(), 'dpop');
      assert.deepEqual(decodeJwt(refreshed.access_token).cnf, { jkt });
      const me = await client.fetchUserInfo(configs.spa!, refreshed.access_token, tokens.claims()!.sub, { DPoP });
      assert.equal(me.preferred_username, 'alice');
    });

    it('a confidential client’s refresh token is not bound: refreshed without a proof it gets a bearer token', async () => {
      const keyPair = await client.randomDPoPKeyPair('ES256');
      const DPoP = client.getDPoPHandle(configs.api!, keyPair);
      const { landed, verifier } = await codeUrl('api', {});
      const tokens = await client.authorizationCodeGrant(
        configs.api!,
        landed,
        { pkceCodeVerifier: verifier, idTokenExpected: true, expectedState: 'st' },
        undefined,
        {
          DPoP,
        },
      );
      assert.equal(tokens.token_type.toLowerCase(), 'dpop');
      const refreshed = await client.refreshTokenGrant(configs.api!, tokens.refresh_token!);
      assert.equal(refreshed.token_type.toLowerCase(), 'bearer');
      assert.equal(decodeJwt(refreshed.access_token).cnf, undefined);
      const discovery = (await (await fetch(`${srv.url}/application/o/api/.well-known/openid-configuration`)).json()) as Record<
        string,
        string[]
      >;
      assert.ok(discovery.dpop_signing_alg_values_supported!.includes('ES256'));
    });
  });
}
