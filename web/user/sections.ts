/**
 * The user page's lists: second-factor devices (rename, delete, enrol another through a setup stage's configure
 * flow), the sessions the person is logged in with (end any other), the applications they may open, the consents they
 * gave (withdraw), their API tokens and app passwords (create — the key shown once —, delete) and the services they
 * connected through sources (connect, disconnect).
 */
import { LitElement, html, nothing } from 'lit';
import { api, ApiError, dateTime, firstError, loginThen } from '#web/api.js';

/** where someone who is not (or no longer) logged in goes: the login, then back to this page */
export const LOGIN = loginThen('/if/user/');

/** authentik's UserSetting (/stages/all/user_settings/) */
export interface UserSetting {
  object_uid: string;
  component: string;
  title: string;
  configure_url?: string;
}

/** light-DOM element that loads a list and shows it with a status line */
export abstract class ListSection<T> extends LitElement {
  static override properties = { items: { state: true }, error: { state: true }, status: { state: true } };
  declare items: T[] | undefined;
  declare error: string;
  declare status: string;

  constructor() {
    super();
    this.error = '';
    this.status = '';
  }

  protected override createRenderRoot() {
    return this;
  }

  protected abstract fetchItems(): Promise<T[]>;

  override connectedCallback() {
    super.connectedCallback();
    void this.reload();
  }

  async reload() {
    try {
      this.items = await this.fetchItems();
      this.error = '';
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) location.assign(LOGIN);
      this.error = 'This list could not be loaded.';
    }
  }

  /**
   * DELETE, then reload the list; `done` is announced to screen readers once the list shows the change (announced
   * before, the message would describe a list that still shows what was deleted)
   */
  protected async deleteAndReload(path: string, done: string) {
    let status = done;
    try {
      await api(path, 'DELETE');
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) location.assign(LOGIN);
      status = 'That did not work. Reload the page and try again.';
    }
    await this.reload();
    this.status = status;
  }

  /** a write (PATCH, POST), then reload the list; a 400's message is shown (after the reload, as above) */
  protected async writeAndReload(write: () => Promise<unknown>, done: string): Promise<boolean> {
    let ok = false;
    let status = done;
    try {
      await write();
      ok = true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) location.assign(LOGIN);
      status = firstError(e) ?? 'That did not work. Reload the page and try again.';
    }
    await this.reload();
    this.status = status;
    return ok;
  }

  protected shell(body: unknown) {
    if (this.error) return html`<div class="ks-alert" role="alert">${this.error}</div>`;
    if (!this.items) return html`<p role="status"><span class="ks-spinner" aria-hidden="true"></span> Loading…</p>`;
    return html`${body}<p class="ks-muted" role="status" aria-live="polite">${this.status}</p>`;
  }
}

interface Device {
  pk: string;
  name: string;
  verbose_name: string;
  meta_model_name: string;
  created: string | null;
  last_used: string | null;
}

/** `authentik_stages_authenticator_totp.totpdevice` → `totp` (the device's /authenticators/<type>/ path) */
const deviceType = (d: Device) =>
  d.meta_model_name
    .split('.')
    .pop()!
    .replace(/device$/, '');

class MfaDevices extends ListSection<Device> {
  static override properties = { ...ListSection.properties, settings: { attribute: false } };
  declare settings: UserSetting[];

  protected fetchItems() {
    return api<Device[]>('/authenticators/all/');
  }

  private async deleteDevice(d: Device) {
    if (!confirm(`Delete ${d.name}? You will no longer be able to log in with it.`)) return;
    await this.deleteAndReload(`/authenticators/${deviceType(d)}/${encodeURIComponent(d.pk)}/`, `${d.name} was deleted.`);
  }

  private async renameDevice(d: Device) {
    const name = prompt(`A new name for ${d.name}:`, d.name)?.trim();
    if (!name || name === d.name) return;
    await this.writeAndReload(
      () => api(`/authenticators/${deviceType(d)}/${encodeURIComponent(d.pk)}/`, 'PATCH', { name }),
      `${d.name} is now ${name}.`,
    );
  }

  override render() {
    const enrol = (this.settings ?? []).filter((s) => s.component.startsWith('ak-user-settings-authenticator-') && s.configure_url);
    return this.shell(html`
      ${
        this.items?.length
          ? html`<ul class="ks-list" id="ks-devices">
          ${this.items.map(
            (d) => html`<li>
              <div><strong>${d.name}</strong> <span class="ks-muted">${d.verbose_name}</span>
                <br /><span class="ks-muted">Created ${dateTime(d.created)} · last used ${dateTime(d.last_used)}</span></div>
              <span class="ks-actions">
                <button type="button" class="ks-secondary" data-rename=${`${deviceType(d)}/${d.pk}`} aria-label="Rename ${d.name}"
                  @click=${() => this.renameDevice(d)}>Rename</button>
                <button type="button" class="ks-secondary" data-device=${`${deviceType(d)}/${d.pk}`} aria-label="Delete ${d.name}"
                  @click=${() => this.deleteDevice(d)}>Delete</button>
              </span>
            </li>`,
          )}
        </ul>`
          : html`<p>No devices are set up yet.</p>`
      }
      ${
        enrol.length
          ? html`<div class="ks-actions">${enrol.map(
              (s) =>
                html`<a class="ks-secondary ks-button-link" href="${s.configure_url}?next=${encodeURIComponent('/if/user/')}">Set up ${s.title}</a>`,
            )}</div>`
          : nothing
      }`);
  }
}
customElements.define('ks-mfa-devices', MfaDevices);

interface SessionInfo {
  uuid: string;
  current: boolean;
  user_agent: { user_agent: { family: string; major: string }; os: { family: string }; device: { family: string } };
  last_ip: string;
  last_used: string;
  expires: string;
  /** where the last address is, when a GeoIP database knows it */
  geo_ip: { city: string; country: string | null } | null;
}

/** "Berlin, DE · " when the GeoIP database placed the session's last address, else nothing */
const placeOf = (s: SessionInfo) => {
  const where = s.geo_ip ? [s.geo_ip.city, s.geo_ip.country].filter(Boolean).join(', ') : '';
  return where ? `${where} · ` : '';
};

const describeSession = (s: SessionInfo) => {
  const ua = s.user_agent;
  const browser = ua.user_agent.family === 'Other' ? 'Unknown browser' : `${ua.user_agent.family} ${ua.user_agent.major}`.trim();
  return ua.os.family === 'Other' ? browser : `${browser} on ${ua.os.family}`;
};

class Sessions extends ListSection<SessionInfo> {
  protected async fetchItems() {
    const r = await api<{ results: SessionInfo[] }>('/core/authenticated_sessions/?page_size=100&ordering=-last_used');
    return r.results;
  }

  override render() {
    return this.shell(html`<ul class="ks-list" id="ks-sessions">
      ${(this.items ?? []).map(
        (s) => html`<li data-session=${s.uuid} class=${s.current ? 'ks-current' : ''}>
          <div><strong>${describeSession(s)}</strong> ${s.current ? html`<span class="ks-badge">This session</span>` : nothing}
            <br /><span class="ks-muted">${placeOf(s)}${s.last_ip} · last used ${dateTime(s.last_used)}</span></div>
          ${
            s.current
              ? nothing
              : html`<button type="button" class="ks-secondary" aria-label="End the session of ${describeSession(s)}, ${s.last_ip}"
                  @click=${() => this.deleteAndReload(`/core/authenticated_sessions/${s.uuid}/`, 'The session was ended.')}>End</button>`
          }
        </li>`,
      )}
    </ul>`);
  }
}
customElements.define('ks-sessions', Sessions);

interface Application {
  name: string;
  slug: string;
  launch_url: string | null;
  meta_description: string;
  meta_publisher: string;
  meta_icon_url: string | null;
  meta_hide?: boolean;
  open_in_new_tab: boolean;
  group: string;
}

/**
 * an http(s) URL or a path from the root: authentik's library shows an application whose launch URL is http(s) or
 * relative (`blank://blank` hides one) — here "relative" is a path from the root only, so that no `javascript:` or
 * `data:` URL becomes a link —, and an icon that is such a URL (authentik's `fa://` icons name a font not loaded here)
 */
const webUrl = (url: string | null): url is string => !!url && /^(https?:\/\/|\/)/i.test(url);

/**
 * "My applications" as authentik's library lists them: those the person may use with a launch URL to open, less
 * those hidden from it (`meta_hide`), under their `group` (those without one first); each with its icon, description
 * and publisher, opening in a new tab when it says so (`open_in_new_tab`).
 */
class Applications extends ListSection<Application> {
  protected async fetchItems() {
    const r = await api<{ results: Application[] }>('/core/applications/?page_size=100');
    return r.results.filter((a) => !a.meta_hide && webUrl(a.launch_url));
  }

  private item(a: Application) {
    const icon = webUrl(a.meta_icon_url) ? a.meta_icon_url : undefined;
    const link = a.open_in_new_tab
      ? html`<a href=${a.launch_url!} target="_blank" rel="noopener">${a.name}</a>`
      : html`<a href=${a.launch_url!} rel="noopener">${a.name}</a>`;
    return html`<li><div class="ks-app">
      ${icon ? html`<img class="ks-app-icon" src=${icon} alt="" width="32" height="32" />` : nothing}
      <div>${link}${a.meta_description ? html`<br /><span class="ks-muted">${a.meta_description}</span>` : nothing}${
        a.meta_publisher ? html`<br /><span class="ks-muted">${a.meta_publisher}</span>` : nothing
      }</div>
    </div></li>`;
  }

  override render() {
    const apps = this.items ?? [];
    const groups = [...new Set(apps.map((a) => a.group ?? ''))].sort((x, y) => (x === '' ? -1 : y === '' ? 1 : x.localeCompare(y)));
    return this.shell(
      apps.length
        ? html`<div id="ks-applications">
          ${groups.map(
            (g) => html`${g ? html`<h3 class="ks-app-group">${g}</h3>` : nothing}
              <ul class="ks-list">
                ${apps.filter((a) => (a.group ?? '') === g).map((a) => this.item(a))}
              </ul>`,
          )}
        </div>`
        : html`<p>No applications yet.</p>`,
    );
  }
}
customElements.define('ks-applications', Applications);

interface Token {
  identifier: string;
  intent: string;
  description: string;
  expires: string | null;
  expiring: boolean;
  managed: string | null;
}

const INTENTS: Record<string, string> = { api: 'API token', app_password: 'App password' };

/** the person's own API tokens and app passwords (a superuser's list would hold everyone's: filtered by username) */
class Tokens extends ListSection<Token> {
  declare username: string;

  protected async fetchItems() {
    const r = await api<{ results: Token[] }>(`/core/tokens/?page_size=100&user__username=${encodeURIComponent(this.username)}`);
    return r.results.filter((t) => !t.managed && t.intent in INTENTS);
  }

  static override properties = { ...ListSection.properties, username: { type: String }, created: { state: true } };
  declare created: { identifier: string; key: string } | undefined;

  private async create(ev: SubmitEvent) {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const data = new FormData(form);
    const identifier = String(data.get('identifier') ?? '').trim();
    const intent = String(data.get('intent') ?? 'app_password');
    const description = String(data.get('description') ?? '').trim();
    this.created = undefined;
    const ok = await this.writeAndReload(
      () => api('/core/tokens/', 'POST', { identifier, intent, description, expiring: intent === 'app_password' }),
      `${identifier} was created.`,
    );
    if (!ok) return;
    form.reset();
    // the key is shown once, here; the list never shows it
    try {
      const { key } = await api<{ key: string }>(`/core/tokens/${encodeURIComponent(identifier)}/view_key/`);
      this.created = { identifier, key };
    } catch {
      this.status = `${identifier} was created; its key could not be shown.`;
    }
  }

  private createForm() {
    return html`<form class="ks-form" id="ks-token-create" @submit=${(e: SubmitEvent) => this.create(e)}>
      <div class="ks-field"><label for="ks-token-identifier">Name</label>
        <input type="text" id="ks-token-identifier" name="identifier" required pattern="[A-Za-z0-9_.\-]+" autocomplete="off" /></div>
      <div class="ks-field"><label for="ks-token-intent">Kind</label>
        <select id="ks-token-intent" name="intent"><option value="app_password">App password</option><option value="api">API token</option></select></div>
      <div class="ks-field"><label for="ks-token-description">Description</label>
        <input type="text" id="ks-token-description" name="description" autocomplete="off" /></div>
      <button type="submit" class="ks-secondary">Create</button>
    </form>
    ${
      this.created
        ? html`<div class="ks-note ks-secret" role="status" id="ks-token-key">The key of ${this.created.identifier}, shown only now:
            <code>${this.created.key}</code></div>`
        : nothing
    }`;
  }

  override render() {
    const tokens = this.items ?? [];
    return this.shell(
      html`${this.createForm()}${
        tokens.length
          ? html`<ul class="ks-list" id="ks-tokens">
          ${tokens.map(
            (t) => html`<li><div><strong>${t.identifier}</strong> <span class="ks-muted">${INTENTS[t.intent]}</span>
              ${t.description ? html`<br /><span class="ks-muted">${t.description}</span>` : nothing}
              <br /><span class="ks-muted">${t.expiring ? html`Expires ${dateTime(t.expires)}` : 'Does not expire'}</span></div>
              <button type="button" class="ks-secondary" aria-label="Delete the token ${t.identifier}"
                @click=${() => this.deleteAndReload(`/core/tokens/${encodeURIComponent(t.identifier)}/`, `${t.identifier} was deleted.`)}>Delete</button>
            </li>`,
          )}
        </ul>`
          : html`<p>No tokens or app passwords.</p>`
      }`,
    );
  }
}
customElements.define('ks-tokens', Tokens);

interface Consent {
  pk: number;
  expires: string | null;
  expiring: boolean;
  permissions: string;
  application: { name: string } | undefined;
}

/** the consents the person gave applications: withdrawing one asks again at the next login to it */
class Consents extends ListSection<Consent> {
  static override properties = { ...ListSection.properties, user: { type: Number } };
  declare user: number;

  protected async fetchItems() {
    const r = await api<{ results: Consent[] }>(`/core/user_consent/?page_size=100&user=${this.user}`);
    return r.results;
  }

  override render() {
    const consents = this.items ?? [];
    return this.shell(
      consents.length
        ? html`<ul class="ks-list" id="ks-consents">
          ${consents.map((c) => {
            const name = c.application?.name ?? 'An application';
            return html`<li><div><strong>${name}</strong>
              ${c.permissions ? html`<br /><span class="ks-muted">${c.permissions}</span>` : nothing}
              <br /><span class="ks-muted">${c.expiring ? html`Until ${dateTime(c.expires)}` : 'Until withdrawn'}</span></div>
              <button type="button" class="ks-secondary" aria-label="Withdraw the consent given to ${name}"
                @click=${() => this.deleteAndReload(`/core/user_consent/${c.pk}/`, `The consent given to ${name} was withdrawn.`)}>Withdraw</button>
            </li>`;
          })}
        </ul>`
        : html`<p>You have not given any application consent.</p>`,
    );
  }
}
customElements.define('ks-consents', Consents);

interface Connection {
  pk: number;
  source: string;
  source_obj: { pk: string; name: string; slug: string } | null;
  identifier: string;
}

/**
 * The person's connected services: each source they may connect (/sources/all/user_settings/, as its policies decide)
 * with "Connect" — the source's login, which links the identity to them and comes back here — or, once connected,
 * "Disconnect" (their connection deleted: that identity no longer logs them in).
 */
class Sources extends ListSection<{ setting: UserSetting; connection: Connection | undefined }> {
  static override properties = { ...ListSection.properties, user: { type: Number } };
  declare user: number;

  protected async fetchItems() {
    const [settings, connections] = await Promise.all([
      api<UserSetting[]>('/sources/all/user_settings/'),
      api<{ results: Connection[] }>(`/sources/user_connections/all/?page_size=100&user=${this.user}`),
    ]);
    return settings.map((setting) => ({
      setting,
      connection: connections.results.find((c) => c.source_obj?.slug === setting.object_uid),
    }));
  }

  override render() {
    const rows = this.items ?? [];
    const back = `?next=${encodeURIComponent('/if/user/')}`;
    return this.shell(
      rows.length
        ? html`<ul class="ks-list" id="ks-sources">
          ${rows.map(
            ({ setting, connection }) => html`<li data-source=${setting.object_uid}><div><strong>${setting.title}</strong>
              <br /><span class="ks-muted">${connection ? 'Connected' : 'Not connected'}</span></div>
              ${
                connection
                  ? html`<button type="button" class="ks-secondary" aria-label="Disconnect ${setting.title}"
                      @click=${() => this.deleteAndReload(`/sources/user_connections/all/${connection.pk}/`, `${setting.title} was disconnected.`)}>Disconnect</button>`
                  : setting.configure_url
                    ? html`<a class="ks-secondary ks-button-link" aria-label="Connect ${setting.title}" href="${setting.configure_url}${back}">Connect</a>`
                    : nothing
              }
            </li>`,
          )}
        </ul>`
        : html`<p>No services to connect.</p>`,
    );
  }
}
customElements.define('ks-sources', Sources);
