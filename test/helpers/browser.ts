/**
 * A browser for executor tests, under the official client (`@goauthentik/api`): `fetchApi` keeps cookies in a jar
 * (also the Set-Cookie of 302 hops, which fetch's own redirect handling hides), follows 302s with GET as a browser
 * does after a POST, sends `X-authentik-CSRF` = the `authentik_csrf` cookie like the web UI, and records every hop.
 */
import { Configuration, ResponseError, type FetchAPI } from '@goauthentik/api/dist/runtime.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { FlowsApi } from '@goauthentik/api/dist/apis/FlowsApi.js';
import type { FlowChallengeResponseRequest } from '@goauthentik/api';
import { CookieJar } from './cookie-jar.js';

export { CookieJar };

export interface Hop {
  method: string;
  url: string;
  status: number;
  location?: string;
  /** the Set-Cookie lines of this response */
  setCookie: string[];
}

/** fetch as a browser does, over `jar`; each request and redirect hop is appended to `hops` */
export function fetchApi(jar: CookieJar, hops: Hop[] = []): FetchAPI {
  return async (input, init = {}) => {
    let url = input instanceof Request ? input.url : String(input);
    let method = (init.method ?? 'GET').toUpperCase();
    let res = await fetch(url, { ...init, headers: jar.headers(init.headers), redirect: 'manual' });
    for (let n = 0; ; n++) {
      jar.keep(res);
      const location = res.headers.get('location') ?? undefined;
      hops.push({ method, url, status: res.status, ...(location ? { location } : {}), setCookie: res.headers.getSetCookie() });
      if (res.status !== 302 || !location || n >= 10) return res;
      url = new URL(location, url).toString();
      method = 'GET';
      res = await fetch(url, { method, headers: jar.headers({ accept: 'application/json' }), redirect: 'manual', signal: init.signal });
    }
  };
}

export interface Answer {
  /** status of the final response */
  status: number;
  /** raw JSON as sent on the wire (snake_case) */
  body: any;
  /** every request of this call: the first, then each followed 302 */
  hops: Hop[];
}

/** One browser: a cookie jar, the official client's FlowsApi/CoreApi over it, and a log of hops. */
export class Browser {
  readonly jar: CookieJar;
  readonly hops: Hop[] = [];
  readonly flows: FlowsApi;
  readonly core: CoreApi;

  /** `api` = the server's `/api/v3` base URL; pass `jar` to share cookies with another Browser (same host, other port) */
  constructor(
    readonly api: string,
    opts: { headers?: Record<string, string>; jar?: CookieJar } = {},
  ) {
    this.jar = opts.jar ?? new CookieJar(opts.headers);
    const cfg = new Configuration({ basePath: api, fetchApi: fetchApi(this.jar, this.hops) });
    this.flows = new FlowsApi(cfg);
    this.core = new CoreApi(cfg);
  }

  /** the same browser talking to another server (cookies are per host, not per port, as in browsers) */
  on(api: string): Browser {
    return new Browser(api, { jar: this.jar });
  }

  /** the `authentik_session` cookie */
  get session(): string | undefined {
    return this.jar.cookies.get('authentik_session');
  }

  private async answer(call: () => Promise<{ raw: Response }>): Promise<Answer> {
    const from = this.hops.length;
    let raw: Response;
    try {
      raw = (await call()).raw;
    } catch (e) {
      // the client throws on non-2xx; the response is still the answer
      if (!(e instanceof ResponseError)) throw e;
      raw = e.response;
    }
    const text = await raw.text();
    return { status: raw.status, body: text ? JSON.parse(text) : undefined, hops: this.hops.slice(from) };
  }

  /** GET the current challenge; `query` is the flow page's query string (e.g. `next=%2Fapp`) */
  get(slug: string, query = ''): Promise<Answer> {
    return this.answer(() => this.flows.flowsExecutorGetRaw({ flowSlug: slug, query }));
  }

  /** POST a response, in the client's (camelCase) model */
  solve(slug: string, response: FlowChallengeResponseRequest, query = ''): Promise<Answer> {
    return this.answer(() => this.flows.flowsExecutorSolveRaw({ flowSlug: slug, query, flowChallengeResponseRequest: response }));
  }

  /** GET /core/users/me/ with this browser's session */
  me(): Promise<Answer> {
    return this.answer(() => this.core.coreUsersMeRetrieveRaw());
  }

  /** a raw request with this browser's cookies (bodies the official client cannot send) */
  async fetch(path: string, init: RequestInit = {}): Promise<Answer> {
    return this.answer(async () => ({ raw: await fetchApi(this.jar, this.hops)(`${this.api}${path}`, init) }));
  }
}
