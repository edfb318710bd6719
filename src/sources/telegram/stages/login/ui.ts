/**
 * Browser view of `ak-source-telegram`: Telegram's login widget for the source's bot, in its redirect mode
 * (`data-auth-url`: this page), since its callback mode evaluates a string, which the flow page's CSP forbids. The
 * widget's script is added by this view (the CSP trusts what its nonce-loaded bundle adds, `'strict-dynamic'`);
 * Telegram sends the person back here with the signed answer in the query, which the view submits as the response
 * (and takes out of the address bar).
 */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { TelegramLoginChallenge } from './challenge.js';

const FIELDS = ['id', 'first_name', 'last_name', 'username', 'photo_url', 'auth_date', 'hash'] as const;

class TelegramLoginView extends StageElement<TelegramLoginChallenge> {
  override firstUpdated() {
    const url = new URL(location.href);
    const answer: Record<string, unknown> = { component: 'ak-source-telegram' };
    for (const k of FIELDS) {
      const v = url.searchParams.get(k);
      url.searchParams.delete(k);
      if (v !== null) answer[k] = k === 'id' || k === 'auth_date' ? Number(v) : v;
    }
    history.replaceState(history.state, '', url.toString());
    if (answer.hash !== undefined && !this.challenge.response_errors) {
      void this.host.submit(answer);
      return;
    }
    const script = document.createElement('script');
    script.async = true;
    script.src = 'https://telegram.org/js/telegram-widget.js?22';
    script.dataset.telegramLogin = this.challenge.bot_username;
    script.dataset.size = 'large';
    script.dataset.authUrl = url.toString();
    if (this.challenge.request_message_access) script.dataset.requestAccess = 'write';
    this.querySelector('.ks-telegram')?.appendChild(script);
  }

  override render() {
    const errors = Object.values(this.challenge.response_errors ?? {}).flat();
    return html`<div class="ks-form">
      <p>Log in with Telegram (@${this.challenge.bot_username}).</p>
      <div class="ks-telegram"></div>
      ${errors.map((e) => html`<p class="ks-error" role="alert">${e.string}</p>`)}
    </div>`;
  }
}
customElements.define('ak-source-telegram', TelegramLoginView);
