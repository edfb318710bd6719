/**
 * The official client (`@goauthentik/api`) driving the flow executor like a browser: a cookie jar that also keeps
 * Set-Cookie from 302 hops (fetch follows redirects without exposing them, so redirects are followed here, with
 * GET), and the X-authentik-CSRF header the web UI sends.
 */
import { Configuration, CoreApi, FlowsApi } from '@goauthentik/api';
import type { TestServer } from './server.js';

export class BrowserSession {
  readonly cookies = new Map<string, string>();
  readonly flows: FlowsApi;
  readonly core: CoreApi;

  constructor(
    readonly srv: TestServer,
    private readonly extraHeaders: Record<string, string> = {},
  ) {
    const cfg = new Configuration({ basePath: srv.api, fetchApi: (input, init) => this.fetch(String(input), init ?? {}) });
    this.flows = new FlowsApi(cfg);
    this.core = new CoreApi(cfg);
  }

  private keep(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (value === '' || attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a) || /max-age=0\b/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private headers(init: RequestInit): Headers {
    const h = new Headers(init.headers);
    for (const [k, v] of Object.entries(this.extraHeaders)) h.set(k, v);
    if (this.cookies.size) h.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const csrf = this.cookies.get('authentik_csrf');
    if (csrf) h.set('x-authentik-csrf', csrf);
    return h;
  }

  async fetch(url: string, init: RequestInit): Promise<Response> {
    let res = await fetch(url, { ...init, headers: this.headers(init), redirect: 'manual' });
    this.keep(res);
    for (let hops = 0; res.status === 302 && hops < 10; hops++) {
      const to = new URL(res.headers.get('location')!, url).toString();
      res = await fetch(to, { method: 'GET', headers: this.headers({ headers: { accept: 'application/json' } }), redirect: 'manual' });
      this.keep(res);
    }
    return res;
  }

  /** GET the current challenge (raw JSON, as sent) */
  async get(slug: string, query = ''): Promise<any> {
    return (await this.flows.flowsExecutorGetRaw({ flowSlug: slug, query })).raw.json();
  }

  /**
   * POST a response (raw JSON of the answer after following 302s). Written in the wire's snake_case; the client's
   * models take camelCase and turn it back into snake_case, so keys are converted first.
   */
  async solve(slug: string, response: Record<string, unknown>, query = ''): Promise<any> {
    const r = await this.flows.flowsExecutorSolveRaw({ flowSlug: slug, query, flowChallengeResponseRequest: camel(response) as never });
    return r.raw.json();
  }
}

const OPAQUE = new Set(['webauthn', 'passkey', 'challenge', 'response']);

/** snake_case keys → camelCase, recursively (WebAuthn payloads are passed through as they are) */
function camel(v: unknown, key = ''): unknown {
  if (OPAQUE.has(key) || !v || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => camel(x));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), camel(x, k)]));
}
