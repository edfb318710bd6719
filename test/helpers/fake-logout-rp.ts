/**
 * A relying party's back-channel logout endpoint on 127.0.0.1 (OpenID Connect Back-Channel Logout 1.0): records each
 * POST's form body (its `logout_token`) and answers 200.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LogoutReceiver {
  /** the endpoint to give the provider as its `logout_uri` */
  url: string;
  /** each request's body, in order */
  received: string[];
  close(): void;
}

export async function startLogoutReceiver(): Promise<LogoutReceiver> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      received.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bc`, received, close: () => server.close() };
}
