/** authentik's `bad_request_message`: a 400 page with a title and a message (the protocols' refusals in a browser). */
import type { FastifyReply } from 'fastify';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function sendBadRequestPage(reply: FastifyReply, description: string, title = 'Bad Request') {
  return reply
    .code(400)
    .type('text/html; charset=utf-8')
    .send(
      `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
        `<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(description)}</p></main></body></html>`,
    );
}
