/**
 * A minimal browser-like client for the flow executor: keeps cookies (also from 302 hops), follows 302s with GET,
 * sends the CSRF header, and can pretend to come from another IP through a trusted proxy's X-Forwarded-For.
 */
import type { TestServer } from './server.js';

export class FlowClient {
  readonly cookies = new Map<string, string>();

  constructor(
    private readonly srv: TestServer,
    readonly slug = 'default-authentication-flow',
    private readonly opts: { ip?: string; query?: string } = {},
  ) {}

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json' };
    if (json) h['content-type'] = 'application/json';
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const csrf = this.cookies.get('authentik_csrf');
    if (csrf) h['x-authentik-csrf'] = csrf;
    if (this.opts.ip) h['x-forwarded-for'] = this.opts.ip;
    return h;
  }

  private keep(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /max-age=0/i.test(a) || /expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get url() {
    return `${this.srv.api}/flows/executor/${this.slug}/?query=${encodeURIComponent(this.opts.query ?? '')}`;
  }

  async request(method: 'GET' | 'POST', body?: unknown): Promise<{ status: number; body: any }> {
    let res = await fetch(this.url, { method, headers: this.headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
    this.keep(res);
    for (let hops = 0; res.status === 302 && hops < 10; hops++) {
      const to = new URL(res.headers.get('location')!, this.srv.url).toString();
      res = await fetch(to, { headers: this.headers(false), redirect: 'manual' });
      this.keep(res);
    }
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  get = () => this.request('GET');
  post = (body: Record<string, unknown>) => this.request('POST', body);

  /** API call with this client's session cookie */
  async api(method: string, path: string): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.srv.api}${path}`, { method, headers: this.headers(false) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
}
