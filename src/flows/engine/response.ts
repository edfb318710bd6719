/** Validates a stage's response body with DRF's messages, reported in the executor's `{string, code}` shape. */
import { ValidationError, type FieldErrors } from '../../rest/errors.js';
import { validateBody } from '../../rest/validate.js';
import type { Props } from '../../rest/schema.js';
import type { DB } from '../../db/index.js';
import type { ResponseErrors } from './runtime.js';

function codeOf(message: string): string {
  if (message === 'This field is required.') return 'required';
  if (message === 'This field may not be blank.') return 'blank';
  if (message === 'This field may not be null.') return 'null';
  return 'invalid';
}

export function toResponseErrors(errors: FieldErrors | string[]): ResponseErrors {
  const out: ResponseErrors = {};
  if (Array.isArray(errors)) {
    out.non_field_errors = errors.map((m) => ({ string: m, code: codeOf(m) }));
    return out;
  }
  for (const [k, v] of Object.entries(errors)) {
    const msgs = Array.isArray(v) ? v : Object.values(v).flat();
    out[k] = (msgs as string[]).map((m) => ({ string: String(m), code: codeOf(String(m)) }));
  }
  return out;
}

export async function parseResponse(
  db: DB,
  props: Props,
  body: unknown,
): Promise<{ ok: true; data: Record<string, unknown> } | { ok: false; errors: ResponseErrors }> {
  try {
    return { ok: true, data: await validateBody(props, body, { mode: 'create', db }) };
  } catch (e) {
    if (e instanceof ValidationError) return { ok: false, errors: toResponseErrors(e.errors) };
    throw e;
  }
}
