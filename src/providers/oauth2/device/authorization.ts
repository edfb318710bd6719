/**
 * POST /application/o/device/ (authentik's DeviceView, RFC 8628 §3.1–3.2): a client asks for a device code; the
 * answer names the user code and where a person enters it (`/device`, authentik's device-login URL). The code lives
 * as long as the provider's `access_code_validity`; clients poll every 5 s. As authentik: 20 requests per hour and
 * client address (`throttle.providers.oauth2.device`), then 429 `slow_down` — counted in the database with one
 * atomic upsert per request (src/mfa/send-limit.ts), so the limit holds under parallel requests and across nodes.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../services.js';
import { oauth2ProviderByClientId } from '../config.js';
import { DeviceCodeError } from '../protocol/errors.js';
import { intersectScopes, parseScope, formatScope } from '../protocol/scopes.js';
import { scopeNamesOf } from '../endpoints/claims.js';
import { clientAuthOf, formOf, originOf, sendToken } from '../endpoints/http.js';
import { durationMs } from '../endpoints/issue.js';
import { createDeviceCode } from './store.js';
import { reserve } from '../../../mfa/send-limit.js';

export const DEVICE_ENTRY_PATH = '/device';
/** authentik's polling interval */
export const DEVICE_INTERVAL_S = 5;
const RATE = 20;
const WINDOW_MS = 60 * 60_000;

/** authentik's AnonRateThrottle for this view, as a fixed window per client address */
function throttled(svc: Services, ip: string): Promise<boolean> {
  return reserve(svc.db, 'oauth2_device_ip', ip, RATE, WINDOW_MS).then((ok) => !ok);
}

export async function deviceAuthorizationEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  if (await throttled(svc, req.ip)) return sendToken(reply, new DeviceCodeError('slow_down').body(), 429);
  const form = formOf(req);
  // the client as the token endpoint knows it: form or HTTP Basic (authentik's test_backchannel_client_id_via_auth_header)
  const { clientId } = clientAuthOf(req, form);
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
