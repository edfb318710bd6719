/** Sends a sign-in code through SMTP (nodemailer) with the stage's or the global settings; subject and body are templated. */
import type { Config } from '../../config.js';

export interface EmailSettings {
  use_global_settings: boolean;
  host: string;
  port: number;
  username: string;
  password: string;
  use_tls: boolean;
  use_ssl: boolean;
  timeout: number;
  from_address: string;
  subject: string;
  template: string;
}

const DEFAULT_BODY =
  'Your sign-in code is {{ code }}.\n\nIt expires in {{ expires }}. If you did not try to sign in, you can ignore this message.';

/** `{{ code }}`, `{{ expires }}`, `{{ user }}`; a template without placeholders (authentik's file name) gets the default text */
export function render(template: string, vars: Record<string, string>): string {
  const text = template.includes('{{') ? template : DEFAULT_BODY;
  return text.replace(/\{\{\s*(\w+)\s*\}\}/g, (m, k: string) => vars[k] ?? m);
}

export async function sendCode(settings: EmailSettings, cfg: Config, to: string, vars: Record<string, string>): Promise<void> {
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
    await transport.sendMail({ from: s.from, to, subject: render(settings.subject, vars), text: render(settings.template, vars) });
  } finally {
    transport.close();
  }
}
