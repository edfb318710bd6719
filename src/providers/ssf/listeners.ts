import type { FastifyBaseLogger } from 'fastify';
import type { Services } from '../../services.js';
import type { UsersTable } from '../../db/types.js';
import type { CredentialChange } from '../../events/signals.js';
import type { SessionEnding } from '../../sessions/sessions.js';
import { userById } from '../../users/by-id.js';
import { queueSsfEvent } from './events.js';
import { CREDENTIAL_CHANGE, SESSION_REVOKED } from './schema.js';

/** a WebAuthn device whose model is not known (authentik's UNKNOWN_DEVICE_TYPE_AAGUID): not sent */
const UNKNOWN_AAGUID = '00000000-0000-0000-0000-000000000000';

const userSubject = (u: Pick<UsersTable, 'email' | 'uuid'>) =>
  u.email ? { format: 'email', email: u.email } : { format: 'opaque', id: u.uuid };
const anyStream = (svc: Services) =>
  svc.db.selectFrom('ssf_streams').select('uuid').where('status', 'in', ['enabled', 'paused']).limit(1).executeTakeFirst();

export async function sessionRevoked(svc: Services, sessionKey: string, ending: SessionEnding): Promise<void> {
  if (ending.userId === null || !(await anyStream(svc))) return;
  const user = await userById(svc.db, ending.userId);
  if (!user) return;
  await queueSsfEvent(svc, {
    type: SESSION_REVOKED,
    data: { initiating_entity: ending.by, event_timestamp: Math.floor(Date.now() / 1000) },
    subId: {
      format: 'complex',
      user: userSubject(user),
      session: { format: 'opaque', id: sessionKey },
    },
    user,
  });
}

export async function credentialChanged(svc: Services, c: CredentialChange): Promise<void> {
  if (!(await anyStream(svc))) return;
  const user = await userById(svc.db, c.userId);
  if (!user) return;
  await queueSsfEvent(svc, {
    type: CREDENTIAL_CHANGE,
    data: {
      credential_type: c.credentialType,
      change_type: c.changeType,
      ...(c.friendlyName !== undefined ? { friendly_name: c.friendlyName } : {}),
      ...(c.fido2Aaguid && c.fido2Aaguid !== UNKNOWN_AAGUID ? { fido2_aaguid: c.fido2Aaguid } : {}),
      event_timestamp: Math.floor(Date.now() / 1000),
    },
    subId: { format: 'complex', user: userSubject(user) },
    user,
  });
}

/** the provider's listeners, once per server */
export function listenForSignals(svc: Services, log: FastifyBaseLogger): void {
  const warn = (err: unknown) => log.warn({ err }, 'SSF event could not be queued');
  svc.sessions.onLogout((key, _session, _req, ending) => (ending ? sessionRevoked(svc, key, ending).catch(warn) : Promise.resolve()));
  svc.signals.onCredentialChange((c) => credentialChanged(svc, c).catch(warn));
}
