/** A browser for the OAuth2 end-to-end tests: cookies, Keystage's redirects followed by hand, the login flow. */
import { CookieJar } from '../../helpers/cookie-jar.js';
import type { TestServer } from '../../helpers/server.js';

export const PASSWORD = 'correct horse battery staple';

/** a browser: cookies, and 302s followed by hand up to the relying party's redirect URI */
export class Browser {
  readonly jar = new CookieJar();
  constructor(private readonly srv: TestServer) {}

  /** GET a Keystage URL, following Keystage's own redirects; the first redirect off Keystage is returned */
  async open(url: string): Promise<{ status: number; location?: string; text: string }> {
    let target = new URL(url, this.srv.url).toString();
    for (let hops = 0; hops < 10; hops++) {
      const res = await fetch(target, { headers: this.jar.headers(), redirect: 'manual' });
      this.jar.keep(res);
      if (res.status !== 302) return { status: res.status, text: await res.text() };
      const to = new URL(res.headers.get('location')!, target);
      if (to.origin !== this.srv.url) return { status: 302, location: to.toString(), text: '' };
      target = to.toString();
    }
    throw new Error('too many redirects');
  }

  executor = (slug: string, query = '') => this.jar.json(`${this.srv.api}/flows/executor/${slug}/?query=${encodeURIComponent(query)}`);
  solve = (slug: string, body: Record<string, unknown>, query = '') =>
    this.jar.json(`${this.srv.api}/flows/executor/${slug}/?query=${encodeURIComponent(query)}`, 'POST', body);

  /** the flow page a redirect leads to: its slug and query */
  static flowOf(url: string) {
    const u = new URL(url, 'http://x');
    const m = /^\/if\/flow\/([^/]+)\/$/.exec(u.pathname);
    return m ? { slug: m[1]!, query: u.search.slice(1) } : undefined;
  }

  /** log in through the default authentication flow, as the login page does */
  async login(username: string, query: string) {
    const slug = 'default-authentication-flow';
    await this.executor(slug, query);
    await this.solve(slug, { component: 'ak-stage-identification', uid_field: username }, query);
    return (await this.solve(slug, { component: 'ak-stage-password', password: PASSWORD }, query)).body;
  }

  /** run a flow whose stages need no answer, or answer a consent; its final redirect */
  async runFlow(slug: string, consent = true): Promise<any> {
    let ch = (await this.executor(slug)).body;
    if (ch.component === 'ak-stage-consent' && consent)
      ch = (await this.solve(slug, { component: 'ak-stage-consent', token: ch.token })).body;
    return ch;
  }

  /** an authorization request of a logged-in person, through the authorization flow to where it lands (or fails) */
  async authorize(url: URL | string, consent = true): Promise<URL> {
    const r = await fetch(url, { redirect: 'manual', headers: this.jar.headers() });
    this.jar.keep(r);
    const loc = r.headers.get('location');
    if (!loc) throw new Error(`authorize answered ${r.status}: ${await r.text()}`);
    const flow = Browser.flowOf(loc);
    if (!flow) return new URL(loc, this.srv.url);
    const end = await this.runFlow(flow.slug, consent);
    return new URL((await this.open(end.to)).location!, this.srv.url);
  }
}
