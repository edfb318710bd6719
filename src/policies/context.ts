/** What several policy types read from a request's context, as authentik reads it. */

/**
 * The password a policy checks: `prompt_data[field]`, else `context[field]` (authentik's
 * `request.context.get("prompt_data", {}).get(field, request.context.get(field))`); undefined when it is missing or
 * empty (authentik's "Password not set in context").
 */
export function passwordFromContext(context: Record<string, unknown>, field: string): string | undefined {
  const prompt = context.prompt_data;
  const data = prompt && typeof prompt === 'object' && !Array.isArray(prompt) ? (prompt as Record<string, unknown>) : {};
  const v = Object.hasOwn(data, field) ? data[field] : context[field];
  // Python's truthiness: None, "", 0, False and empty containers are "not set"
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return undefined;
  if (Array.isArray(v)) return v.length ? JSON.stringify(v) : undefined;
  if (typeof v === 'object') return Object.keys(v).length ? JSON.stringify(v) : undefined;
  return String(v);
}

export const PASSWORD_NOT_SET = 'Password not set in context';
