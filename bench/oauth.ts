/**
 * The OAuth2 rows of `npm run bench` (issue 16), against the bench's Keystage (SQLite, core 0):
 * - an application registered through the admin API as README "OAuth2 / OpenID Connect" shows (a provider on
 *   `default-provider-authorization-implicit-consent` with the openid, email, profile and offline_access mappings,
 *   then the application);
 * - a whole authorization-code login per unit: GET /application/o/authorize/ (S256 PKCE) → the login flow
 *   (identification → password; the OAuth users have no TOTP device) → back to authorize, where the
 *   implicit-consent flow asks nothing and the redirect URI with the code is the answer → POST token/ → GET userinfo/, at
 *   each concurrency of BENCH_OAUTH_CS (8,32), BENCH_LOGIN_SECONDS each;
 * - client_credentials grants per second (the provider's client secret) and refresh_token grants per second
 *   (each worker rotating its own refresh token, from logins with offline_access), at concurrency 32,
 *   BENCH_OAUTH_SECONDS (5) and 20,000 requests at most each, with how busy the server's core was;
 * - userinfo latency at concurrency 32 with the logins' access tokens (BENCH_OAUTH_SECONDS, 10,000 requests at most).
 * Each login row runs on one of two paths, alternated (BENCH_OAUTH_PATHS): `page`, what a browser does on Keystage's
 * own flow page (the login page with its first challenge inside, then POSTs answered inline: 7 requests with
 * authorize twice, token and userinfo), and `protocol`, authentik's executor requests without the page (GET, then
 * POST → 302 → GET per stage: 9 requests).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from 'undici';
import { type BenchUser, type DriveResult, Browser, Jar, LOGIN_SECONDS, PASSWORD, PageBrowser, cpuSeconds, drive } from './common.js';

const REDIRECT = 'http://127.0.0.1:9/bench-cb';
const OAUTH_SECONDS = Number(process.env.BENCH_OAUTH_SECONDS ?? 5);
type LoginPath = 'page' | 'protocol';
/** the login paths of the authorization-code rows, alternated at each concurrency (as the login rows do) */
const OAUTH_PATHS = (process.env.BENCH_OAUTH_PATHS ?? 'page,protocol').split(',') as LoginPath[];
type Api = (method: string, p: string, body?: unknown) => Promise<any>;

export interface OAuthPhase {
  logins: (DriveResult & { c: number; path: LoginPath; raw: number; cpuMs: number; busy: number })[];
  clientCredentials: DriveResult & { busy: number };
  refresh: DriveResult & { busy: number };
  userinfo: DriveResult & { busy: number };
}

interface Client {
  client_id: string;
  client_secret: string;
}

/** the provider and application, through the admin API */
async function register(api: Api): Promise<Client> {
  const flows = await api('GET', '/flows/instances/?page_size=100');
  const flow = (slug: string) => flows.results.find((f: { slug: string }) => f.slug === slug).pk;
  const mappings = await api('GET', '/propertymappings/provider/scope/?page_size=100');
  const pm = (s: string) =>
    mappings.results.find((m: { managed: string | null }) => m.managed === `goauthentik.io/providers/oauth2/scope-${s}`).pk;
  const provider = await api('POST', '/providers/oauth2/', {
    name: 'bench-oauth',
    authorization_flow: flow('default-provider-authorization-implicit-consent'),
    invalidation_flow: flow('default-provider-invalidation-flow'),
    redirect_uris: [{ matching_mode: 'strict', url: REDIRECT }],
    property_mappings: ['openid', 'email', 'profile', 'offline_access'].map(pm),
  });
  if (!provider.client_id) throw new Error(`provider not created: ${JSON.stringify(provider)}`);
  const app = await api('POST', '/core/applications/', { name: 'bench-oauth', slug: 'bench-oauth', provider: provider.pk });
  if (app.slug !== 'bench-oauth') throw new Error(`application not created: ${JSON.stringify(app)}`);
  return provider;
}

const b64url = (b: Buffer) => b.toString('base64url');

/** GET a Keystage path, following Keystage's redirects, until a flow page, the redirect URI or a non-302 */
async function open(pool: Pool, jar: Jar, p: string): Promise<{ flow?: { slug: string; query: string }; callback?: URL; status: number }> {
  for (let hops = 0; hops < 10; hops++) {
    const r = await pool.request({ path: p, method: 'GET', headers: { cookie: jar.header() } });
    jar.keep(r.headers);
    await r.body.text();
    if (r.statusCode !== 302) return { status: r.statusCode };
    const loc = String(r.headers.location);
    if (loc.startsWith(REDIRECT)) return { callback: new URL(loc), status: 302 };
    const u = new URL(loc, 'http://keystage.invalid');
    const m = /^\/if\/flow\/([^/]+)\/$/.exec(u.pathname);
    if (m) return { flow: { slug: m[1]!, query: u.search.slice(1) }, status: 302 };
    p = u.pathname + u.search;
  }
  throw new Error('too many redirects');
}

function form(pool: Pool, p: string, body: Record<string, string>, headers: Record<string, string> = {}) {
  return pool.request({
    path: p,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body).toString(),
  });
}

/** one whole authorization-code login; its tokens, or an Error saying where it stopped */
async function codeLogin(pool: Pool, client: Client, u: BenchUser, scope: string, path: LoginPath) {
  const jar = new Jar();
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(12));
  const q = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope,
    state,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
  });
  const authorize = `/application/o/authorize/?${q}`;
  const toLogin = await open(pool, jar, authorize);
  if (!toLogin.flow) throw new Error(`authorize did not lead to the login flow (${toLogin.status})`);
  // the page path: Keystage's flow page with its first challenge, then POSTs answered inline; the protocol path:
  // authentik's executor requests (the page itself not fetched)
  const flow = (f: { slug: string; query: string }) => {
    const b = path === 'page' ? new PageBrowser(pool, f.slug, f.query) : new Browser(pool, f.slug, f.query);
    b.jar = jar;
    return b;
  };
  const first = (b: Browser) => (b instanceof PageBrowser ? b.open() : b.step());
  const login = flow(toLogin.flow);
  const ident = await first(login);
  if (ident.component !== 'ak-stage-identification') throw new Error(`login page: ${JSON.stringify(ident).slice(0, 200)}`);
  await login.step({ component: 'ak-stage-identification', uid_field: u.username });
  const done = await login.step({ component: 'ak-stage-password', password: PASSWORD });
  if (done.component !== 'xak-flow-redirect') throw new Error(`login: ${JSON.stringify(done).slice(0, 200)}`);
  // back at authorize: the implicit-consent flow asks nothing and is done there, straight to the redirect URI —
  // except with offline_access, which asks for consent every time (authentik's rule), through the flow's page
  let landed = await open(pool, jar, done.to);
  if (landed.flow) {
    const authz = flow(landed.flow);
    let end = await first(authz);
    if (end.component === 'ak-stage-consent') end = await authz.step({ component: 'ak-stage-consent', token: end.token });
    if (end.component !== 'xak-flow-redirect') throw new Error(`authorization flow: ${JSON.stringify(end).slice(0, 200)}`);
    landed = await open(pool, jar, end.to);
  }
  const code = landed.callback?.searchParams.get('code');
  if (!code || landed.callback?.searchParams.get('state') !== state) throw new Error(`no code (${landed.status})`);
  const t = await form(pool, '/application/o/token/', {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
    client_id: client.client_id,
    client_secret: client.client_secret,
  });
  const tokens = (await t.body.json()) as { access_token?: string; refresh_token?: string };
  if (t.statusCode !== 200 || !tokens.access_token) throw new Error(`token: ${t.statusCode} ${JSON.stringify(tokens)}`);
  const info = await pool.request({
    path: '/application/o/userinfo/',
    method: 'GET',
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  const claims = (await info.body.json()) as { preferred_username?: string };
  if (info.statusCode !== 200 || claims.preferred_username !== u.username) throw new Error(`userinfo: ${info.statusCode}`);
  return tokens as { access_token: string; refresh_token?: string };
}

/** `once` at concurrency 32 for OAUTH_SECONDS or `max` units, with how busy the server's core was */
async function burst(pid: number, max: number, once: (w: number) => Promise<boolean>) {
  let left = max;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  let w = 0;
  const r = await drive(32, OAUTH_SECONDS, () => (left-- > 0 ? w++ : undefined), once);
  return { ...r, busy: (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000) };
}

export async function oauthPhase(opts: {
  pool: Pool;
  api: Api;
  users: BenchUser[];
  pid: number;
  raw: () => Promise<number>;
}): Promise<OAuthPhase> {
  const { pool } = opts;
  const client = await register(opts.api);
  let i = 0;
  const take = () => opts.users[i++ % opts.users.length];
  const access: string[] = [];
  const logins: OAuthPhase['logins'] = [];
  // warm-up, and the refresh tokens the refresh grants start from (offline_access: one per worker)
  const refresh: string[] = [];
  for (let k = 0; k < 32; k++)
    refresh.push(
      (await codeLogin(pool, client, take()!, 'openid email profile offline_access', OAUTH_PATHS[k % OAUTH_PATHS.length]!)).refresh_token!,
    );
  if (refresh.some((r) => !r)) throw new Error('no refresh token with offline_access');
  for (const c of (process.env.BENCH_OAUTH_CS ?? '8,32').split(',').map(Number)) {
    for (const path of OAUTH_PATHS) {
      const before = await opts.raw();
      const cpu0 = cpuSeconds(opts.pid);
      const t0 = performance.now();
      const r = await drive(c, LOGIN_SECONDS, take, async (u) => {
        const t = await codeLogin(pool, client, u, 'openid email profile', path);
        if (access.length < 5000) access.push(t.access_token);
        return true;
      });
      const cpu = cpuSeconds(opts.pid) - cpu0;
      const busy = cpu / ((performance.now() - t0) / 1000);
      const after = await opts.raw();
      logins.push({ c, path, ...r, raw: (before + after) / 2, cpuMs: (cpu * 1000) / Math.max(1, r.n), busy });
    }
  }
  const secret = { client_id: client.client_id, client_secret: client.client_secret };
  const clientCredentials = await burst(opts.pid, 20_000, async () => {
    const r = await form(pool, '/application/o/token/', { grant_type: 'client_credentials', scope: 'openid', ...secret });
    const body = (await r.body.json()) as { access_token?: string };
    return r.statusCode === 200 && !!body.access_token;
  });
  // each in-flight grant holds a chain of its own (a refresh token used twice would be refused)
  const free = refresh.map((_, k) => k);
  const refreshed = await burst(opts.pid, 20_000, async () => {
    const slot = free.pop()!;
    try {
      const r = await form(pool, '/application/o/token/', { grant_type: 'refresh_token', refresh_token: refresh[slot]!, ...secret });
      const body = (await r.body.json()) as { refresh_token?: string };
      if (r.statusCode !== 200 || !body.refresh_token) return false;
      refresh[slot] = body.refresh_token;
      return true;
    } finally {
      free.push(slot);
    }
  });
  const userinfo = await burst(opts.pid, 10_000, async (w) => {
    const r = await pool.request({
      path: '/application/o/userinfo/',
      method: 'GET',
      headers: { authorization: `Bearer ${access[w % access.length]}` },
    });
    await r.body.text();
    return r.statusCode === 200;
  });
  return { logins, clientCredentials, refresh: refreshed, userinfo };
}
