/**
 * Outgoing mail through SMTP (nodemailer), with a stage's own settings or the global ones (KEYSTAGE_EMAIL_*): what
 * the e-mail stage and the e-mail setup stage send with.
 */
import type { Config } from '../config.js';
import { S } from '../rest/schema.js';

/** a stage's SMTP fields, as authentik names them */
export interface SmtpSettings {
  use_global_settings: boolean;
  host: string;
  port: number;
  username: string;
  password: string;
  use_tls: boolean;
  use_ssl: boolean;
  timeout: number;
  from_address: string;
}

/** a stage's SMTP connection fields (authentik's field order and defaults), before its own `from_address` */
export const smtpFields = {
  use_global_settings: S.bool({
    default: false,
    description: 'When enabled, global Email connection settings will be used and connection settings below will be ignored.',
  }),
  host: S.text({ default: 'localhost' }),
  port: S.int({ default: 25 }),
  username: S.text({ default: '' }),
  password: S.wo(S.text({ default: '', 'x-no-trim': true })),
  use_tls: S.bool({ default: false }),
  use_ssl: S.bool({ default: false }),
  timeout: S.int({ default: 10 }),
};

export interface Mail {
  to: string | { name: string; address: string };
  cc?: string[];
  bcc?: string[];
  subject: string;
  text: string;
  html?: string;
}

export async function sendMail(settings: SmtpSettings, cfg: Config, mail: Mail): Promise<void> {
  const g = cfg.email;
  const s = settings.use_global_settings
    ? { host: g.host, port: g.port, user: g.username, pass: g.password, tls: g.useTls, ssl: g.useSsl, from: g.from, timeout: g.timeoutS }
    : {
        host: settings.host,
        port: settings.port,
        user: settings.username,
        pass: settings.password,
        tls: settings.use_tls,
        ssl: settings.use_ssl,
        from: settings.from_address,
        timeout: settings.timeout,
      };
  const nodemailer = (await import('nodemailer')).default;
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.ssl,
    requireTLS: s.tls,
    ignoreTLS: !s.tls && !s.ssl,
    auth: s.user ? { user: s.user, pass: s.pass } : undefined,
    connectionTimeout: s.timeout * 1000,
    greetingTimeout: s.timeout * 1000,
    socketTimeout: s.timeout * 1000,
  });
  try {
    await transport.sendMail({ from: s.from, ...mail });
  } finally {
    transport.close();
  }
}
