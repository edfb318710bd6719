/**
 * Browser view of `ak-provider-saml-native-logout`: the browser goes to the service provider — to the redirect
 * binding's URL, or by posting the form the challenge holds — and comes back to this flow through its RelayState;
 * a challenge saying all are done lets the flow go on.
 */
import { html, nothing } from 'lit';
import { StageElement } from '#web/base.js';
import type { NativeLogoutChallenge } from './challenge.js';

class NativeLogoutView extends StageElement<NativeLogoutChallenge> {
  override updated() {
    const c = this.challenge;
    if (c.is_complete) void this.host.submit({});
    else if (c.redirect_url) location.assign(c.redirect_url);
    else if (c.post_url) this.querySelector<HTMLFormElement>('form')?.submit();
  }

  override render() {
    const c = this.challenge;
    return html`<div class="ks-form" role="status">
      <p>Logging out of ${c.provider_name ?? 'an application'}…</p>
      ${
        c.post_url
          ? html`<form method="post" action=${c.post_url}>
              ${c.saml_request ? html`<input type="hidden" name="SAMLRequest" .value=${c.saml_request} />` : nothing}
              ${c.saml_response ? html`<input type="hidden" name="SAMLResponse" .value=${c.saml_response} />` : nothing}
              ${c.saml_relay_state ? html`<input type="hidden" name="RelayState" .value=${c.saml_relay_state} />` : nothing}
              <noscript><button class="ks-primary" type="submit">Continue</button></noscript>
            </form>`
          : nothing
      }
    </div>`;
  }
}
customElements.define('ak-provider-saml-native-logout', NativeLogoutView);
