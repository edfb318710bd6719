/**
 * Have I Been Pwned's Pwned Passwords range API on 127.0.0.1: `GET /range/{first 5 hex of SHA-1}` answers the
 * suffixes (35 upper-case hex characters) of the known hashes with that prefix as `SUFFIX:COUNT` lines separated by
 * CRLF, padded with zero-count entries as the real service does with `Add-Padding`. Modes: "slow" (never answers),
 * "500". Records every path asked and whether the client went away before an answer.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export type HibpMode = 'normal' | 'slow' | '500';

export const sha1 = (s: string) => createHash('sha1').update(s, 'utf8').digest('hex').toUpperCase();

export class FakeHibp {
  /** full upper-case SHA-1 → how often it was seen */
  readonly pwned = new Map<string, number>();
  readonly paths: string[] = [];
  aborted = 0;
  mode: HibpMode = 'normal';
  url = '';
  private server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** the password is known, `count` times */
  add(password: string, count: number) {
    this.pwned.set(sha1(password), count);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    this.paths.push(req.url ?? '');
    res.on('close', () => {
      if (!res.writableFinished) this.aborted++;
    });
    if (this.mode === 'slow') return;
    if (this.mode === '500') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('error');
      return;
    }
    const m = /^\/range\/([0-9A-Fa-f]{5})$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !m) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('The hash prefix was not in a valid format');
      return;
    }
    const prefix = m[1]!.toUpperCase();
    const lines = [...this.pwned].filter(([h]) => h.startsWith(prefix)).map(([h, n]) => `${h.slice(5)}:${n}`);
    // padding: suffixes that are no real hash's, with count 0
    for (let i = 0; i < 3; i++) lines.push(`${sha1(`padding-${prefix}-${i}`).slice(5)}:0`);
    lines.sort();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'));
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
