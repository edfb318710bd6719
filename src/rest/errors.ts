/**
 * Errors as typed values, and the single place where they become authentik's (DRF's) wire shapes.
 * Route code throws these; the error handler installed by `installErrorHandling` renders them.
 */
import type { FastifyError, FastifyInstance } from 'fastify';

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
  body() {
    return this.errors;
  }
  static field(field: string, message: string) {
    return new ValidationError({ [field]: [message] });
  }
  static nonField(message: string) {
    return new ValidationError({ non_field_errors: [message] });
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

export class PayloadTooLarge extends DetailError {
  readonly status = 413;
}

/** Database unreachable: the request may succeed when retried. */
export class ServiceUnavailable extends DetailError {
  readonly status = 503;
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
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '08006', '08001', '08003', 'SQLITE_BUSY'].includes(code))
    return true;
  const message = String((err as { message?: unknown })?.message ?? '');
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|read ECONNRESET/i.test(message);
}

/** Maps framework errors (body parsing, size limits) and our typed errors to authentik's bodies. Never leaks a stack. */
export function installErrorHandling(app: FastifyInstance) {
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).type('text/html; charset=utf-8').send(NOT_FOUND_HTML);
  });
  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      e = new UnsupportedMediaType(String(req.headers['content-type'] ?? ''));
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413)
      e = new PayloadTooLarge('Request body exceeded the maximum allowed size.');
    else if (err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      e = new ParseError(`JSON parse error - ${err.message}`);
    else if (isDbConnectionError(err)) e = new ServiceUnavailable('The database is unavailable; try again shortly.');
    else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)
      e = new ParseError(err.message);
    else {
      req.log.error({ err }, 'unhandled error');
      reply.code(500).send({ detail: 'A server error occurred.' });
      return;
    }
    reply.code(e.status);
    const body = e.body();
    if (body === undefined) reply.send();
    else reply.send(body);
  });
}
