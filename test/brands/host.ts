/**
 * Requests with a Host header of the test's choosing (fetch always sends the URL's own host, so these go through
 * undici's `request`), and a small browser session over them: cookies kept, the CSRF header sent, 302s followed with
 * GET as the web UI's fetch does.
 */
import { request } from 'undici';
import type { TestServer } from '../helpers/server.js';

export interface HostAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: any;
}

export async function hostRequest(
  srv: TestServer,
  method: string,
  path: string,
  headers: Record<string, string>,
  payload?: unknown,
): Promise<HostAnswer> {
  const res = await request(`${srv.url}${path}`, {
    method: method as 'GET',
    headers: {
      ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return { status: res.statusCode, headers: out, text, json };
}

/** a browser at one host: its cookies, the executor's JSON answers */
export class HostSession {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly srv: TestServer,
    readonly headers: Record<string, string>,
  ) {}

  private sendHeaders(): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...this.headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const csrf = this.cookies.get('authentik_csrf');
    if (csrf) h['x-authentik-csrf'] = csrf;
    return h;
  }

  private keep(res: HostAnswer, raw: string | undefined) {
    for (const line of (raw ?? '').split(/,(?=\s*[\w-]+=)/)) {
      const pair = line.split(';')[0]!.trim();
      const i = pair.indexOf('=');
      if (i <= 0) continue;
      const value = pair.slice(i + 1);
      if (value === '' || /max-age=0\b/i.test(line)) this.cookies.delete(pair.slice(0, i));
      else this.cookies.set(pair.slice(0, i), value);
    }
    return res;
  }

  async send(method: string, path: string, payload?: unknown): Promise<HostAnswer> {
    let res = await hostRequest(this.srv, method, path, this.sendHeaders(), payload);
    this.keep(res, res.headers['set-cookie']);
    for (let hops = 0; res.status === 302 && hops < 10; hops++) {
      res = await hostRequest(this.srv, 'GET', res.headers.location!, this.sendHeaders());
      this.keep(res, res.headers['set-cookie']);
    }
    return res;
  }

  async get(slug: string): Promise<any> {
    return (await this.send('GET', `/api/v3/flows/executor/${slug}/?query=`)).json;
  }

  async solve(slug: string, response: Record<string, unknown>): Promise<any> {
    return (await this.send('POST', `/api/v3/flows/executor/${slug}/?query=`, response)).json;
  }
}
