/**
 * A browser's cookie handling for tests: keeps Set-Cookie (also from 302 hops, which fetch hides), follows 302s
 * with GET as a browser does after a POST, and sends X-authentik-CSRF = the authentik_csrf cookie like the web UI.
 */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  constructor(private readonly extra: Record<string, string> = {}) {}

  headers(init: ConstructorParameters<typeof Headers>[0] = {}): Headers {
    const h = new Headers(init);
    for (const [k, v] of Object.entries(this.extra)) h.set(k, v);
    if (this.cookies.size) h.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const csrf = this.cookies.get('authentik_csrf');
    if (csrf) h.set('x-authentik-csrf', csrf);
    return h;
  }

  keep(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (value === '' || attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a) || /max-age=0\b/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    let res = await fetch(url, { ...init, headers: this.headers(init.headers), redirect: 'manual' });
    this.keep(res);
    for (let hops = 0; res.status === 302 && hops < 10; hops++) {
      const to = new URL(res.headers.get('location')!, url).toString();
      res = await fetch(to, {
        method: 'GET',
        headers: this.headers({ accept: 'application/json' }),
        redirect: 'manual',
        signal: init.signal,
      });
      this.keep(res);
    }
    return res;
  }

  /** JSON in, JSON out */
  async json(url: string, method = 'GET', body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: any }> {
    const res = await this.fetch(url, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
}
