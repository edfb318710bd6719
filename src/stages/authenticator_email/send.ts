/** Sends a sign-in code through SMTP (nodemailer) with the stage's or the global settings; subject and body are templated. */
import type { Config } from '../../config.js';
import { sendMail, type SmtpSettings } from '../../mail/smtp.js';

export interface EmailSettings extends SmtpSettings {
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
  await sendMail(settings, cfg, { to, subject: render(settings.subject, vars), text: render(settings.template, vars) });
}
