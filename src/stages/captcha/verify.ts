/**
 * Server-side captcha verification against the provider's siteverify endpoint (reCAPTCHA v2/v3, hCaptcha,
 * Cloudflare Turnstile all share the protocol: POST secret, response, remoteip; JSON reply with success,
 * optional score and error-codes). Fails closed: timeouts, transport errors and garbage are failures.
 */
import { VERSION } from '../../version.js';
import type { StageConfig } from '../types.js';
import type { captchaSchema } from './schema.js';
import type { FlowContext } from '../../flows/engine/context.js';

/** the stage's settings as its runtime reads them (typed from schema.ts) */
export type CaptchaConfig = StageConfig<typeof captchaSchema>;

export type CaptchaVerdict = { ok: true; response: Record<string, unknown> } | { ok: false; message: string; response?: unknown };

const RETRYABLE = new Set([
  'missing-input-response',
  'invalid-input-response',
  'timeout-or-duplicate',
  'expired-input-response',
  'already-seen-response',
]);
const MAX_REPLY_BYTES = 64 * 1024;

async function post(cfg: CaptchaConfig, token: string | undefined, remoteIp: string, timeoutMs: number): Promise<unknown> {
  const fields: Record<string, string> = { secret: cfg.private_key, remoteip: remoteIp };
  if (token) fields.response = token;
  const json = cfg.request_content_type === 'application/json';
  const res = await fetch(cfg.api_url, {
    method: 'POST',
    headers: {
      'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded',
      'user-agent': `keystage@${VERSION}`,
      accept: 'application/json',
    },
    body: json ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'error',
  });
  if (!res.ok) throw new Error(`provider answered HTTP ${res.status}`);
  const buf = Buffer.from(await res.arrayBuffer());
  if (buf.length > MAX_REPLY_BYTES) throw new Error('provider reply too large');
  return JSON.parse(buf.toString('utf8'));
}

export async function verifyCaptcha(
  cfg: CaptchaConfig,
  token: string | undefined,
  remoteIp: string,
  timeoutMs: number,
): Promise<CaptchaVerdict> {
  let reply: unknown;
  try {
    reply = await post(cfg, token, remoteIp, timeoutMs);
  } catch (e) {
    const timedOut = (e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError';
    return {
      ok: false,
      message: timedOut ? 'Failed to validate token: the captcha provider did not answer in time.' : 'Failed to validate token',
    };
  }
  if (!reply || typeof reply !== 'object' || Array.isArray(reply)) return { ok: false, message: 'Failed to validate token' };
  const r = reply as Record<string, unknown>;
  // unlike authentik, a failed token never passes: error_on_invalid_score only governs the score bounds
  if (r.success !== true) {
    const codes =
      Array.isArray(r['error-codes']) && r['error-codes'].length ? (r['error-codes'] as unknown[]).map(String) : ['unknown-error'];
    const retry = codes.every((c) => RETRYABLE.has(c));
    return {
      ok: false,
      message: retry ? 'Invalid captcha response. Retrying may solve this issue.' : 'Invalid captcha response',
      response: r,
    };
  }
  if ('score' in r && cfg.error_on_invalid_score) {
    const score = Number(r.score);
    if (!Number.isFinite(score)) return { ok: false, message: 'Invalid captcha response', response: r };
    if (cfg.score_max_threshold > -1 && score > cfg.score_max_threshold)
      return { ok: false, message: 'Invalid captcha response', response: r };
    if (cfg.score_min_threshold > -1 && score < cfg.score_min_threshold)
      return { ok: false, message: 'Invalid captcha response', response: r };
  }
  return { ok: true, response: r };
}

/** where a policy overrides the stage's keys in the plan (authentik's PLAN_CONTEXT_CAPTCHA_SITE_KEY / _PRIVATE_KEY) */
export const PLAN_SITE_KEY = 'goauthentik.io/stages/captcha/site_key';
export const PLAN_PRIVATE_KEY = 'goauthentik.io/stages/captcha/private_key';

/**
 * the stage's settings with the keys an expression policy put into the plan (`context["flow_plan"].context[…]`), as
 * authentik reads them: the site key the widget gets and the secret the token is checked with (e.g. a key pair per
 * brand or per application); a value that is no non-empty text is ignored
 */
export function withPlanKeys(cfg: CaptchaConfig, ctx: Pick<FlowContext, 'policyData'>): CaptchaConfig {
  const d = ctx.policyData ?? {};
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const site = text(d[PLAN_SITE_KEY]);
  const secret = text(d[PLAN_PRIVATE_KEY]);
  if (!site && !secret) return cfg;
  return { ...cfg, ...(site ? { public_key: site } : {}), ...(secret ? { private_key: secret } : {}) };
}

/** the captcha part of a challenge (also embedded in the identification challenge) */
export const captchaChallengeFields = (cfg: CaptchaConfig) => ({
  site_key: cfg.public_key,
  js_url: cfg.js_url,
  interactive: cfg.interactive,
});
