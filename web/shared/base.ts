/**
 * Base class of every challenge view. Views render into the light DOM (no shadow root), so password managers,
 * autofill and assistive technology see real <form> and <input> elements.
 */
import { LitElement, html, nothing, type TemplateResult } from 'lit';
import type { AnyChallenge, ResponseErrors } from '../../src/flows/engine/challenge-types.js';

export type { AnyChallenge, ResponseErrors };

/** a cookie of this page's origin (the CSRF token the API's writes carry in `X-authentik-CSRF`) */
export function cookie(name: string): string {
  const m = document.cookie.split('; ').find((c) => c.startsWith(`${name}=`));
  return m ? decodeURIComponent(m.slice(name.length + 1)) : '';
}
/** a challenge of any component, fields unchecked (the executor element, views not typed yet) */
export type Challenge = Record<string, any> & AnyChallenge;

export interface ExecutorHost {
  /** POST a response to the current stage; resolves when the next challenge is shown */
  submit(data: Record<string, unknown>): Promise<void>;
  /** POST without waiting for or rendering the answer (device selection) */
  fireAndForget(data: Record<string, unknown>): void;
  busy: boolean;
}

/** `T`: the challenge this view renders, the `Static<>` type of its schema in the stage's challenge.ts */
export abstract class StageElement<T extends AnyChallenge = Challenge> extends LitElement {
  static override properties = { challenge: { attribute: false }, busy: { type: Boolean } };
  declare challenge: T;
  declare busy: boolean;
  host!: ExecutorHost;

  protected override createRenderRoot() {
    return this;
  }

  /** the first focusable field of a new challenge gets focus */
  focusFirst() {
    const el = this.querySelector<HTMLElement>(
      'input:not([type=hidden]):not([hidden]):not([disabled]), select, textarea, button:not([disabled])',
    );
    el?.focus();
  }

  protected errorsFor(field: string): string[] {
    return (this.challenge?.response_errors?.[field] ?? []).map((e) => e.string);
  }

  /** error text linked to its input through aria-describedby */
  protected fieldErrors(field: string): TemplateResult | typeof nothing {
    const errs = this.errorsFor(field);
    if (!errs.length) return nothing;
    return html`<p class="ks-field-error" id="err-${field}" role="alert">${errs.join(' ')}</p>`;
  }

  protected describedBy(field: string): string | typeof nothing {
    return this.errorsFor(field).length ? `err-${field}` : nothing;
  }

  protected nonFieldErrors(): TemplateResult | typeof nothing {
    const errs = this.errorsFor('non_field_errors');
    if (!errs.length) return nothing;
    return html`<div class="ks-alert" role="alert" id="err-non_field_errors">${errs.join(' ')}</div>`;
  }

  protected userHeader(): TemplateResult | typeof nothing {
    if (!this.challenge.pending_user) return nothing;
    return html`<div class="ks-user">
      <img src=${this.challenge.pending_user_avatar} alt="" width="32" height="32" />
      <span>${this.challenge.pending_user}</span>
      <a href=${this.challenge.flow_info?.cancel_url ?? '/flows/-/cancel/'}>Not you?</a>
    </div>`;
  }

  protected submitButton(label: string): TemplateResult {
    return html`<button type="submit" class="ks-primary" ?disabled=${this.busy} aria-busy=${this.busy ? 'true' : 'false'}>
      ${this.busy ? html`<span class="ks-spinner" aria-hidden="true"></span> Please wait…` : label}
    </button>`;
  }

  protected formValues(form: HTMLFormElement): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of new FormData(form)) out[k] = String(v);
    return out;
  }
}
