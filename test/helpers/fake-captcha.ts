/**
 * A captcha provider on 127.0.0.1 speaking the siteverify protocol shared by reCAPTCHA v2/v3, hCaptcha and
 * Cloudflare Turnstile (POST secret, response, remoteip — form-encoded or JSON — answered with JSON
 * {success, score?, error-codes?, hostname, challenge_ts}), plus a widget script exposing the three providers'
 * browser APIs. Tokens decide the verdict: "pass", "fail", "expired", "score:<n>"; modes: "slow", "garbage", "500".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface VerifyRequest {
  contentType: string;
  fields: Record<string, string>;
}

export type Mode = 'normal' | 'slow' | 'garbage' | '500';
export type Provider = 'recaptcha' | 'hcaptcha' | 'turnstile';

const WIDGET = (provider: Provider) => `(() => {
  const issue = (opts) => setTimeout(() => opts && opts.callback && opts.callback('pass'), 50);
  const render = (el, opts) => {
    const box = typeof el === 'string' ? document.getElementById(el) : el;
    const label = document.createElement('label');
    const cb = document.createElement('input');
    cb.type = 'checkbox'; cb.id = 'fake-captcha-checkbox';
    label.append(cb, ' I am human (fake ${provider})');
    box.append(label);
    if (opts && opts.size !== 'invisible' && opts.appearance !== 'interaction-only') cb.addEventListener('change', () => issue(opts));
    else issue(opts);
    return 'widget-1';
  };
  if ('${provider}' === 'turnstile') window.turnstile = { render, reset() {}, getResponse: () => 'pass' };
  if ('${provider}' === 'hcaptcha') window.hcaptcha = { render, execute() {}, reset() {}, getResponse: () => 'pass' };
  if ('${provider}' === 'recaptcha') window.grecaptcha = { ready: (f) => f(), render, execute: () => Promise.resolve('pass'), getResponse: () => 'pass', reset() {} };
})();`;

export class FakeCaptcha {
  readonly requests: VerifyRequest[] = [];
  mode: Mode = 'normal';
  private server = http.createServer((req, res) => void this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  siteverify(path = '/siteverify') {
    return `${this.url}${path}`;
  }

  script(provider: Provider) {
    return `${this.url}/${provider}/api.js`;
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const m = /^\/(recaptcha|hcaptcha|turnstile)\/api\.js/.exec(req.url ?? '');
    if (req.method === 'GET' && m) {
      res.writeHead(200, { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' }).end(WIDGET(m[1] as Provider));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const contentType = String(req.headers['content-type'] ?? '');
    const fields: Record<string, string> = contentType.includes('json')
      ? (JSON.parse(raw) as Record<string, string>)
      : Object.fromEntries(new URLSearchParams(raw));
    this.requests.push({ contentType, fields });
    if (this.mode === 'slow') return; // never answers; the socket is closed by close()
    if (this.mode === '500') return void res.writeHead(500).end('oops');
    if (this.mode === 'garbage') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not json</html>');
    const token = fields.response ?? '';
    const base = { hostname: 'localhost', challenge_ts: new Date().toISOString() };
    let reply: Record<string, unknown>;
    if (!token) reply = { success: false, 'error-codes': ['missing-input-response'], ...base };
    else if (token === 'pass') reply = { success: true, ...base };
    else if (token === 'expired') reply = { success: false, 'error-codes': ['timeout-or-duplicate'], ...base };
    else if (token.startsWith('score:')) reply = { success: true, score: Number(token.slice(6)), action: 'login', ...base };
    else reply = { success: false, 'error-codes': ['invalid-input-secret'], ...base };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
  }
}
