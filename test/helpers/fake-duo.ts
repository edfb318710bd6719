/**
 * Duo's Auth API v2 on 127.0.0.1: checks every request's signature the way Duo documents it (its own
 * implementation, independent of Keystage's), and answers enroll, enroll_status and auth; and, signed with the admin
 * key pair, the Admin API's `GET /admin/v1/users`, paged by `limit`/`offset` with `metadata.next_offset`.
 */
import http from 'node:http';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export class FakeDuo {
  readonly calls: { path: string; params: Record<string, string>; signatureValid: boolean }[] = [];
  /** duo user ids whose activation completed */
  readonly activated = new Set<string>();
  /** duo user ids that deny pushes */
  readonly denying = new Set<string>();
  url = '';
  private enrolled = 0;
  /** the Admin API's users */
  adminUsers: { user_id: string; username: string }[] = [];
  private server = http.createServer((req, res) => void this.handle(req, res));

  constructor(
    private readonly ikey: string,
    private readonly skey: string,
    private readonly admin?: { ikey: string; skey: string },
  ) {}

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private verify(req: http.IncomingMessage, params: URLSearchParams, pair: { ikey: string; skey: string }): boolean {
    const date = String(req.headers.date ?? '');
    const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
    const keys = [...params.keys()].sort();
    const canon = [
      date,
      req.method,
      String(req.headers.host).toLowerCase(),
      (req.url ?? '').split('?')[0],
      keys.map((k) => `${enc(k)}=${enc(params.get(k)!)}`).join('&'),
    ].join('\n');
    const expected =
      'Basic ' + Buffer.from(`${pair.ikey}:${createHmac('sha512', pair.skey).update(canon).digest('hex')}`).toString('base64');
    return req.headers.authorization === expected && Math.abs(Date.parse(date) - Date.now()) < 300_000;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = (req.url ?? '').split('?')[0]!;
    const params = new URLSearchParams(
      req.method === 'GET' ? ((req.url ?? '').split('?')[1] ?? '') : Buffer.concat(chunks).toString('utf8'),
    );
    const isAdmin = path.startsWith('/admin/');
    const keys = isAdmin ? this.admin : { ikey: this.ikey, skey: this.skey };
    const signatureValid = !!keys && this.verify(req, params, keys);
    this.calls.push({ path, params: Object.fromEntries(params), signatureValid });
    const reply = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!signatureValid) return reply(401, { stat: 'FAIL', code: 40103, message: 'Invalid signature in request credentials' });
    if (path === '/admin/v1/users' && req.method === 'GET') {
      const limit = Math.min(300, Number(params.get('limit') ?? 100));
      const offset = Number(params.get('offset') ?? 0);
      const page = this.adminUsers.slice(offset, offset + limit);
      const next = offset + limit < this.adminUsers.length ? offset + limit : undefined;
      return reply(200, {
        stat: 'OK',
        response: page,
        metadata: { total_objects: this.adminUsers.length, ...(next ? { next_offset: next } : {}) },
      });
    }
    if (path === '/auth/v2/enroll') {
      const n = ++this.enrolled;
      return reply(200, {
        stat: 'OK',
        response: {
          activation_barcode: `${this.url}/frame/qr?value=act-${n}`,
          activation_code: `duo://act-${n}`,
          user_id: `DU${n}`,
          username: params.get('username'),
          expiration: 0,
        },
      });
    }
    if (path === '/auth/v2/enroll_status')
      return reply(200, { stat: 'OK', response: this.activated.has(params.get('user_id') ?? '') ? 'success' : 'waiting' });
    if (path === '/auth/v2/auth') {
      const deny = this.denying.has(params.get('user_id') ?? '');
      return reply(200, {
        stat: 'OK',
        response: {
          result: deny ? 'deny' : 'allow',
          status: deny ? 'deny' : 'allow',
          status_msg: deny ? 'Login request denied.' : 'Success. Logging you in...',
        },
      });
    }
    reply(404, { stat: 'FAIL', code: 40401, message: 'Resource not found' });
  }
}
