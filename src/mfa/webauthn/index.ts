/**
 * WebAuthn security keys and passkeys: an assertion against the challenge of the last render, from a device whose
 * model the validation stage allows. Registered only by the authenticator itself (no admin create).
 */
import { Type } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { rowToApi } from '../../rest/serialize.js';
import type { DB } from '../../db/index.js';
import { defineDeviceClass, type Validation } from '../device-class.js';
import type { WebAuthnDevicesTable } from './table.js';
import {
  allowedWebAuthn,
  assertionCredentialId,
  invalidDeviceType,
  newWebAuthnChallenge,
  originOf,
  requestOptions,
  rpIdOf,
  verifyAssertion,
} from './webauthn.js';

const deviceTypes = async (db: DB) =>
  new Map((await db.selectFrom('webauthn_device_types').select(['aaguid', 'description']).execute()).map((t) => [t.aaguid, t]));

/** a fresh challenge for the user's devices, kept in the flow context until used */
function requestFor(v: Validation, devices: WebAuthnDevicesTable[]) {
  const { c } = v;
  const challenge = newWebAuthnChallenge();
  c.state.webauthnChallenge = challenge;
  return requestOptions(
    challenge,
    rpIdOf(c.req, c.svc.config.externalUrl),
    devices,
    c.config.webauthn_user_verification,
    c.config.webauthn_hints,
  );
}

export const webauthnClass = defineDeviceClass<WebAuthnDevicesTable>({
  id: 'webauthn',
  credentialType: 'fido-u2f',
  table: 'webauthn_devices',
  app: 'authentik_stages_authenticator_webauthn',
  model: 'WebAuthnDevice',
  verbose: 'WebAuthn Device',
  order: 'name',
  challenger: {
    answer: { field: 'webauthn', schema: S.obj({ nullable: true, 'x-optional': true }) },
    challenge(v, devices) {
      const device = allowedWebAuthn(devices, v.c.config.webauthn_allowed_device_types)[0];
      return device ? { device, challenge: requestFor(v, devices) } : undefined;
    },
    async verify({ c }, devices, assertion) {
      const refused = (message: string) => ({ refused: message, failure: message });
      const id = assertionCredentialId(assertion);
      const device = id ? devices.find((d) => d.credential_id === id) : undefined;
      if (!device) return refused('Invalid device');
      if (!allowedWebAuthn([device], c.config.webauthn_allowed_device_types).length)
        return refused(invalidDeviceType((await c.svc.brand(c.req.host)).branding_title));
      const challenge = c.state.webauthnChallenge;
      if (!challenge) return refused('Assertion failed');
      const verified = await verifyAssertion(c.svc.db, device, assertion, {
        challenge,
        origin: originOf(c.req, c.svc.config.externalUrl),
        rpId: rpIdOf(c.req, c.svc.config.externalUrl),
        requireUserVerification: c.config.webauthn_user_verification === 'required',
      });
      return verified ? { device } : refused('Assertion failed');
    },
  },
  api: {
    nameMaxLength: 200,
    listUnconfirmed: true,
    props: {
      created_on: S.ro(S.datetime({ 'x-computed': true })),
      device_type: S.ro(Type.Unsafe({ $ref: '#/components/schemas/WebAuthnDeviceType', nullable: true, 'x-computed': true })),
      aaguid: S.ro(S.text()),
    },
    async render(db) {
      const types = await deviceTypes(db);
      return (r) => ({
        created_on: rowToApi({ d: S.datetime() }, { d: r.created }).d,
        device_type: types.get(String(r.aaguid)) ?? null,
        aaguid: r.aaguid ?? '00000000-0000-0000-0000-000000000000',
      });
    },
    createRefused: 'WebAuthn devices are registered by the authenticator itself, through an enrolment flow.',
    async describe(db) {
      const types = await deviceTypes(db);
      return (r) => ({ extra_description: types.get(r.aaguid)?.description ?? null, external_id: r.aaguid });
    },
    usedByName: (r) => r.name,
  },
});
