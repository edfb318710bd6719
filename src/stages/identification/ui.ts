/** Browser view of `ak-stage-identification`: user field, optional password and captcha, remember me, links. */
import { html, nothing } from 'lit';
import { StageElement } from '#web/base.js';
import type { IdentificationChallenge } from './challenge.js';
import { renderCaptcha } from '#web/captcha.js';
import { getAssertion } from '#web/webauthn.js';
import { plexLogin } from '#web/plex.js';

const LABELS: Record<string, string> = { username: 'Username', email: 'Email', upn: 'UPN' };
const REMEMBER_KEY = 'keystage-remember-me-user';

export function userFieldLabel(fields: string[]): string {
  if (!fields.length) return 'Username';
  return fields
    .map((f) => LABELS[f] ?? f)
    .sort()
    .join(' or ');
}

class IdentificationView extends StageElement<IdentificationChallenge> {
  private captchaToken = '';
  private showPassword = false;
  /** a Plex login that failed (plex.tv's or the redeem's answer) */
  private sourceError = '';

  private passkeyAbort: AbortController | undefined;

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.passkeyAbort?.abort();
  }

  /** passkey autofill: the browser offers saved passkeys in the username field (conditional mediation) */
  private async startPasskeyAutofill() {
    const options = this.challenge.passkey_challenge;
    const pkc = (window as unknown as { PublicKeyCredential?: { isConditionalMediationAvailable?: () => Promise<boolean> } })
      .PublicKeyCredential;
    if (!options || !pkc?.isConditionalMediationAvailable || !(await pkc.isConditionalMediationAvailable())) return;
    this.passkeyAbort = new AbortController();
    try {
      const passkey = await getAssertion(options, 'conditional', this.passkeyAbort.signal);
      void this.host.submit({ passkey });
    } catch {
      /* dismissed or aborted: the person types a username instead */
    }
  }

  override firstUpdated() {
    void this.startPasskeyAutofill();
    const cap = this.challenge.captcha_stage;
    const box = this.querySelector<HTMLElement>('#ks-captcha');
    if (cap && box)
      renderCaptcha(box, cap, (t) => {
        this.captchaToken = t;
      }).catch(() => {
        box.textContent = 'The captcha could not be loaded.';
      });
  }

  private onSubmit(e: Event) {
    e.preventDefault();
    this.passkeyAbort?.abort();
    const v = this.formValues(e.target as HTMLFormElement);
    if (this.challenge.enable_remember_me) {
      if (v.remember_me) localStorage.setItem(REMEMBER_KEY, v.uid_field ?? '');
      else localStorage.removeItem(REMEMBER_KEY);
    }
    const data: Record<string, unknown> = { uid_field: v.uid_field };
    if (this.challenge.password_fields) data.password = v.password;
    if (this.challenge.captcha_stage) data.captcha_token = this.captchaToken;
    void this.host.submit(data);
  }

  override render() {
    const c = this.challenge;
    const remembered = c.enable_remember_me ? (localStorage.getItem(REMEMBER_KEY) ?? '') : '';
    const label = userFieldLabel(c.user_fields ?? []);
    return html`<form class="ks-form" method="post" novalidate @submit=${this.onSubmit}>
      ${c.application_pre ? html`<p id="application-pre" class="ks-muted">Log in to continue to ${c.application_pre}.</p>` : nothing}
      ${this.nonFieldErrors()}
      ${
        c.user_fields?.length
          ? html`<div class="ks-field">
            <label for="uid_field">${label}</label>
            <input id="uid_field" name="uid_field" type="text" autocomplete="username webauthn" autocapitalize="none" spellcheck="false" required
              .value=${c.pending_user_identifier ?? remembered} aria-invalid=${this.errorsFor('uid_field').length ? 'true' : 'false'}
              aria-describedby=${this.describedBy('non_field_errors')} />
            ${this.fieldErrors('uid_field')}
          </div>`
          : nothing
      }
      ${
        c.password_fields
          ? html`<div class="ks-field">
            <label for="password">Password</label>
            <div class="ks-password">
              <input id="password" name="password" type=${this.showPassword ? 'text' : 'password'} autocomplete="current-password" required
                aria-describedby=${this.describedBy('password')} />
              ${
                c.allow_show_password
                  ? html`<button type="button" class="ks-secondary" aria-pressed=${this.showPassword ? 'true' : 'false'}
                    @click=${() => {
                      this.showPassword = !this.showPassword;
                      this.requestUpdate();
                    }}>${this.showPassword ? 'Hide' : 'Show'}</button>`
                  : nothing
              }
            </div>
            ${this.fieldErrors('password')}
          </div>`
          : nothing
      }
      ${c.captcha_stage ? html`<div id="ks-captcha" class="ks-captcha"></div>` : nothing}
      ${
        c.enable_remember_me
          ? html`<div class="ks-check"><input id="remember_me" name="remember_me" type="checkbox" ?checked=${!!remembered} /><label for="remember_me">Remember me on this device</label></div>`
          : nothing
      }
      ${c.user_fields?.length || c.password_fields ? this.submitButton(c.primary_action || 'Log in') : nothing}
      ${
        c.sources?.length
          ? html`<ul class="ks-sources" aria-label="Log in with">
            ${c.sources.map((s) => {
              const label = html`${s.icon_url ? html`<img src=${s.icon_url} alt="" width="24" height="24" />` : nothing}
                ${c.show_source_labels || s.promoted || !s.icon_url ? html`<span>${s.name}</span>` : html`<span class="ks-sr-only">${s.name}</span>`}`;
              const cls = s.promoted ? 'ks-source ks-promoted' : 'ks-source';
              const ch = s.challenge;
              return ch.component === 'ak-source-plex'
                ? html`<li><a class=${cls} href="#" role="button" title=${s.name} @click=${(e: Event) => {
                    e.preventDefault();
                    this.sourceError = '';
                    plexLogin(ch.client_id, ch.slug).then(
                      (to) => window.location.assign(to),
                      (err: Error) => {
                        this.sourceError = err.message;
                        this.requestUpdate();
                      },
                    );
                  }}>${label}</a></li>`
                : html`<li><a class=${cls} href=${ch.to} title=${s.name}>${label}</a></li>`;
            })}
          </ul>${this.sourceError ? html`<p class="ks-error" role="alert">${this.sourceError}</p>` : nothing}`
          : nothing
      }
      <nav class="ks-links" aria-label="Other options">
        ${c.passwordless_url ? html`<a href=${c.passwordless_url}>Use a security key</a>` : nothing}
        ${c.recovery_url ? html`<a href=${c.recovery_url}>Forgot username or password?</a>` : nothing}
        ${c.enroll_url ? html`<a href=${c.enroll_url}>Need an account? Sign up.</a>` : nothing}
      </nav>
    </form>`;
  }
}
customElements.define('ak-stage-identification', IdentificationView);
