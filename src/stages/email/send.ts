/**
 * The message and its delivery: authentik's two built-in templates (`email/password_reset.html`,
 * `email/account_confirmation.html`) as text and HTML, or the stage's own text template with `{{ url }}`,
 * `{{ user }}`, `{{ username }}`, `{{ expires }}`; sent over SMTP (nodemailer) with the stage's or the global settings.
 */
import type { Config } from '../../config.js';
import { sendMail, type SmtpSettings } from '../../mail/smtp.js';

export type { SmtpSettings };

export const TEMPLATES = [
  { name: 'email/password_reset.html', description: 'Password Reset' },
  { name: 'email/account_confirmation.html', description: 'Account Confirmation' },
] as const;

export interface MessageVars {
  url: string;
  /** the person's display name, else username */
  user: string;
  username: string;
  /** when the link stops working */
  expires: Date;
}

export interface Message {
  subject: string;
  text: string;
  html?: string;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** "30 minutes", "2 hours" (the link's lifetime as people read it) */
export function lifetime(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes % 1440 === 0) return `${minutes / 1440} day${minutes === 1440 ? '' : 's'}`;
  if (minutes % 60 === 0) return `${minutes / 60} hour${minutes === 60 ? '' : 's'}`;
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

const BUILT_IN: Record<string, { intro: string; action: string; outro: string }> = {
  'email/password_reset.html': {
    intro: 'You recently asked to reset the password of your account. Use the link below to choose a new password.',
    action: 'Reset password',
    outro: 'If you did not ask for this, you can ignore this e-mail: your password stays as it is.',
  },
  'email/account_confirmation.html': {
    intro: 'Please confirm your e-mail address by opening the link below.',
    action: 'Confirm e-mail address',
    outro: 'If you did not sign up, you can ignore this e-mail.',
  },
};

export function renderMessage(subject: string, template: string, vars: MessageVars): Message {
  const expiresIn = lifetime(vars.expires.getTime() - Date.now());
  if (template.includes('{{')) {
    const values: Record<string, string> = { url: vars.url, user: vars.user, username: vars.username, expires: expiresIn };
    return { subject, text: template.replace(/\{\{\s*(\w+)\s*\}\}/g, (m, k: string) => values[k] ?? m) };
  }
  const t = BUILT_IN[template] ?? BUILT_IN['email/password_reset.html']!;
  const text = `Hi ${vars.user},\n\n${t.intro}\n\n${vars.url}\n\nThe link works once, for ${expiresIn}. ${t.outro}\n`;
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>Hi ${escapeHtml(vars.user)},</p>
<p>${escapeHtml(t.intro)}</p>
<p><a href="${escapeHtml(vars.url)}">${escapeHtml(t.action)}</a></p>
<p style="word-break:break-all">${escapeHtml(vars.url)}</p>
<p>The link works once, for ${escapeHtml(expiresIn)}. ${escapeHtml(t.outro)}</p>
</body></html>`;
  return { subject, text, html };
}

export async function sendMessage(settings: SmtpSettings, cfg: Config, to: { name: string; address: string }, m: Message): Promise<void> {
  await sendMail(settings, cfg, { to: { name: to.name, address: to.address }, subject: m.subject, text: m.text, html: m.html });
}
