/**
 * A receiver's stream configuration as the stream endpoint takes it (authentik's StreamSerializer and
 * StreamDeliverySerializer): DRF's messages and shapes, the delivery's errors nested under `delivery`. Push delivery
 * needs an http(s) endpoint; poll is refused (authentik: "Polling for SSF events is not currently supported.").
 */
import { type FieldErrors, ValidationError } from '../../rest/errors.js';
import { DELIVERY_METHODS, EVENT_TYPES, PUSH_METHODS, RFC_POLL, RISC_POLL } from './schema.js';

export interface StreamInput {
  delivery?: { method: string; endpoint_url?: string; authorization_header?: string };
  events_requested?: string[];
  format?: string;
  aud?: string[];
}

const REQUIRED = 'This field is required.';
const choice = (v: unknown) => `"${String(v)}" is not a valid choice.`;
const notAList = (v: unknown) =>
  `Expected a list of items but got type "${Array.isArray(v) ? 'list' : typeof v === 'string' ? 'str' : typeof v}".`;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(v: unknown, errors: FieldErrors, field: string, allowed?: readonly string[]): string[] | undefined {
  if (!Array.isArray(v)) {
    errors[field] = [notAList(v)];
    return undefined;
  }
  const items: FieldErrors = {};
  v.forEach((x, i) => {
    if (typeof x !== 'string' || (allowed && !allowed.includes(x))) items[String(i)] = [allowed ? choice(x) : 'Not a valid string.'];
  });
  if (Object.keys(items).length) {
    errors[field] = items;
    return undefined;
  }
  return v as string[];
}

function delivery(v: unknown, partial: boolean): { value?: StreamInput['delivery']; errors?: FieldErrors } {
  if (!isObject(v))
    return { errors: { non_field_errors: [`Invalid data. Expected a dictionary, but got ${Array.isArray(v) ? 'list' : typeof v}.`] } };
  const errors: FieldErrors = {};
  const method = v.method;
  if (method === undefined) {
    if (!partial) errors.method = [REQUIRED];
  } else if (typeof method !== 'string' || !(DELIVERY_METHODS as readonly string[]).includes(method)) errors.method = [choice(method)];
  else if (method === RISC_POLL || method === RFC_POLL) errors.method = ['Polling for SSF events is not currently supported.'];
  for (const k of ['endpoint_url', 'authorization_header'] as const)
    if (v[k] !== undefined && (typeof v[k] !== 'string' || v[k] === ''))
      errors[k] = [typeof v[k] === 'string' ? 'This field may not be blank.' : 'Not a valid string.'];
  if (Object.keys(errors).length) return { errors };
  const endpoint = v.endpoint_url as string | undefined;
  if (PUSH_METHODS.includes(method as string) && !endpoint)
    return { errors: { non_field_errors: ['Endpoint URL is required when using push.'] } };
  if (endpoint !== undefined && !/^https?:\/\/[^\s/?#]+/i.test(endpoint)) return { errors: { endpoint_url: ['Enter a valid URL.'] } };
  return {
    value: {
      method: method as string,
      ...(endpoint !== undefined ? { endpoint_url: endpoint } : {}),
      ...(v.authorization_header !== undefined ? { authorization_header: v.authorization_header as string } : {}),
    },
  };
}

/** the body's stream fields (all required but `format` and `aud` unless `partial`); a 400 in DRF's shape otherwise */
export function parseStream(body: unknown, partial: boolean): StreamInput {
  if (!isObject(body))
    throw ValidationError.nonField(`Invalid data. Expected a dictionary, but got ${Array.isArray(body) ? 'list' : typeof body}.`);
  const errors: FieldErrors = {};
  const out: StreamInput = {};
  if (body.delivery === undefined) {
    if (!partial) errors.delivery = [REQUIRED];
  } else {
    const d = delivery(body.delivery, partial);
    if (d.errors) errors.delivery = d.errors;
    else out.delivery = d.value;
  }
  if (body.events_requested === undefined) {
    if (!partial) errors.events_requested = [REQUIRED];
  } else {
    const list = stringList(body.events_requested, errors, 'events_requested', EVENT_TYPES);
    if (list) out.events_requested = list;
  }
  if (body.format !== undefined) {
    if (typeof body.format !== 'string' || body.format === '')
      errors.format = [typeof body.format === 'string' ? 'This field may not be blank.' : 'Not a valid string.'];
    else out.format = body.format;
  }
  if (body.aud !== undefined) {
    const list = stringList(body.aud, errors, 'aud');
    if (list) out.aud = list;
  }
  if (Object.keys(errors).length) throw new ValidationError(errors);
  return out;
}
