/**
 * /if/user/: the person's own page — their details through the brand's user settings flow (run in the page), password
 * change (the password stage's configure flow), second-factor devices, sessions, applications, consents given to
 * applications, API tokens and app passwords, the logout link, the admin interface's link (for those who may use it), the other logins this browser holds (switch to one,
 * add another: when the brand has a user switch flow) and, when the brand has an unenrollment flow, deleting the
 * account. Someone not logged in is sent to log in and back.
 */
import { LitElement, html, nothing } from 'lit';
import { api, ApiError, firstError } from '#web/api.js';
import { LOGIN, type UserSetting } from './sections.js';
import './sections.js';
import './access-requests.js';
import './settings-flow.js';
import './user.css';

interface Me {
  pk: number;
  username: string;
  name: string;
  email: string;
  avatar: string;
  is_superuser?: boolean;
  system_permissions?: string[];
}

interface CurrentBrand {
  flow_user_settings?: string;
  flow_user_switch?: string;
  flow_unenrollment?: string;
  flow_lockdown?: string;
}

class UserPage extends LitElement {
  static override properties = {
    me: { state: true },
    others: { state: true },
    switchError: { state: true },
    brand: { state: true },
    settings: { state: true },
    failed: { state: true },
    lockdownError: { state: true },
    brandTitle: { type: String, attribute: 'brand-title' },
    brandLogo: { type: String, attribute: 'brand-logo' },
  };
  /** the request's brand (src/ui/routes.ts sets both) */
  declare brandTitle: string;
  declare brandLogo: string;
  declare me: Me | undefined;
  /** the other logins this browser holds (`/core/users/me/`'s `users`) */
  declare others: Me[];
  declare switchError: string | undefined;
  declare brand: CurrentBrand | undefined;
  declare settings: UserSetting[] | undefined;
  declare failed: boolean;
  declare lockdownError: string | undefined;

  protected override createRenderRoot() {
    return this;
  }

  override connectedCallback() {
    super.connectedCallback();
    this.addEventListener('ks-user-changed', () => void this.loadMe());
    void this.load();
  }

  private async loadMe() {
    const r = await api<{ user: Me; users?: Me[] }>('/core/users/me/');
    this.me = r.user;
    this.others = (r.users ?? []).filter((u) => u.pk !== r.user.pk);
  }

  /** another login in this browser: to one it holds, or a new one (POST /core/users/switch/), run on the flow's page */
  private async switchTo(body: { action: 'add' } | { action: 'switch'; user_pk: number }) {
    this.switchError = undefined;
    try {
      const { redirect } = await api<{ redirect: string }>(`/core/users/switch/?next=${encodeURIComponent('/if/user/')}`, 'POST', body);
      location.assign(redirect);
    } catch (e) {
      this.switchError = firstError(e) ?? 'That login is no longer available here.';
    }
  }

  private async load() {
    try {
      await this.loadMe();
    } catch (e) {
      // not logged in (or no longer): to the login, and back here afterwards
      if (e instanceof ApiError && e.status === 403) location.assign(LOGIN);
      else this.failed = true;
      return;
    }
    try {
      [this.brand, this.settings] = await Promise.all([
        api<CurrentBrand>('/core/brands/current/'),
        api<UserSetting[]>('/stages/all/user_settings/'),
      ]);
    } catch {
      this.brand = {};
      this.settings = [];
    }
  }

  /** the brand's lockdown flow, planned for oneself (POST /core/users/account_lockdown/), then run on its page */
  private async lockDown() {
    this.lockdownError = undefined;
    try {
      const { link } = await api<{ link: string }>('/core/users/account_lockdown/', 'POST', {});
      location.assign(link);
    } catch (e) {
      this.lockdownError = firstError(e) ?? 'The account could not be locked here. Please contact your administrator.';
    }
  }

  private header() {
    const title = this.brandTitle || 'Keystage';
    return html`<header class="ks-brand ks-page-header">
      ${this.brandLogo ? html`<img class="ks-brand-logo" src=${this.brandLogo} alt=${title} />` : html`<span><span class="ks-logo" aria-hidden="true">◆</span> ${title}</span>`}
      <span class="ks-page-actions">
        ${
          this.me?.is_superuser || this.me?.system_permissions?.includes('access_admin_interface')
            ? html`<a id="ks-admin-link" class="ks-secondary ks-button-link" href="/if/admin/">Admin interface</a>`
            : nothing
        }
        <a id="ks-logout" class="ks-secondary ks-button-link" href="/flows/-/default/invalidation/">Log out</a>
      </span>
    </header>`;
  }

  override render() {
    if (this.failed)
      return html`<main class="ks-card"><div class="ks-alert" role="alert">This page could not be loaded. <a href="/if/user/">Try again</a></div></main>`;
    const u = this.me;
    if (!u) return html`<main class="ks-card"><p role="status"><span class="ks-spinner" aria-hidden="true"></span> Loading…</p></main>`;
    const password = this.settings?.find((s) => s.component === 'ak-user-settings-password' && s.configure_url);
    const settingsFlow = this.brand?.flow_user_settings;
    const unenroll = this.brand?.flow_unenrollment;
    const next = `?next=${encodeURIComponent('/if/user/')}`;
    return html`<main class="ks-card ks-page">
      ${this.header()}
      <div class="ks-user">
        <img src=${u.avatar} alt="" width="48" height="48" />
        <div>
          <h1 class="ks-title">Welcome, <span id="ks-display-name">${u.name || u.username}</span></h1>
          <p>Signed in as <strong id="ks-username">${u.username}</strong>${u.email ? html` · <span class="ks-muted">${u.email}</span>` : nothing}</p>
        </div>
      </div>

      ${
        this.brand?.flow_user_switch
          ? html`<section aria-labelledby="ks-h-accounts">
            <h2 id="ks-h-accounts">Accounts in this browser</h2>
            ${this.switchError ? html`<div class="ks-alert" role="alert">${this.switchError}</div>` : nothing}
            <ul class="ks-list" id="ks-accounts">
              ${(this.others ?? []).map(
                (o) => html`<li>
                  <span>${o.name || o.username} <span class="ks-muted">${o.username}</span></span>
                  <button type="button" class="ks-secondary" data-switch=${o.username}
                    @click=${() => this.switchTo({ action: 'switch', user_pk: o.pk })}>Switch to ${o.username}</button>
                </li>`,
              )}
            </ul>
            <p><button type="button" id="ks-add-account" class="ks-secondary" @click=${() => this.switchTo({ action: 'add' })}>Add another account</button></p>
          </section>`
          : nothing
      }

      <section aria-labelledby="ks-h-details">
        <h2 id="ks-h-details">Your details</h2>
        ${
          !this.brand
            ? nothing
            : settingsFlow
              ? html`<ks-settings-flow slug=${settingsFlow}></ks-settings-flow>`
              : html`<p class="ks-muted">Your details cannot be changed here.</p>`
        }
      </section>

      ${
        password
          ? html`<section aria-labelledby="ks-h-password">
            <h2 id="ks-h-password">Password</h2>
            <p><a id="ks-change-password" class="ks-secondary ks-button-link" href="${password.configure_url}${next}">Change password</a></p>
          </section>`
          : nothing
      }

      <section aria-labelledby="ks-h-mfa">
        <h2 id="ks-h-mfa">Two-factor devices</h2>
        ${this.settings ? html`<ks-mfa-devices .settings=${this.settings}></ks-mfa-devices>` : nothing}
      </section>

      <section aria-labelledby="ks-h-sources">
        <h2 id="ks-h-sources">Connected services</h2>
        <ks-sources user=${u.pk}></ks-sources>
      </section>

      <section aria-labelledby="ks-h-sessions">
        <h2 id="ks-h-sessions">Sessions</h2>
        <ks-sessions></ks-sessions>
      </section>

      <section aria-labelledby="ks-h-apps">
        <h2 id="ks-h-apps">Applications</h2>
        <ks-applications></ks-applications>
      </section>

      <section aria-labelledby="ks-h-requests">
        <h2 id="ks-h-requests">Access requests</h2>
        <ks-access-requests me=${u.pk}></ks-access-requests>
      </section>

      <section aria-labelledby="ks-h-consents">
        <h2 id="ks-h-consents">Consents</h2>
        <ks-consents user=${u.pk}></ks-consents>
      </section>

      <section aria-labelledby="ks-h-tokens">
        <h2 id="ks-h-tokens">Tokens and app passwords</h2>
        <ks-tokens username=${u.username}></ks-tokens>
      </section>

      ${
        this.brand?.flow_lockdown
          ? html`<section aria-labelledby="ks-h-lockdown">
            <h2 id="ks-h-lockdown">Account lockdown</h2>
            <p class="ks-muted">If you think someone else has access to your account, lock it: you are logged out everywhere
              and nobody can log in to it until an administrator restores it.</p>
            ${this.lockdownError ? html`<div class="ks-alert" role="alert">${this.lockdownError}</div>` : nothing}
            <p><button type="button" id="ks-lockdown" class="ks-danger" @click=${() => this.lockDown()}>Lock my account</button></p>
          </section>`
          : nothing
      }

      ${
        unenroll
          ? html`<section aria-labelledby="ks-h-delete">
            <h2 id="ks-h-delete">Delete account</h2>
            <p><a id="ks-unenroll" class="ks-danger ks-button-link" href="/if/flow/${encodeURIComponent(unenroll)}/">Delete my account</a></p>
          </section>`
          : nothing
      }
    </main>`;
  }
}
customElements.define('ks-user-page', UserPage);
