/**
 * External providers on 127.0.0.1 speaking their real protocols, recording what Keystage sent: an SMTP sink
 * (smtp-server), Twilio's Messages API (basic auth, form fields To/From/Body) and a generic SMS webhook (JSON).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Mail {
  from: string;
  to: string[];
  raw: string;
}

export class SmtpSink {
  readonly mails: Mail[] = [];
  port = 0;
  private server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData: (stream, session, done) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        this.mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        done();
      });
    },
  });

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  /** the 6-digit code in the last mail to `to` */
  lastCode(to: string): string | undefined {
    const m = [...this.mails].reverse().find((x) => x.to.includes(to));
    return m ? /\b(\d{6})\b/.exec(m.raw.replace(/=\r?\n/g, ''))?.[1] : undefined;
  }

  async close() {
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export interface Sms {
  provider: 'twilio' | 'generic';
  authorization: string;
  to: string;
  from: string;
  body: string;
  path: string;
  /** a generic webhook's whole JSON body */
  json?: Record<string, unknown>;
}

export class SmsGateway {
  readonly messages: Sms[] = [];
  /** numbers the gateway refuses, as Twilio does a number it cannot send to (HTTP 400, error 21211) */
  readonly unreachable = new Set<string>();
  /** numbers the generic webhook answers with an error page (a proxy in front of it failing: 502, text/html) */
  readonly errorPage = new Set<string>();
  url = '';
  private server = http.createServer((req, res) => void this.handle(req, res));

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  lastCode(to: string): string | undefined {
    const m = [...this.messages].reverse().find((x) => x.to === to);
    return m ? /\b(\d{6})\b/.exec(m.body)?.[1] : undefined;
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const authorization = String(req.headers.authorization ?? '');
    const twilio = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url ?? '');
    if (twilio) {
      const f = Object.fromEntries(new URLSearchParams(raw));
      const [sid] = Buffer.from(authorization.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':');
      if (sid !== decodeURIComponent(twilio[1]!))
        return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":20003}');
      if (this.unreachable.has(f.To ?? ''))
        return void res.writeHead(400, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            code: 21211,
            message: `Invalid 'To' Phone Number: ${f.To}`,
            more_info: 'https://www.twilio.com/docs/errors/21211',
            status: 400,
          }),
        );
      this.messages.push({
        provider: 'twilio',
        authorization,
        to: f.To ?? '',
        from: f.From ?? '',
        body: f.Body ?? '',
        path: req.url ?? '',
      });
      return void res
        .writeHead(201, { 'content-type': 'application/json' })
        .end(JSON.stringify({ sid: 'SM' + 'x'.repeat(32), status: 'queued' }));
    }
    const j = JSON.parse(raw || '{}') as Record<string, string>;
    if (this.unreachable.has(j.To ?? '')) return void res.writeHead(422, { 'content-type': 'text/plain' }).end('unknown recipient');
    if (this.errorPage.has(j.To ?? ''))
      return void res
        .writeHead(502, { 'content-type': 'text/html' })
        .end('<html><body><h1>502 Bad Gateway</h1>upstream 10.0.0.7</body></html>');
    this.messages.push({
      provider: 'generic',
      authorization,
      to: j.To ?? '',
      from: j.From ?? '',
      body: j.Body ?? '',
      path: req.url ?? '',
      json: j,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  }
}
