/** A Duo push (Auth API `auth`, factor auto) for an enrolled device, with the credentials of its stage. */
import type { FastifyRequest } from 'fastify';
import type { UsersTable } from '../../db/types.js';
import type { DuoDevicesTable } from './table.js';
import type { Services } from '../../flows/engine/runtime.js';
import { loadStageConfig } from '../../stages/resource.js';
import { duoCall } from './duo-api.js';
import { authenticatorDuoSchema } from '../../stages/authenticator_duo/schema.js';
import type { DuoStageConfig } from '../../stages/authenticator_duo/stage.js';

export async function duoPush(svc: Services, device: DuoDevicesTable, user: UsersTable, req: FastifyRequest): Promise<boolean> {
  const cfg = device.stage ? await loadStageConfig<DuoStageConfig>(svc.db, authenticatorDuoSchema, device.stage) : undefined;
  if (!cfg) return false;
  const r = await duoCall<{ result: string }>(cfg, '/auth/v2/auth', {
    user_id: device.duo_user_id,
    factor: 'auto',
    device: 'auto',
    ipaddr: req.ip,
    display_username: user.username,
    type: `${(await svc.brand(req.host)).branding_title} Login request`,
    pushinfo: `Domain=${req.hostname}`,
  });
  return r.result === 'allow';
}
