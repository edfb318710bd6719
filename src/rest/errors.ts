/**
 * Errors as typed values, and the single place where they become authentik's (DRF's) wire shapes.
 * Route code throws these; the error handler installed by `installErrorHandling` renders them.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isForeignKeyViolation, isUniqueViolation } from '../db/dialect.js';

/** DRF field-error body: field → messages, `non_field_errors`, or index → messages for list items. */
export type FieldErrors = { [field: string]: string[] | FieldErrors };

export abstract class ApiError extends Error {
  abstract readonly status: number;
  abstract body(): unknown;
}

export class ValidationError extends ApiError {
  readonly status = 400;
  constructor(readonly errors: FieldErrors | string[]) {
    super('validation error');
  }
  body(): unknown {
    return this.errors;
  }
  static field(field: string, message: string) {
    return new ValidationError({ [field]: [message] });
  }
  static nonField(message: string) {
    return new ValidationError({ non_field_errors: [message] });
  }
  /**
   * authentik's views raising `ValidationError({field: "message"})`: DRF keeps a dict's string values as they are, so
   * the message comes without a list (`{"non_field_errors": "No recovery flow set."}`)
   */
  static bare(field: string, message: string) {
    return new BareValidationError({ [field]: message });
  }
}

/** a ValidationError whose messages are bare strings (see `ValidationError.bare`) */
class BareValidationError extends ValidationError {
  constructor(readonly bareErrors: Record<string, string>) {
    super(Object.fromEntries(Object.entries(bareErrors).map(([k, v]) => [k, [v]])));
  }
  override body(): unknown {
    return this.bareErrors;
  }
}

abstract class DetailError extends ApiError {
  constructor(readonly detail: string) {
    super(detail);
  }
  body() {
    return { detail: this.detail };
  }
}

export class NotFound extends DetailError {
  readonly status = 404;
  /** DRF's `No <Model> matches the given query.` */
  static model(model: string) {
    return new NotFound(`No ${model} matches the given query.`);
  }
  static plain() {
    return new NotFound('Not found.');
  }
  static invalidPage() {
    return new NotFound('Invalid page.');
  }
}

export class Forbidden extends DetailError {
  readonly status = 403;
  static notAuthenticated() {
    return new Forbidden('Authentication credentials were not provided.');
  }
  static badToken() {
    return new Forbidden('Token invalid/expired');
  }
  static permission() {
    return new Forbidden('You do not have permission to perform this action.');
  }
  static csrf(reason: string) {
    return new Forbidden(`CSRF Failed: ${reason}`);
  }
}

export class MethodNotAllowed extends DetailError {
  readonly status = 405;
  constructor(method: string) {
    super(`Method "${method}" not allowed.`);
  }
}

export class UnsupportedMediaType extends DetailError {
  readonly status = 415;
  constructor(contentType: string) {
    super(`Unsupported media type "${contentType}" in request.`);
  }
}

export class ParseError extends DetailError {
  readonly status = 400;
}

/**
 * A request body that is not JSON. The client sees DRF's `JSON parse error - …` with the parser's description (never
 * an excerpt of the body); logs get only the error class and the position (`logFields`).
 */
export class JsonParseError extends ParseError {
  constructor(
    description: string,
    readonly position: number | undefined,
  ) {
    super(`JSON parse error - ${description}`);
  }
  /** from the SyntaxError of JSON.parse(text) */
  static from(e: unknown, text: string): JsonParseError {
    const message = e instanceof Error ? e.message : '';
    const at = /at position (\d+)/.exec(message);
    const position = at ? Number(at[1]) : /Unexpected end of JSON input/.test(message) ? text.length : undefined;
    // V8 quotes the start of the input in some messages ("Unexpected token 'x', "{…" is not valid JSON"): cut it
    const description =
      message
        .replace(/,\s*".*$/s, '')
        .replace(/\s*\(line \d+ column \d+\)$/, '')
        .slice(0, 120) || 'Invalid JSON';
    return new JsonParseError(
      position === undefined ? description : description.replace(/ at position \d+$/, '') + ` at position ${position}`,
      position,
    );
  }
}

/** What may be logged about an error from parsing a request: its class, code and position, never its message. */
export function parseErrorLogFields(err: unknown): { type: string; code?: string; position?: number } | undefined {
  if (err instanceof JsonParseError) return { type: 'JsonParseError', ...(err.position !== undefined ? { position: err.position } : {}) };
  const code = (err as { code?: unknown })?.code;
  if (err instanceof ParseError || (typeof code === 'string' && code.startsWith('FST_ERR_CTP_')) || err instanceof SyntaxError)
    return { type: (err as Error)?.constructor?.name ?? 'Error', ...(typeof code === 'string' ? { code } : {}) };
  return undefined;
}

export class PayloadTooLarge extends DetailError {
  readonly status = 413;
}

/** DRF's Throttled: too many requests of a kind for now (`retryAfter` seconds: the Retry-After header) */
export class TooManyRequests extends DetailError {
  readonly status = 429;
  constructor(readonly retryAfter?: number) {
    super('Request was throttled.');
  }
}

/** Database unreachable: the request may succeed when retried. */
export class ServiceUnavailable extends DetailError {
  readonly status = 503;
  /** seconds, for the Retry-After header */
  retryAfter?: number;
}

/** PostgreSQL aborted the request's transaction to resolve a deadlock, or a serialization failure: a retry succeeds */
export function isTransientConflict(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '40P01' || code === '40001';
}

/** Anything unexpected: a generic message, the details only in the log. */
export class InternalError extends DetailError {
  readonly status = 500;
  constructor() {
    super('A server error occurred.');
  }
}

/** Bad request with an empty body (authentik's `set_password` rejection). */
export class EmptyBadRequest extends ApiError {
  readonly status = 400;
  body() {
    return undefined;
  }
}

const NOT_FOUND_HTML =
  '<!doctype html><html lang="en"><head><title>Not Found</title></head><body><h1>Not Found</h1><p>The requested resource was not found on this server.</p></body></html>';

/** the database is unreachable or went away mid-query (pg reports some of these without a code) */
export function isDbConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (
    typeof code === 'string' &&
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '08006', '08001', '08003', 'SQLITE_BUSY'].includes(code)
  )
    return true;
  const message = String((err as { message?: unknown })?.message ?? '');
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|read ECONNRESET/i.test(
    message,
  );
}

/**
 * Errors of the router before any route runs (a path with a broken percent escape, an over-long parameter): DRF's
 * generic text, never the framework's message (which quotes the path).
 */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
  const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : err.code === 'FST_ERR_BAD_URL' ? 400 : 500;
  reply.code(status).send({ detail: status === 500 ? 'A server error occurred.' : 'Malformed request.' });
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * Errors Node's HTTP parser meets before there is a request (malformed request line or headers, headers or body not
 * received in time): an authentik-shaped body, and the connection is closed.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const detail = status === 408 ? 'Request timed out.' : status === 431 ? 'Request headers too large.' : 'Malformed request.';
  const body = JSON.stringify({ detail });
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy();
}

export const CONCURRENT_DUPLICATE = 'An object with these values was created at the same time; try again.';
export const CONCURRENT_DELETION = 'An object this refers to was deleted at the same time; try again.';

/** Maps framework errors (body parsing, size limits) and our typed errors to authentik's bodies. Never leaks a stack. */
export function installErrorHandling(app: FastifyInstance) {
  app.setNotFoundHandler((_req, reply) => {
    reply.code(404).type('text/html; charset=utf-8').send(NOT_FOUND_HTML);
  });
  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new UnsupportedMediaType(String(req.headers['content-type'] ?? ''));
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413)
      e = new PayloadTooLarge('Request body exceeded the maximum allowed size.');
    else if (err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
      e = new ParseError('JSON parse error - Request body size did not match Content-Length');
    else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') e = new ParseError('JSON parse error - Expecting value: line 1 column 1 (char 0)');
    else if (isDbConnectionError(err)) e = new ServiceUnavailable('The database is unavailable; try again shortly.');
    else if (isTransientConflict(err)) {
      req.log.warn({ err }, 'a transaction aborted by the database to resolve a conflict');
      const busy = new ServiceUnavailable('The request collided with another one; try again.');
      busy.retryAfter = 1;
      e = busy;
    }
    // a constraint that refused a write whose checks passed before a concurrent write changed the rows they read
    // (the API's own writes check again under the admin-write lock, rest/resource.ts; this is for the rest)
    else if (isUniqueViolation(err) || isForeignKeyViolation(err)) {
      req.log.warn({ err }, 'a write raced another');
      e = ValidationError.nonField(isUniqueViolation(err) ? CONCURRENT_DUPLICATE : CONCURRENT_DELETION);
    }
    // other framework or Node errors of the request (bad URL encoding, aborted body, …): DRF's generic text, never
    // the error's own message
    else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) e = new ParseError('Malformed request.');
    else e = new InternalError();
    if (e instanceof InternalError) req.log.error({ err }, 'unhandled error');
    // a header set before the failure (a redirect's Location, …) must not make this answer fail too
    reply.removeHeader('location');
    if ((e instanceof TooManyRequests || e instanceof ServiceUnavailable) && e.retryAfter !== undefined)
      reply.header('retry-after', String(e.retryAfter));
    reply.code(e.status);
    const body = e.body();
    if (body === undefined) reply.send();
    else reply.send(body);
  });
}
