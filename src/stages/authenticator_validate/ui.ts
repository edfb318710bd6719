/**
 * Browser view of `ak-stage-authenticator-validate`: a device picker when several classes are offered, a code
 * field (autocomplete one-time-code) for TOTP and recovery codes, WebAuthn through navigator.credentials.get,
 * and the choice of a setup stage when the user has no device yet. Every class but WebAuthn and Duo is answered
 * with a code (src/mfa/registry.ts), so a new code class gets the code field.
 */
import { html, nothing } from 'lit';
import { StageElement } from '#web/base.js';
import { getAssertion } from '#web/webauthn.js';
import type { AuthenticatorValidationChallenge } from './challenge.js';

interface DeviceChallenge {
  device_class: string;
  device_uid: string;
  challenge: Record<string, unknown>;
}

const CLASS_LABEL: Record<string, string> = {
  totp: 'Authenticator app',
  static: 'Recovery code',
  webauthn: 'Security key or passkey',
  duo: 'Duo push',
  sms: 'SMS code',
  email: 'E-mail code',
};

class AuthenticatorValidateView extends StageElement<AuthenticatorValidationChallenge> {
  private selected: DeviceChallenge | undefined;
  private webauthnError = '';

  override willUpdate() {
    const list = (this.challenge.device_challenges ?? []) as DeviceChallenge[];
    // a single device is chosen for the person; e-mail and SMS devices are told so, which sends their code
    if (!this.selected && list.length === 1) this.select(list[0]!, ['email', 'sms'].includes(list[0]!.device_class));
  }

  private select(d: DeviceChallenge, notify = true) {
    this.selected = d;
    if (notify) this.host.fireAndForget({ selected_challenge: d });
    if (d.device_class === 'webauthn') void this.runWebAuthn();
    this.requestUpdate();
    void this.updateComplete.then(() => this.focusFirst());
  }

  private async runWebAuthn() {
    this.webauthnError = '';
    try {
      const assertion = await getAssertion(this.selected!.challenge);
      await this.host.submit({ selected_challenge: this.selected, webauthn: assertion });
    } catch {
      this.webauthnError = 'The security key did not answer. Try again.';
      this.requestUpdate();
    }
  }

  private onCode(e: Event) {
    e.preventDefault();
    const v = this.formValues(e.target as HTMLFormElement);
    void this.host.submit({ selected_challenge: this.selected, code: v.code });
  }

  private picker() {
    const list = (this.challenge.device_challenges ?? []) as DeviceChallenge[];
    return html`<fieldset class="ks-picker"><legend>Choose how to confirm it's you</legend>
      ${list.map((d) => html`<button type="button" class="ks-secondary" @click=${() => this.select(d)}>${CLASS_LABEL[d.device_class] ?? d.device_class}</button>`)}
    </fieldset>`;
  }

  private stages() {
    const stages = (this.challenge.configuration_stages ?? []) as { pk: string; name: string }[];
    return html`<fieldset class="ks-picker"><legend>Set up a second factor</legend>
      ${stages.map((s) => html`<button type="button" class="ks-secondary" @click=${() => this.host.submit({ selected_stage: s.pk })}>${s.name}</button>`)}
    </fieldset>`;
  }

  private codeForm() {
    const cls = this.selected!.device_class;
    const isStatic = cls === 'static';
    const label = isStatic
      ? 'Recovery code'
      : cls === 'email'
        ? `Code sent to ${String(this.selected!.challenge.email ?? 'your e-mail')}`
        : cls === 'sms'
          ? 'Code sent to your phone'
          : 'Code from your authenticator app';
    return html`<form class="ks-form" method="post" novalidate @submit=${this.onCode}>
      <div class="ks-field">
        <label for="code">${label}</label>
        <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode=${isStatic ? 'text' : 'numeric'} autocapitalize="none" spellcheck="false" required
          aria-invalid=${this.errorsFor('code').length ? 'true' : 'false'} aria-describedby=${this.describedBy('code')} />
        ${this.fieldErrors('code')}
      </div>
      ${this.submitButton('Continue')}
    </form>`;
  }

  override render() {
    const list = (this.challenge.device_challenges ?? []) as DeviceChallenge[];
    const sel = this.selected;
    return html`${this.userHeader()} ${this.nonFieldErrors()} ${this.fieldErrors('selected_challenge')}
      ${!list.length && (this.challenge.configuration_stages ?? []).length ? this.stages() : nothing}
      ${!sel && list.length > 1 ? this.picker() : nothing}
      ${sel && !['webauthn', 'duo'].includes(sel.device_class) ? this.codeForm() : nothing}
      ${
        sel?.device_class === 'duo'
          ? html`<form class="ks-form" method="post" @submit=${(e: Event) => {
              e.preventDefault();
              void this.host.submit({ selected_challenge: sel, duo: Number(sel.device_uid) });
            }}>
            ${this.fieldErrors('duo')}
            ${this.busy ? html`<p role="status"><span class="ks-spinner" aria-hidden="true"></span> Approve the request in Duo Mobile…</p>` : ''}
            ${this.submitButton('Send a Duo push')}
          </form>`
          : nothing
      }
      ${
        sel?.device_class === 'webauthn'
          ? html`<div class="ks-form"><p role="status">Use your security key or passkey now.</p>
            ${this.fieldErrors('webauthn')}
            ${this.webauthnError ? html`<p class="ks-field-error" role="alert">${this.webauthnError}</p>` : nothing}
            <button type="button" class="ks-primary" ?disabled=${this.busy} @click=${() => this.runWebAuthn()}>Try again</button></div>`
          : nothing
      }
      ${
        sel && list.length > 1
          ? html`<p><button type="button" class="ks-link-button" @click=${() => {
              this.selected = undefined;
              this.requestUpdate();
            }}>Choose another method</button></p>`
          : nothing
      }`;
  }
}
customElements.define('ak-stage-authenticator-validate', AuthenticatorValidateView);
