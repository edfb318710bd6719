/**
 * The password policy (authentik's PasswordPolicy): static rules, Have I Been Pwned and zxcvbn, in that order; the
 * first check that fails decides, with its message. The password comes from the context (`prompt_data[field]`,
 * else `context[field]`).
 *
 * Have I Been Pwned is asked by k-anonymity: only the first five hex characters of the password's SHA-1 leave the
 * server (`GET {KEYSTAGE_HIBP_URL}/range/{prefix}`), and the answer's `SUFFIX:COUNT` lines are compared here. It
 * must answer within the binding's timeout; a failure to ask raises, so the binding's failure_result applies.
 */
import { createHash } from 'node:crypto';
import type { PolicyCall, PolicyConfig, PolicyDef, PolicyResult } from '../types.js';
import { PASSWORD_NOT_SET, passwordFromContext } from '../context.js';
import { passwordSchema } from './schema.js';
import { estimate } from './zxcvbn.js';

type Config = PolicyConfig<typeof passwordSchema>;

const count = (s: string, re: RegExp) => s.match(re)?.length ?? 0;

/** the static rules (authentik's passes_static): lengths and counts in code points, ASCII letter and digit classes */
export function passesStatic(password: string, config: Config): PolicyResult {
  // an empty error message is "Invalid password." (authentik computes this fallback, then returns the blank message:
  // a person would see nothing, so the fallback is used here)
  const fail: PolicyResult = { passing: false, messages: [config.error_message || 'Invalid password.'] };
  if ([...password].length < config.length_min) return fail;
  if (config.amount_digits > 0 && count(password, /[0-9]/g) < config.amount_digits) return fail;
  if (config.amount_lowercase > 0 && count(password, /[a-z]/g) < config.amount_lowercase) return fail;
  if (config.amount_uppercase > 0 && count(password, /[A-Z]/g) < config.amount_uppercase) return fail;
  if (config.amount_symbols > 0) {
    let symbols = 0;
    // each character of the charset counts its occurrences (a character listed twice counts twice, as authentik)
    for (const symbol of config.symbol_charset) for (const ch of password) if (ch === symbol) symbols++;
    if (symbols < config.amount_symbols) return fail;
  }
  return { passing: true, messages: [] };
}

/** how often the password appears in Have I Been Pwned's corpus (a k-anonymity range query) */
export async function pwnedCount(baseUrl: string, password: string, timeoutMs: number): Promise<number> {
  const hash = createHash('sha1').update(password, 'utf8').digest('hex');
  const prefix = hash.slice(0, 5);
  const suffix = hash.slice(5);
  const res = await fetch(`${baseUrl}/range/${prefix}`, {
    signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
    headers: { 'user-agent': 'keystage' },
  });
  if (!res.ok) throw new Error(`Have I Been Pwned answered ${res.status}`);
  let found = 0;
  for (const line of (await res.text()).split(/\r?\n/)) {
    if (line === '') continue;
    const [full, n] = line.split(':');
    if (full === undefined || n === undefined) throw new Error('Have I Been Pwned answered something else than SUFFIX:COUNT lines');
    if (full.trim().toLowerCase() === suffix) found = Number.parseInt(n, 10);
  }
  return found;
}

async function passesHibp(call: PolicyCall<Config>, password: string): Promise<PolicyResult> {
  const n = await pwnedCount(call.svc.config.hibpUrl, password, call.timeoutMs);
  if (n > call.config.hibp_allowed_count) return { passing: false, messages: [`Password exists on ${n} online lists.`] };
  return { passing: true, messages: [] };
}

async function passesZxcvbn(call: PolicyCall<Config>, password: string): Promise<PolicyResult> {
  const inputs: string[] = [];
  const u = call.request.user;
  if (u) inputs.push(u.username, u.name, u.email);
  // authentik: the request's brand title (`request.http_request.brand.branding_title`)
  if (call.request.http) inputs.push((await call.svc.brand(call.request.http.host)).branding_title);
  // the first 72 characters only (zxcvbn's cost grows with the length; longer passwords pass anyway)
  const { score, suggestions } = await estimate(
    [...password].slice(0, 72).join(''),
    inputs.filter((i) => i !== ''),
  );
  const passing = score > call.config.zxcvbn_score_threshold;
  // authentik adds the suggestions (not the warning) to the messages
  return { passing, messages: [...(passing ? [] : ['Password is too weak.']), ...suggestions] };
}

export const passwordPolicy: PolicyDef = {
  ...passwordSchema,
  async evaluate(call: PolicyCall<Config>) {
    const password = passwordFromContext(call.request.context, call.config.password_field);
    if (password === undefined) return { passing: false, messages: [PASSWORD_NOT_SET] };
    if (call.config.check_static_rules) {
      const r = passesStatic(password, call.config);
      if (!r.passing) return r;
    }
    if (call.config.check_have_i_been_pwned) {
      const r = await passesHibp(call, password);
      if (!r.passing) return r;
    }
    if (call.config.check_zxcvbn) {
      const r = await passesZxcvbn(call, password);
      if (!r.passing) return r;
    }
    return { passing: true, messages: [] };
  },
  promptField: (config: Config) => config.password_field,
};
