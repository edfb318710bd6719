/**
 * An OpenID Connect provider on 127.0.0.1 for source tests, speaking the real protocol: discovery, JWKS, an
 * authorization endpoint that signs in whoever `nextUser` names (a 302 back to the redirect URI with a code and the
 * state, or with `error` when `refuse` is set), a token endpoint checking client authentication (Basic or body), the
 * redirect URI and PKCE, and a userinfo endpoint taking the bearer token. Every request is recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

export interface FakeUser {
  sub: string;
  email?: string;
  /** OpenID Connect's standard claim, answered by /userinfo as given */
  email_verified?: boolean;
  preferred_username?: string;
  nickname?: string;
  name?: string;
  groups?: unknown[];
  /** Microsoft Graph's /me/memberOf entries for this person */
  memberOf?: Record<string, unknown>[];
  /** GitHub's /user/emails for this person */
  emails?: { email: string; primary: boolean; verified: boolean }[];
}

interface Grant {
  user: FakeUser;
  redirectUri: string;
  clientId: string;
  challenge?: string;
  method?: string;
}

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  form: URLSearchParams;
  authorization: string | undefined;
}

export class FakeOidc {
  port = 0;
  readonly requests: Recorded[] = [];
  nextUser: FakeUser = { sub: 'fake-1', email: 'one@idp.example', preferred_username: 'one', name: 'One Person' };
  refuse: string | undefined;
  /** the well-known document's code_challenge_methods_supported (none when unset) */
  codeChallengeMethods: string[] | undefined;
  /** what /jwks serves */
  jwks: { keys: Record<string, unknown>[] } = { keys: [{ kty: 'oct', kid: 'fake', k: 'c2VjcmV0' }] };
  private readonly codes = new Map<string, Grant>();
  private readonly tokens = new Map<string, FakeUser>();
  private readonly server = http.createServer((req, res) => void this.handle(req, res));

  constructor(
    readonly clientId = 'keystage-client',
    readonly clientSecret = 'keystage secret: with+symbols/',
  ) {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const u = new URL(req.url ?? '/', this.url);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    this.requests.push({
      method: req.method ?? '',
      path: u.pathname,
      query: u.searchParams,
      form,
      authorization: req.headers.authorization,
    });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === '/.well-known/openid-configuration')
      return json(200, {
        issuer: this.url,
        authorization_endpoint: `${this.url}/authorize`,
        token_endpoint: `${this.url}/token`,
        userinfo_endpoint: `${this.url}/userinfo`,
        jwks_uri: `${this.url}/jwks`,
        ...(this.codeChallengeMethods ? { code_challenge_methods_supported: this.codeChallengeMethods } : {}),
      });
    if (u.pathname === '/jwks') return json(200, this.jwks);
    if (u.pathname === '/authorize') {
      const redirect = new URL(u.searchParams.get('redirect_uri') ?? '');
      const state = u.searchParams.get('state');
      if (state !== null) redirect.searchParams.set('state', state);
      if (this.refuse) redirect.searchParams.set('error', this.refuse);
      else {
        const code = randomBytes(16).toString('hex');
        this.codes.set(code, {
          user: this.nextUser,
          redirectUri: u.searchParams.get('redirect_uri') ?? '',
          clientId: u.searchParams.get('client_id') ?? '',
          challenge: u.searchParams.get('code_challenge') ?? undefined,
          method: u.searchParams.get('code_challenge_method') ?? undefined,
        });
        redirect.searchParams.set('code', code);
      }
      res.writeHead(302, { location: redirect.toString() });
      return res.end();
    }
    // Slack's oauth.v2.access: the same checks, the person's token nested in `authed_user` (the top level is for bots)
    if ((u.pathname === '/token' || u.pathname === '/slack/token') && req.method === 'POST') {
      let id = form.get('client_id');
      let secret = form.get('client_secret');
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      if (basic) {
        const [a, b] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
        const dec = (s: string | undefined) => decodeURIComponent((s ?? '').replace(/\+/g, ' '));
        id = dec(a);
        secret = dec(b);
      }
      if (id !== this.clientId || secret !== this.clientSecret) return json(401, { error: 'invalid_client' });
      const grant = this.codes.get(form.get('code') ?? '');
      this.codes.delete(form.get('code') ?? '');
      if (!grant || grant.redirectUri !== form.get('redirect_uri') || grant.clientId !== id) return json(400, { error: 'invalid_grant' });
      if (grant.challenge) {
        const v = form.get('code_verifier') ?? '';
        const expected = grant.method === 'S256' ? createHash('sha256').update(v).digest('base64url') : v;
        if (expected !== grant.challenge) return json(400, { error: 'invalid_grant' });
      }
      const token = randomBytes(16).toString('hex');
      this.tokens.set(token, grant.user);
      if (u.pathname === '/slack/token')
        return json(200, { ok: true, authed_user: { id: 'U123', scope: 'openid,email,profile', access_token: token, token_type: 'user' } });
      return json(200, { access_token: token, token_type: 'bearer', expires_in: 3600 });
    }
    // WeChat: the code exchanged by a GET with the app's id and secret in the query; its errors as errcode/errmsg
    if (u.pathname === '/wechat/token') {
      const q = u.searchParams;
      if (q.get('appid') !== this.clientId || q.get('secret') !== this.clientSecret)
        return json(200, { errcode: 40125, errmsg: 'invalid appsecret' });
      const grant = this.codes.get(q.get('code') ?? '');
      this.codes.delete(q.get('code') ?? '');
      if (!grant || q.get('grant_type') !== 'authorization_code') return json(200, { errcode: 40029, errmsg: 'invalid code' });
      const token = randomBytes(16).toString('hex');
      this.tokens.set(token, grant.user);
      return json(200, {
        access_token: token,
        expires_in: 7200,
        refresh_token: 'r',
        openid: `o-${grant.user.sub}`,
        scope: 'snsapi_login',
        unionid: `u-${grant.user.sub}`,
      });
    }
    if (u.pathname === '/wechat/userinfo') {
      const user = this.tokens.get(u.searchParams.get('access_token') ?? '');
      if (!user || u.searchParams.get('openid') !== `o-${user.sub}`) return json(200, { errcode: 40003, errmsg: 'invalid openid' });
      return json(200, {
        openid: `o-${user.sub}`,
        nickname: user.name,
        sex: 0,
        province: '',
        city: '',
        country: '',
        headimgurl: '',
        privilege: [],
        unionid: `u-${user.sub}`,
      });
    }
    if (u.pathname === '/mailcow/profile') {
      // Mailcow takes the token in the query
      const user = this.tokens.get(u.searchParams.get('access_token') ?? '');
      if (!user) return json(401, { error: 'invalid_token' });
      return json(200, { id: user.sub, full_name: user.name, email: user.email });
    }
    if (['/userinfo', '/user', '/user/emails', '/me', '/me/memberOf'].includes(u.pathname)) {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      const user = m ? this.tokens.get(m[1]!) : undefined;
      if (!user) return json(401, { error: 'invalid_token' });
      if (u.pathname === '/userinfo') return json(200, user);
      // Microsoft Graph: the profile and the person's memberships
      if (u.pathname === '/me')
        return json(200, { id: user.sub, userPrincipalName: user.preferred_username, displayName: user.name, mail: user.email ?? null });
      if (u.pathname === '/me/memberOf') return json(200, { value: user.memberOf ?? [] });
      // GitHub's API: a numeric id, the login, and the e-mail only when it is public
      if (u.pathname === '/user')
        return json(200, {
          id: Number(user.sub.replace(/\D/g, '')),
          login: user.preferred_username,
          name: user.name ?? null,
          email: user.email ?? null,
        });
      return json(200, user.emails ?? []);
    }
    json(404, { error: 'not_found' });
  }
}
