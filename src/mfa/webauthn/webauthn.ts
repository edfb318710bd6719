/** WebAuthn assertions (login with a registered security key or passkey), verified by @simplewebauthn/server. */
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { DB } from '../../db/index.js';
import type { WebAuthnDevicesTable } from './table.js';
import { KNOWN_DEVICE_TYPES } from '../../db/migrations/0003_webauthn_device_types.js';

export const newWebAuthnChallenge = () => randomBytes(32).toString('base64url');

/**
 * The relying party: the host of KEYSTAGE_EXTERNAL_URL when it is set; otherwise the host the request names as
 * Fastify resolves it (X-Forwarded-Host/-Proto only from KEYSTAGE_TRUSTED_PROXIES, else the Host header, which the
 * client chooses — production should set the external URL).
 */
export const rpIdOf = (req: FastifyRequest, externalUrl: URL | undefined) => externalUrl?.hostname ?? req.hostname.replace(/:\d+$/, '');
export const originOf = (req: FastifyRequest, externalUrl: URL | undefined) => externalUrl?.origin ?? `${req.protocol}://${req.host}`;

const unpad = (s: unknown) => (typeof s === 'string' ? s.replace(/=+$/, '') : s);

export function requestOptions(
  challenge: string,
  rpId: string,
  devices: Pick<WebAuthnDevicesTable, 'credential_id'>[],
  userVerification: string,
  hints: string[],
) {
  return {
    challenge,
    timeout: 60000,
    rpId,
    allowCredentials: devices.map((d) => ({ id: d.credential_id, type: 'public-key' })),
    userVerification,
    ...(hints.length ? { hints } : {}),
  };
}

/** the credential id an assertion claims, or undefined when the object is malformed */
export function assertionCredentialId(assertion: unknown): string | undefined {
  if (!assertion || typeof assertion !== 'object') return undefined;
  const a = assertion as Record<string, unknown>;
  const id = unpad(a.id ?? a.rawId);
  return typeof id === 'string' && id.length > 0 && id.length < 1024 ? id : undefined;
}

export interface AssertionCheck {
  challenge: string;
  origin: string;
  rpId: string;
  requireUserVerification: boolean;
}

/**
 * verifies and stores the new signature counter; false on any failure (bad signature, replayed counter, wrong origin,
 * or a relying party other than the one the credential was registered for)
 */
export async function verifyAssertion(db: DB, device: WebAuthnDevicesTable, assertion: unknown, check: AssertionCheck): Promise<boolean> {
  if (device.rp_id !== check.rpId) return false;
  const a = assertion as Record<string, any>;
  const r = (a.response ?? {}) as Record<string, unknown>;
  const response = {
    id: unpad(a.id ?? a.rawId) as string,
    rawId: unpad(a.rawId ?? a.id) as string,
    type: 'public-key' as const,
    clientExtensionResults: {},
    response: {
      clientDataJSON: unpad(r.clientDataJSON) as string,
      authenticatorData: unpad(r.authenticatorData) as string,
      signature: unpad(r.signature) as string,
      ...(typeof r.userHandle === 'string' && r.userHandle ? { userHandle: unpad(r.userHandle) as string } : {}),
    },
  };
  try {
    // loaded on first use: the library and its ASN.1/CBOR dependencies are large
    const { verifyAuthenticationResponse } = await import('@simplewebauthn/server');
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: check.challenge,
      expectedOrigin: check.origin,
      expectedRPID: check.rpId,
      requireUserVerification: check.requireUserVerification,
      credential: {
        id: device.credential_id,
        publicKey: Buffer.from(device.public_key, 'base64url'),
        counter: device.sign_count,
      },
    });
    if (!result.verified) return false;
    const now = new Date().toISOString();
    await db
      .updateTable('webauthn_devices')
      .set({ sign_count: result.authenticationInfo.newCounter, last_used: now, last_updated: now })
      .where('id', '=', device.id)
      .execute();
    return true;
  } catch {
    return false;
  }
}

/** authentik's message for an authenticator model a stage does not allow */
export const invalidDeviceType = (brandTitle: string) => `Invalid device type. Contact your ${brandTitle} administrator for help.`;

/** AAGUIDs with a row in webauthn_device_types (seeded, read-only) */
const KNOWN_AAGUIDS = new Set(KNOWN_DEVICE_TYPES.map(([aaguid]) => aaguid));

/**
 * WebAuthn devices whose authenticator model is allowed. As upstream, a restriction only applies to devices of a
 * known type: a model missing from webauthn_device_types (or an all-zero AAGUID) is allowed.
 */
export function allowedWebAuthn(devices: WebAuthnDevicesTable[], allowedTypes: string[]): WebAuthnDevicesTable[] {
  if (!allowedTypes.length) return devices;
  return devices.filter((d) => !KNOWN_AAGUIDS.has(d.aaguid) || allowedTypes.includes(d.aaguid));
}
