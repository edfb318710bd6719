/**
 * Signing (`OAuth2Provider.encode`: HS256 with the client secret, else the key pair's algorithm and kid), JWE with
 * the encryption key, and verification of presented JWTs — with authentik's test_token_jwt_alg_confusion.py ported:
 * alg:none, HS/RS key confusion (the RSA public key as SPKI PEM or certificate PEM used as the HMAC secret) with
 * and without the trusted key pinning its algorithm, and a kid swapped onto an unrelated key.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { compactDecrypt, decodeProtectedHeader, jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { encodeJwt, hs256Signer, providerKeys, signerOf } from '../../../src/providers/oauth2/protocol/sign.js';
import { verificationKeyOf, verifyJwt, type VerificationKey } from '../../../src/providers/oauth2/protocol/verify.js';
import { createTestCert, lookupOf, provider, type TestKeyPair } from './fixtures.js';

const exp = () => Math.floor(Date.now() / 1000) + 7200;
const seg = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** `_forge_hs256`: a hand-made HS256 JWT, as jwt_tool builds one (jose refuses an asymmetric key as an HMAC secret) */
function forgeHs256(payload: object, secret: Buffer | string, kid: string): string {
  const input = `${seg(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid }))}.${seg(JSON.stringify(payload))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('signing and encryption', () => {
  let rsa: TestKeyPair;
  let ec: TestKeyPair;
  let enc: TestKeyPair;
  before(async () => {
    [rsa, ec, enc] = await Promise.all([createTestCert('rsa'), createTestCert('P-256'), createTestCert('rsa')]);
  });

  it('no signing key: HS256 with the client secret, no kid', async () => {
    const p = provider({ client_secret: 'the-secret' });
    const keys = await providerKeys(p, lookupOf());
    const jwt = await encodeJwt({ sub: 'x' }, keys);
    assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'HS256', typ: 'JWT' });
    const { payload } = await jwtVerify(jwt, new TextEncoder().encode('the-secret'), { algorithms: ['HS256'] });
    assert.equal(payload.sub, 'x');
  });

  it('HS256 tokens are byte for byte what jose signs (typ, non-ASCII claims, nested values)', async () => {
    const secret = 'sécret-ü-' + 'k'.repeat(120);
    const payload = {
      iss: 'https://x.example/application/o/app/',
      sub: 'ünïcode ✓',
      aud: 'c',
      exp: exp(),
      amr: ['pwd'],
      n: { a: [1, null] },
    };
    const key = new TextEncoder().encode(secret);
    for (const typ of ['JWT', 'logout+jwt']) {
      const ours = await encodeJwt(payload, { signer: hs256Signer(secret) }, typ);
      const theirs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ }).sign(key);
      assert.equal(ours, theirs);
    }
    await assert.rejects(encodeJwt({ exp: Number.NaN }, { signer: hs256Signer(secret) }), TypeError);
  });

  it('a signing key: its algorithm and kid (RS256, ES256)', async () => {
    for (const pair of [rsa, ec]) {
      const p = provider({ signing_key: pair.uuid });
      const signer = await signerOf(p, lookupOf(rsa, ec));
      assert.equal(signer.alg, pair.signing.alg);
      const jwt = await encodeJwt({ sub: 'x' }, { signer });
      assert.deepEqual(decodeProtectedHeader(jwt), { alg: pair.signing.alg, kid: pair.signing.kid, typ: 'JWT' });
      const { payload } = await jwtVerify(jwt, pair.public.publicKey, { algorithms: [pair.signing.alg] });
      assert.equal(payload.sub, 'x');
    }
  });

  it('a signing key that is gone signs with the client secret (authentik nulls the reference)', async () => {
    const signer = await signerOf(provider({ signing_key: 'gone', client_secret: 's' }), lookupOf(rsa));
    assert.equal(signer.alg, 'HS256');
  });

  it('test_full_implicit_enc: with an encryption key the token is a JWE (RSA-OAEP-256, A256CBC-HS512) around the JWS', async () => {
    const p = provider({ signing_key: rsa.uuid, encryption_key: enc.uuid });
    const keys = await providerKeys(p, lookupOf(rsa, enc));
    const jwe = await encodeJwt({ sub: 'foo', amr: ['pwd'] }, keys);
    assert.equal(jwe.split('.').length, 5);
    assert.deepEqual(decodeProtectedHeader(jwe), { alg: 'RSA-OAEP-256', enc: 'A256CBC-HS512', typ: 'JWE', kid: enc.public.kid });
    const { plaintext } = await compactDecrypt(jwe, enc.signing.privateKey);
    const { payload } = await jwtVerify(new TextDecoder().decode(plaintext), rsa.public.publicKey, { algorithms: ['RS256'] });
    assert.deepEqual([payload.sub, payload.amr], ['foo', ['pwd']]);
  });
});

describe('verifying presented JWTs (test_token_jwt_alg_confusion.py)', () => {
  let source: TestKeyPair;
  let unrelated: TestKeyPair;
  let pinned: VerificationKey;
  let unpinned: VerificationKey;
  before(async () => {
    [source, unrelated] = await Promise.all([createTestCert('rsa'), createTestCert('rsa')]);
    pinned = { alg: 'RS256', kid: source.signing.kid, key: source.public.publicKey };
    unpinned = { kid: source.signing.kid, key: source.public.publicKey };
  });

  /** `_public_key_secret_candidates`: what an attacker scrapes from the JWKS/certificate to use as the HMAC secret */
  const candidates = () => ({
    spki_pem: Buffer.from(source.public.publicKey.export({ type: 'spki', format: 'pem' }) as string),
    cert_pem: Buffer.from(source.certPem),
  });

  it('a genuine token verifies, pinned or not', async () => {
    const jwt = await new SignJWT({ sub: 'foo', exp: exp() })
      .setProtectedHeader({ alg: 'RS256', kid: source.signing.kid })
      .sign(source.signing.privateKey);
    assert.equal((await verifyJwt(jwt, [pinned]))?.sub, 'foo');
    assert.equal((await verifyJwt(jwt, [unpinned]))?.sub, 'foo');
  });

  it('test_alg_none: an unsigned token with a valid kid is refused', async () => {
    const unsigned = new UnsecuredJWT({ sub: 'foo', exp: exp() }).encode();
    const withKid = `${seg(JSON.stringify({ alg: 'none', kid: source.signing.kid }))}.${unsigned.split('.')[1]}.`;
    for (const t of [unsigned, withKid, withKid.replace('"none"', '"None"')]) {
      assert.equal(await verifyJwt(t, [pinned, unpinned]), undefined);
    }
  });

  it('test_hs256_confusion_with_alg_in_jwk: HS256 signed with the RSA public key is refused', async () => {
    for (const [label, secret] of Object.entries(candidates())) {
      const forged = forgeHs256({ sub: 'foo', exp: exp() }, secret, source.signing.kid);
      assert.equal(await verifyJwt(forged, [pinned]), undefined, label);
    }
  });

  it('test_hs256_confusion_without_alg_in_jwk: the key’s algorithm comes from the key, never the header', async () => {
    for (const [label, secret] of Object.entries(candidates())) {
      const forged = forgeHs256({ sub: 'foo', exp: exp() }, secret, source.signing.kid);
      assert.equal(await verifyJwt(forged, [unpinned]), undefined, label);
    }
  });

  it('test_kid_swapped_to_unrelated_key: a token signed by another key carrying a trusted kid is refused', async () => {
    const forged = await new SignJWT({ sub: 'foo', exp: exp() })
      .setProtectedHeader({ alg: 'RS256', kid: source.signing.kid })
      .sign(unrelated.signing.privateKey);
    assert.equal(await verifyJwt(forged, [pinned, unpinned]), undefined);
  });

  it('the reverse confusion: a client-secret (HS256) provider refuses RS256 tokens, and accepts its own', async () => {
    const hs = verificationKeyOf(hs256Signer('client-secret'));
    const rs = await new SignJWT({ sub: 'foo', exp: exp() }).setProtectedHeader({ alg: 'RS256' }).sign(unrelated.signing.privateKey);
    assert.equal(await verifyJwt(rs, [hs]), undefined);
    const own = await new SignJWT({ sub: 'foo', exp: exp() })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('client-secret'));
    assert.equal((await verifyJwt(own, [hs]))?.sub, 'foo');
    const wrongSecret = await new SignJWT({ sub: 'foo', exp: exp() })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('other'));
    assert.equal(await verifyJwt(wrongSecret, [hs]), undefined);
    // an HS key never verifies with an asymmetric algorithm even if pinned to it by mistake
    assert.equal(await verifyJwt(rs, [{ alg: 'RS256', key: new TextEncoder().encode('client-secret') }]), undefined);
  });

  it('a provider’s own key pair verifies its tokens; expiry, audience and garbage are checked', async () => {
    const key = verificationKeyOf({ alg: 'RS256', kid: source.signing.kid, key: source.signing.privateKey });
    const jwt = await new SignJWT({ sub: 'foo', aud: 'client', exp: exp() })
      .setProtectedHeader({ alg: 'RS256', kid: source.signing.kid })
      .sign(source.signing.privateKey);
    assert.equal((await verifyJwt(jwt, [key], { audience: 'client' }))?.sub, 'foo');
    assert.equal(await verifyJwt(jwt, [key], { audience: 'other' }), undefined);
    const expired = await new SignJWT({ sub: 'foo', exp: 1 }).setProtectedHeader({ alg: 'RS256' }).sign(source.signing.privateKey);
    assert.equal(await verifyJwt(expired, [key]), undefined);
    for (const junk of ['', 'a.b.c', 'not a jwt', `${seg('{"alg":"RS256"}')}..`]) assert.equal(await verifyJwt(junk, [key]), undefined);
  });
});
