/**
 * A prompt stage's fields at run time, as authentik's Prompt model and PromptChallengeResponse build them: choices,
 * placeholder and initial value (literal, or Python through the expression runtime), the challenge's StagePrompt
 * objects, and the validation of a response — each field by its type with DRF's messages, fixed fields (hidden,
 * static, read-only) set from the stage never from the response, two password fields compared, and the stage's
 * validation policies run with the prompt data in their context.
 */
import { pyStr } from '../../expressions/py-str.js';
import type { DB } from '../../db/index.js';
import type { UsersTable } from '../../db/types.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import { evaluate, type Json, type JsonObject } from '../../expressions/index.js';
import { policyUser } from '../../policies/request.js';
import type { PolicyRequest } from '../../policies/types.js';
import type { Services } from '../../services.js';
import type { ResponseErrors } from '../../flows/engine/runtime.js';
import { CHOICE_TYPES, FIXED_TYPES, type PromptChoice, type PromptType, type StagePrompt } from './challenge.js';
import { fieldsLink, PROMPTS_TABLE } from './schema.js';
import { nativePromptExpression } from './native.js';
import { EMAIL_RE, FALSE_VALUES, TRUE_VALUES } from '../../rest/validate.js';

export interface Prompt {
  prompt_uuid: string;
  name: string;
  field_key: string;
  label: string;
  type: PromptType;
  required: boolean;
  placeholder: string;
  initial_value: string;
  sub_text: string;
  order: number;
  placeholder_expression: boolean;
  initial_value_expression: boolean;
}

export interface PromptsTable {
  prompt_uuid: string;
  name: string;
  field_key: string;
  label: string;
  type: string;
  required: number | boolean;
  placeholder: string;
  initial_value: string;
  sub_text: string;
  order: number;
  placeholder_expression: number | boolean;
  initial_value_expression: number | boolean;
}

declare module '../../db/types.js' {
  interface Database {
    stage_prompt_prompts: PromptsTable;
  }
}

const truthy = (v: unknown) => v === true || v === 1 || v === '1';

export function promptOf(r: PromptsTable): Prompt {
  return {
    prompt_uuid: r.prompt_uuid,
    name: r.name,
    field_key: r.field_key,
    label: r.label,
    type: r.type as PromptType,
    required: truthy(r.required),
    placeholder: r.placeholder ?? '',
    initial_value: r.initial_value ?? '',
    sub_text: r.sub_text ?? '',
    order: Number(r.order),
    placeholder_expression: truthy(r.placeholder_expression),
    initial_value_expression: truthy(r.initial_value_expression),
  };
}

/** a stage's prompts by `order` (then as listed), kept until the next admin write */
export function stagePrompts(db: DB, stageUuid: string): Promise<Prompt[]> {
  return cachedAdminData(db, `prompt-fields:${stageUuid}`, async () => {
    const rows = await db
      .selectFrom(`${fieldsLink.table} as j` as 'stage_prompt_prompts')
      .innerJoin(`${PROMPTS_TABLE} as p` as 'stage_prompt_prompts', 'p.prompt_uuid' as never, 'j.target' as never)
      .selectAll('p' as 'stage_prompt_prompts')
      .where('j.stage_uuid' as never, '=', stageUuid as never)
      .orderBy('p.order' as never)
      .orderBy('j.position' as never)
      .execute();
    return (rows as unknown as PromptsTable[]).map(promptOf);
  });
}

/** the policies a stage validates with (pk, name, kind), in its order */
export function stageValidationPolicies(db: DB, ids: readonly string[]): Promise<{ uuid: string; name: string; kind: string }[]> {
  if (!ids.length) return Promise.resolve([]);
  return cachedAdminData(db, `prompt-policies:${ids.join(',')}`, async () => {
    const rows = await db
      .selectFrom('policies')
      .select(['policy_uuid', 'name', 'kind'])
      .where('policy_uuid', 'in', [...ids])
      .execute();
    const byId = new Map(rows.map((r) => [r.policy_uuid, r]));
    return ids.flatMap((id) => {
      const r = byId.get(id);
      return r ? [{ uuid: r.policy_uuid, name: r.name, kind: r.kind }] : [];
    });
  });
}

// ------------------------------------------------------------------------------------------------ expressions

/** what an expression of a prompt sees: the person, the HTTP request, and the prompt data so far */
export interface ExpressionEnv {
  user: UsersTable | undefined;
  http?: PolicyRequest['http'];
  /** the preview: a failing expression is the answer (400), not logged and replaced */
  dryRun: boolean;
  /** how long one expression may run */
  timeoutMs: number;
  /** where a failed expression is reported (outside the preview) */
  log?: (message: string) => void;
}

export class PromptExpressionError extends Error {}

const ANONYMOUS: JsonObject = { pk: null, username: '', name: '', email: '', is_active: false, is_authenticated: false, attributes: {} };

/** authentik's PropertyMappingEvaluator globals: `user`, `request` (a PolicyRequest), `prompt_context`, `dry_run` */
async function runExpression(p: Prompt, source: string, context: Record<string, unknown>, env: ExpressionEnv): Promise<Json> {
  const native = nativePromptExpression(source);
  if (native) return native(env.user);
  const user = env.user ? (policyUser(env.user) as JsonObject) : ANONYMOUS;
  const request: JsonObject = {
    ...(env.user ? { user } : {}),
    ...(env.http
      ? {
          http_request: {
            path: env.http.path,
            method: env.http.method,
            headers: env.http.headers,
            client_ip: env.http.clientIp,
            query: env.http.query,
          },
        }
      : {}),
    context: {},
  };
  const r = await evaluate({
    source,
    globals: { user, request, prompt_context: context as JsonObject, dry_run: env.dryRun },
    timeoutMs: env.timeoutMs,
    filename: p.name || 'PropertyMappingEvaluator',
  });
  if (r.ok) return r.value;
  throw new PromptExpressionError(r.traceback ?? r.error);
}

/** Python's truthiness of a JSON value */
export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

async function orLogged<T>(p: Prompt, env: ExpressionEnv, what: string, f: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (env.dryRun || !(e instanceof PromptExpressionError)) throw e;
    // authentik logs the failure and uses the text as it is
    env.log?.(`prompt ${p.name}: failed to evaluate its ${what}: ${e.message.split('\n').pop()}`);
    return fallback;
  }
}

const CHOICES_SUFFIX = '__choices';

/** authentik's Prompt.get_choices, each choice a {value, label} (a dict with `value` names its own label) */
export async function choicesOf(p: Prompt, context: Record<string, unknown>, env: ExpressionEnv): Promise<PromptChoice[] | null> {
  if (!CHOICE_TYPES.includes(p.type)) return null;
  let raw: unknown = p.placeholder;
  const key = p.field_key + CHOICES_SUFFIX;
  if (Object.hasOwn(context, key)) raw = context[key];
  else if (p.placeholder_expression) raw = await orLogged(p, env, 'choices', () => runExpression(p, p.placeholder, context, env), raw);
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((c) => {
    if (c && typeof c === 'object' && !Array.isArray(c) && Object.hasOwn(c, 'value')) {
      const o = c as Record<string, unknown>;
      const value = pyStr(o.value);
      return { value, label: Object.hasOwn(o, 'label') ? pyStr(o.label) : value };
    }
    const value = pyStr(c);
    return { value, label: value };
  });
}

/** authentik's Prompt.get_placeholder (choice fields: always blank, their placeholder lists the choices) */
export async function placeholderOf(p: Prompt, context: Record<string, unknown>, env: ExpressionEnv): Promise<unknown> {
  if (CHOICE_TYPES.includes(p.type)) return '';
  if (!p.placeholder_expression) return p.placeholder;
  return orLogged(p, env, 'placeholder', () => runExpression(p, p.placeholder, context, env), p.placeholder);
}

/**
 * authentik's Prompt.get_initial_value: what this flow already holds for the field (never evaluated: the person
 * typed it), else the expression's value or the literal; a choice field's value is one of its choices
 */
export async function initialOf(
  p: Prompt,
  context: Record<string, unknown>,
  env: ExpressionEnv,
  choices: PromptChoice[] | null,
): Promise<unknown> {
  let value: unknown;
  if (Object.hasOwn(context, p.field_key)) value = context[p.field_key];
  else if (p.initial_value_expression)
    value = await orLogged(p, env, 'initial value', () => runExpression(p, p.initial_value, context, env), p.initial_value);
  else value = p.initial_value;
  if (CHOICE_TYPES.includes(p.type)) {
    if (!choices?.length) return '';
    if (!choices.some((c) => c.value === pyStr(value))) return choices[0]!.value;
  }
  return value;
}

/** the challenge's fields (authentik's get_prompt_challenge_fields) */
export async function challengeFields(prompts: Prompt[], context: Record<string, unknown>, env: ExpressionEnv): Promise<StagePrompt[]> {
  const out: StagePrompt[] = [];
  for (const p of prompts) {
    const choices = await choicesOf(p, context, env);
    out.push({
      field_key: p.field_key,
      label: p.label,
      type: p.type,
      required: p.required,
      placeholder: pyStr(await placeholderOf(p, context, env)),
      initial_value: pyStr(await initialOf(p, context, env, choices)),
      order: p.order,
      sub_text: p.sub_text,
      choices: choices && choices.length ? choices : null,
    });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ validation

const MAX_TEXT = 65536;

const DATE_FORMAT = 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.';
const DATETIME_FORMAT = 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].';

type Check = { ok: true; value: unknown } | { ok: false; message: string; code?: string };
const bad = (message: string, code = 'invalid'): Check => ({ ok: false, message, code });

/** DRF's CharField: strings and numbers, trimmed unless told not to, blank per allow_blank */
function charField(v: unknown, opts: { trim: boolean; allowBlank: boolean; max?: number }): Check {
  if (typeof v === 'boolean' || !(typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))))
    return bad('Not a valid string.');
  let s = String(v);
  if (opts.trim) s = s.trim();
  if (s === '' && !opts.allowBlank) return bad('This field may not be blank.', 'blank');
  const max = opts.max ?? MAX_TEXT;
  if (s.length > max) return bad(`Ensure this field has no more than ${max} characters.`, 'max_length');
  return { ok: true, value: s };
}

function validDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

function dateField(v: unknown): Check {
  if (typeof v !== 'string') return bad(DATE_FORMAT);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v.trim());
  if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) return bad(DATE_FORMAT);
  return { ok: true, value: v.trim() };
}

function dateTimeField(v: unknown): Check {
  if (typeof v !== 'string') return bad(DATETIME_FORMAT);
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(v.trim());
  if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3])) || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59)
    return bad(DATETIME_FORMAT);
  // a time without a zone is UTC (Django's default time zone)
  const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${m[7] ? `.${m[7].padEnd(3, '0').slice(0, 3)}` : ''}${m[8] ?? 'Z'}`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return bad(DATETIME_FORMAT);
  return { ok: true, value: d.toISOString() };
}

/** authentik's InlineFileField: a base64 data URI */
function fileField(v: unknown, allowBlank: boolean): Check {
  const s = charField(v, { trim: true, allowBlank, max: Number.MAX_SAFE_INTEGER });
  if (!s.ok || s.value === '') return s;
  const text = s.value as string;
  if (!/^data:/i.test(text)) return bad('Invalid scheme');
  const comma = text.indexOf(',');
  const header = comma < 0 ? text.slice(5) : text.slice(5, comma);
  const semi = header.indexOf(';');
  if (comma < 0 || semi < 0 || header.slice(semi + 1) !== 'base64') return bad('Invalid encoding');
  return { ok: true, value: text };
}

export interface Validation {
  /** the fields' values; with `errors` absent, what goes into the plan's prompt data */
  data: Record<string, unknown>;
  errors?: ResponseErrors;
}

/**
 * One response, field by field (authentik's PromptChallengeResponse): returns the fields' values, or their errors.
 * Keys of the response that name no prompt of the stage are ignored; separators carry nothing.
 */
export async function validateFields(
  db: DB,
  prompts: Prompt[],
  body: Record<string, unknown>,
  context: Record<string, unknown>,
  env: ExpressionEnv,
  /** why a password field's value is refused (authentik's `password_validate` signal), none when it may be taken */
  checkPassword?: (password: string) => Promise<string[]>,
): Promise<Validation> {
  const entries: [string, unknown][] = [];
  const errors: ResponseErrors = {};
  const fail = (key: string, message: string, code = 'invalid') => {
    (errors[key] ??= []).push({ string: message, code });
  };
  for (const p of prompts) {
    const key = p.field_key;
    if (p.type === 'separator') continue;
    const choices = await choicesOf(p, context, env);
    const current = await initialOf(p, context, env, choices);
    const hasDefault = pyTruthy(current);
    if (FIXED_TYPES.includes(p.type)) {
      // the stage's value, whatever was sent: read-only fields their initial value, hidden and static ones their
      // initial value or else their placeholder (as it is written, not evaluated)
      const readOnly = p.type === 'text_read_only' || p.type === 'text_area_read_only';
      entries.push([key, hasDefault ? current : readOnly ? '' : p.placeholder]);
      continue;
    }
    const sent = Object.hasOwn(body, key) && body[key] !== undefined;
    if (!sent) {
      if (hasDefault) entries.push([key, current]);
      else if (p.required && p.type !== 'checkbox') fail(key, 'This field is required.', 'required');
      continue;
    }
    const v = body[key];
    if (v === null) {
      fail(key, 'This field may not be null.', 'null');
      continue;
    }
    let r: Check;
    switch (p.type) {
      case 'text':
      case 'text_area':
        r = charField(v, { trim: false, allowBlank: !p.required });
        break;
      case 'username':
        r = charField(v, { trim: true, allowBlank: false, max: 150 });
        // taken by someone else, whatever the case (the person's own username is theirs to keep)
        if (
          r.ok &&
          (await db
            .selectFrom('users')
            .select('id')
            .where((eb) => eb(eb.fn('lower', [eb.ref('username')]), '=', (r as { value: string }).value.toLowerCase()))
            .$if(!!env.user, (q) => q.where('id', '<>', env.user!.id))
            .executeTakeFirst())
        )
          r = bad('Username is already taken.');
        break;
      case 'email':
        r = charField(v, { trim: true, allowBlank: !p.required, max: 254 });
        if (r.ok && r.value !== '' && !EMAIL_RE.test(r.value as string)) r = bad('Enter a valid email address.');
        break;
      case 'password': {
        r = charField(v, { trim: true, allowBlank: false, max: 4096 });
        const refusals = r.ok && checkPassword ? await checkPassword(r.value as string) : [];
        for (const m of refusals.slice(1)) fail(key, m);
        if (refusals[0] !== undefined) r = bad(refusals[0]);
        break;
      }
      case 'number': {
        const text = typeof v === 'number' ? String(v) : typeof v === 'string' && v.length <= 1000 ? v.trim() : '';
        const n = /^[-+]?\d+(\.0*)?$/.test(text) ? Number(text) : Number.NaN;
        r = Number.isSafeInteger(n) ? { ok: true, value: n } : bad('A valid integer is required.');
        break;
      }
      case 'checkbox':
        r = TRUE_VALUES.has(v)
          ? { ok: true, value: true }
          : FALSE_VALUES.has(v)
            ? { ok: true, value: false }
            : bad('Must be a valid boolean.');
        break;
      case 'radio-button-group':
      case 'dropdown': {
        const text = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? pyStr(v) : undefined;
        const hit = text === undefined ? undefined : choices?.find((c) => c.value === text);
        r = hit ? { ok: true, value: hit.value } : bad(`"${text ?? pyStr(v)}" is not a valid choice.`, 'invalid_choice');
        break;
      }
      case 'date':
        r = dateField(v);
        break;
      case 'date-time':
        r = dateTimeField(v);
        break;
      case 'file':
        r = fileField(v, false);
        break;
      default:
        // ak-locale and any other text
        r = charField(v, { trim: true, allowBlank: true, max: 64 });
    }
    if (r.ok) entries.push([key, r.value]);
    else fail(key, r.message, r.code);
  }
  // (fromEntries: a field key such as `__proto__` stays a plain key)
  const data = Object.fromEntries(entries);
  if (Object.keys(errors).length) return { data, errors };
  // two password fields must match (compared as sent, as authentik compares initial_data)
  const passwords = prompts.filter((p) => p.type === 'password');
  if (passwords.length === 2 && new Set(passwords.map((p) => body[p.field_key])).size > 1)
    return { data, errors: { non_field_errors: [{ string: "Passwords don't match.", code: 'invalid' }] } };
  return { data };
}

/**
 * The stage's validation policies, all of which must pass (authentik's ListPolicyEngine in MODE_ALL), each asked
 * with the pending user and only the prompt data in its context. When one fails, every policy's messages are the
 * answer: under the field a policy names (the password policy's `password_field`, when the stage has that field),
 * else as non-field errors. A policy that fails to run fails with its error as message.
 */
export async function runValidationPolicies(
  svc: Services,
  policies: { uuid: string; name: string; kind: string }[],
  request: PolicyRequest,
  fieldKeys: ReadonlySet<string>,
): Promise<ResponseErrors | undefined> {
  if (!policies.length) return undefined;
  const results = await Promise.all(
    policies.map(async (p) => {
      const r = await svc.policies.runPolicy(p, request);
      const field = await svc.policies.promptField(p);
      return { passing: r.error ? false : r.passing, messages: r.error ? [r.error] : r.messages, field };
    }),
  );
  if (results.every((r) => r.passing)) return undefined;
  const errors: ResponseErrors = {};
  for (const r of results) {
    const key = r.field && fieldKeys.has(r.field) ? r.field : 'non_field_errors';
    for (const m of r.messages) (errors[key] ??= []).push({ string: m, code: 'invalid' });
  }
  // a failing policy that says nothing still fails the response
  if (!Object.keys(errors).length) errors.non_field_errors = [{ string: 'Invalid data.', code: 'invalid' }];
  return errors;
}
