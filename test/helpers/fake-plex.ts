/**
 * plex.tv's API on 127.0.0.1 for the Plex source's tests: who a token belongs to (`/api/v2/user`), the servers it
 * reaches (`/api/v2/resources`), the friends of its owner (`/api/v2/friends`), and the PIN login (`POST
 * /api/v2/pins`, `GET /api/v2/pins/<id>` with `authToken` once `approve` was called). Every request is recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PlexAccount {
  id: number;
  username: string;
  email: string;
  title: string;
  /** the servers' client identifiers this account reaches */
  servers?: string[];
  /** the accounts (by id) that are this account's friends */
  friends?: number[];
  /** plex.tv answers this account's friends request with this status (plex.tv has retired it for some: 410) */
  friendsStatus?: number;
}

export class FakePlex {
  url = '';
  readonly accounts = new Map<string, PlexAccount>();
  readonly requests: { method: string; path: string; token: string | null; client: string | null }[] = [];
  private pins = new Map<number, { code: string; token?: string }>();
  private server?: http.Server;

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close() {
    return new Promise<void>((r) => this.server?.close(() => r()));
  }

  /** the person approves the PIN in Plex's window: its token is `token` */
  approve(pinId: number, token: string) {
    const pin = this.pins.get(pinId);
    if (pin) pin.token = token;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', this.url);
    const token = url.searchParams.get('X-Plex-Token');
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      token,
      client: url.searchParams.get('X-Plex-Client-Identifier') ?? (req.headers['x-plex-client-identifier'] as string | undefined) ?? null,
    });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && url.pathname === '/api/v2/pins') {
      const id = this.pins.size + 1000;
      this.pins.set(id, { code: `code${id}` });
      return json(201, { id, code: `code${id}` });
    }
    const pin = /^\/api\/v2\/pins\/(\d+)$/.exec(url.pathname);
    if (pin) {
      const p = this.pins.get(Number(pin[1]));
      return p ? json(200, { id: Number(pin[1]), code: p.code, authToken: p.token ?? null }) : json(404, {});
    }
    const account = token ? this.accounts.get(token) : undefined;
    if (!account) return json(401, { errors: [{ code: 1001, message: 'User could not be authenticated' }] });
    if (url.pathname === '/api/v2/user')
      return json(200, { id: account.id, uuid: `u${account.id}`, username: account.username, email: account.email, title: account.title });
    if (url.pathname === '/api/v2/resources')
      return json(200, [
        { name: 'A player', provides: 'client,player', clientIdentifier: 'player-1' },
        ...(account.servers ?? []).map((s) => ({ name: `Server ${s}`, provides: 'server', clientIdentifier: s })),
      ]);
    if (url.pathname === '/api/v2/friends' && account.friendsStatus) return json(account.friendsStatus, {});
    if (url.pathname === '/api/v2/friends')
      return json(
        200,
        (account.friends ?? []).map((id) => ({ id, title: `friend ${id}` })),
      );
    return json(404, {});
  }
}
