/**
 * A software authenticator for node tests of WebAuthn registration: an ES256 key pair and credential id of its own,
 * answering a stage's `registration` options (PublicKeyCredentialCreationOptionsJSON) with a "none" attestation as
 * a browser would send it (clientDataJSON of type webauthn.create, the options' challenge and the page's origin).
 * CBOR through @simplewebauthn/server's own encoder, so the test speaks what the library decodes.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64u = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64url');

export class SoftAuthenticator {
  readonly credentialId: Buffer;
  private readonly cose: Uint8Array;

  /** `credentialId`: reuse another authenticator's id (a credential another user has) */
  constructor(credentialId?: Buffer) {
    this.credentialId = credentialId ?? randomBytes(32);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    // COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y
    this.cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
  }

  /** the credential id as the server stores it (base64url) */
  get id(): string {
    return b64u(this.credentialId);
  }

  /**
   * a registration response to `options` (the challenge's `registration`) from a page at `origin`; `userVerified`
   * (default true) sets the UV flag, `aaguid` names the authenticator's model (default: none, all zeros)
   */
  register(options: { challenge: string; rp: { id?: string } }, origin: string, opts: { userVerified?: boolean; aaguid?: string } = {}) {
    const rpId = options.rp.id ?? new URL(origin).hostname;
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false }),
    );
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const authData = Buffer.concat([
      createHash('sha256').update(rpId).digest(),
      // user present, user verified (unless told not), attested credential data
      Buffer.from([opts.userVerified === false ? 0x41 : 0x45]),
      Buffer.alloc(4), // sign count 0
      opts.aaguid ? Buffer.from(opts.aaguid.replaceAll('-', ''), 'hex') : Buffer.alloc(16),
      idLength,
      this.credentialId,
      this.cose,
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]) as never,
    );
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON: b64u(clientDataJSON), attestationObject: b64u(attestationObject), transports: ['internal'] },
    };
  }
}
