/** A protocol request's parameters as Django reads them: the query string, or the form body (the protocols' endpoints). */
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** form bodies (application/x-www-form-urlencoded) read as URLSearchParams, in an encapsulated scope: the protocols' endpoints */
export function acceptForms(scope: FastifyInstance, bodyLimit: number) {
  scope.addContentTypeParser(/^application\/x-www-form-urlencoded(\s*;.*)?$/, { parseAs: 'string', bodyLimit }, (_req, body, done) =>
    done(null, new URLSearchParams(String(body))),
  );
}

export type Params = Record<string, string | undefined>;

function fromSearchParams(sp: URLSearchParams): Params {
  const out: Params = {};
  // Django's QueryDict.get answers the last value of a repeated name
  for (const [k, v] of sp) out[k] = v;
  return out;
}

/** the query string's parameters */
export function queryOf(req: FastifyRequest): Params {
  const q = req.url.indexOf('?');
  return q < 0 ? {} : fromSearchParams(new URLSearchParams(req.url.slice(q + 1)));
}

/** the form body's parameters (anything but a form body reads as empty, as Django's request.POST) */
export function formOf(req: FastifyRequest): Params {
  return req.body instanceof URLSearchParams ? fromSearchParams(req.body) : {};
}

/** the request's parameters: the form on POST, the query otherwise (authentik's authorize and end-session) */
export const paramsOf = (req: FastifyRequest): Params => (req.method === 'POST' ? formOf(req) : queryOf(req));
