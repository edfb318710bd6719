/**
 * POST /application/o/device/ (authentik's DeviceView, RFC 8628 §3.1–3.2): a client asks for a device code; the
 * answer names the user code and where a person enters it (`/device`, authentik's device-login URL). The code lives
 * as long as the provider's `access_code_validity`; clients poll every 5 s. As authentik: 20 requests per hour and
 * client address (`throttle.providers.oauth2.device`), then 429 `slow_down` — counted on each node.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../services.js';
import { oauth2ProviderByClientId } from '../config.js';
import { DeviceCodeError } from '../protocol/errors.js';
import { intersectScopes, parseScope, formatScope } from '../protocol/scopes.js';
import { scopeNamesOf } from '../endpoints/claims.js';
import { formOf, originOf, sendToken } from '../endpoints/http.js';
import { durationMs } from '../endpoints/issue.js';
import { createDeviceCode } from './store.js';

export const DEVICE_ENTRY_PATH = '/device';
/** authentik's polling interval */
export const DEVICE_INTERVAL_S = 5;
const RATE = 20;
const WINDOW_MS = 60 * 60_000;

/** per server and client address: the times of its requests in the last hour (authentik's AnonRateThrottle) */
const counters = new WeakMap<object, Map<string, number[]>>();

function throttled(svc: Services, ip: string, now = Date.now()): boolean {
  let seen = counters.get(svc.db);
  if (!seen) counters.set(svc.db, (seen = new Map()));
  const times = (seen.get(ip) ?? []).filter((t) => now - t < WINDOW_MS);
  if (times.length >= RATE) {
    seen.set(ip, times);
    return true;
  }
  times.push(now);
  seen.set(ip, times);
  if (seen.size > 10_000) for (const [k, v] of seen) if (v.every((t) => now - t >= WINDOW_MS)) seen.delete(k);
  return false;
}

export async function deviceAuthorizationEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  if (throttled(svc, req.ip)) return sendToken(reply, new DeviceCodeError('slow_down').body(), 429);
  const form = formOf(req);
  const clientId = form.client_id ?? '';
  const provider = clientId ? await oauth2ProviderByClientId(svc, clientId) : undefined;
  if (!provider || !provider.application) return sendToken(reply, new DeviceCodeError('invalid_client').body(), 400);
  const scope = intersectScopes(parseScope(form.scope), await scopeNamesOf(svc, provider));
  const validity = durationMs(provider.access_code_validity);
  const code = await createDeviceCode(svc.db, provider.id, formatScope([...scope]), validity);
  const url = `${originOf(req, svc.config)}${DEVICE_ENTRY_PATH}`;
  return sendToken(reply, {
    device_code: code.deviceCode,
    verification_uri: url,
    verification_uri_complete: `${url}?${new URLSearchParams({ code: code.userCode })}`,
    user_code: code.userCode,
    expires_in: Math.floor(validity / 1000),
    interval: DEVICE_INTERVAL_S,
  });
}
