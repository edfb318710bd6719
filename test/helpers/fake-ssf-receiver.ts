/**
 * A Shared Signals receiver on 127.0.0.1 speaking RFC 8935 push delivery: `POST /events` with a
 * `application/secevent+jwt` body, answered 202 Accepted (or `status` when set: a failing receiver). Records every
 * delivery — its headers and the token — so tests verify the token against the transmitter's JWKS.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  contentType: string;
  authorization: string | undefined;
  token: string;
}

export class FakeSsfReceiver {
  readonly deliveries: Delivery[] = [];
  /** the answer to a delivery (202: accepted) */
  status = 202;
  url = '';
  private server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/events') {
        res.writeHead(404).end();
        return;
      }
      this.deliveries.push({
        contentType: String(req.headers['content-type'] ?? ''),
        authorization: req.headers.authorization,
        token: Buffer.concat(chunks).toString('utf8'),
      });
      if (this.status === 202) res.writeHead(202).end();
      else
        res
          .writeHead(this.status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ err: 'invalid_request', description: 'refused' }));
    });
  }
}
