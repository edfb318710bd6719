/** Shared by the e-mail stage tests: a server whose global SMTP settings point at a local sink, and mail reading. */
import { SmtpSink, type Mail } from '../../helpers/fake-providers.js';
import { startServer, type DialectName, type TestServer } from '../../helpers/server.js';
import type { Config } from '../../../src/config.js';

export const EXTERNAL = 'https://login.example.test';

export async function emailServer(dialect: DialectName, over: Partial<Config> = {}): Promise<{ srv: TestServer; smtp: SmtpSink }> {
  const smtp = await new SmtpSink().start();
  const srv = await startServer(dialect, {
    externalUrl: new URL(EXTERNAL),
    email: {
      host: '127.0.0.1',
      port: smtp.port,
      username: '',
      password: '',
      useTls: false,
      useSsl: false,
      from: 'keystage@example.test',
      timeoutS: 5,
    },
    ...over,
  });
  return { srv, smtp };
}

/** the message body with quoted-printable soft breaks and escapes undone */
export function decoded(m: Mail): string {
  return m.raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

/** waits for the `n`-th mail (1-based) to `to` */
export async function mailTo(smtp: SmtpSink, to: string, n = 1, timeoutMs = 5000): Promise<Mail> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const mine = smtp.mails.filter((m) => m.to.includes(to));
    if (mine.length >= n) return mine[n - 1]!;
    if (Date.now() > until) throw new Error(`no mail #${n} to ${to} (have ${mine.length})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** the link in a mail, and its flow token */
export function linkIn(m: Mail): { url: URL; token: string } {
  const match = /(https?:\/\/[^\s"<>]+flow_token=[A-Za-z0-9_-]+)/.exec(decoded(m));
  if (!match) throw new Error('no link in the mail');
  const url = new URL(match[1]!);
  return { url, token: url.searchParams.get('flow_token')! };
}

/** lets background sends finish before counting what was (not) sent */
export const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));
