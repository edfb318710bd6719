/** A minimal browser-like client for the flow executor, optionally behind a trusted proxy's X-Forwarded-For. */
import { CookieJar } from './cookie-jar.js';
import type { TestServer } from './server.js';

export class FlowClient {
  private readonly jar: CookieJar;

  constructor(
    private readonly srv: TestServer,
    readonly slug = 'default-authentication-flow',
    private readonly opts: { ip?: string; query?: string } = {},
  ) {
    this.jar = new CookieJar(opts.ip ? { 'x-forwarded-for': opts.ip } : {});
  }

  get cookies() {
    return this.jar.cookies;
  }

  get url() {
    return `${this.srv.api}/flows/executor/${this.slug}/?query=${encodeURIComponent(this.opts.query ?? '')}`;
  }

  request(method: 'GET' | 'POST', body?: unknown) {
    return this.jar.json(this.url, method, body);
  }

  get = () => this.request('GET');
  post = (body: Record<string, unknown>) => this.request('POST', body);

  /** API call with this client's session cookie */
  api(method: string, path: string) {
    return this.jar.json(`${this.srv.api}${path}`, method);
  }
}
