/** The protocols' refusals in a browser: authentik's `bad_request_message` (400) and the permission denied page (403). */
import type { FastifyReply } from 'fastify';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** authentik's `bad_request_message`: a 400 page with a title and a message */
export function sendBadRequestPage(reply: FastifyReply, description: string, title = 'Bad Request') {
  return reply
    .code(400)
    .type('text/html; charset=utf-8')
    .send(
      `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
        `<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(description)}</p></main></body></html>`,
    );
}

/** the application's policies said no: a 403 page with their messages */
export function sendPermissionDenied(reply: FastifyReply, messages: readonly string[] = []) {
  return reply
    .code(403)
    .type('text/html; charset=utf-8')
    .send(
      '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Permission denied</title></head><body><main>' +
        `<h1>Permission denied</h1>${messages.map((m) => `<p>${escapeHtml(m)}</p>`).join('')}</main></body></html>`,
    );
}
