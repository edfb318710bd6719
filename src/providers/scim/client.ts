/**
 * Talking to a SCIM service provider (authentik's SCIMClient): requests with the provider's bearer token and SCIM's
 * media type (or, in the `oauth` mode, a token from the provider's OAuth source), answers mapped to typed errors (404 not found, 409 exists, 429/503 transient, others refused), the
 * provider's ServiceProviderConfig (kept for `service_provider_config_cache_timeout`, authentik's defaults when it
 * cannot be read, adjusted by the compatibility mode), and `dry_run` (nothing but reads leave Keystage).
 */
import { Agent, fetch } from 'undici';
import type { Services } from '../../services.js';
import { sourceClientToken } from '../../sources/oauth/source-client.js';
import type { ScimProvider } from './config.js';

export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const REQUEST_TIMEOUT_MS = 30_000;

export class ScimError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: string,
  ) {
    super(message);
  }
}
/** 404: the remote object is gone (a write makes it again) */
export class ScimNotFound extends ScimError {}
/** 409: the remote object exists already (a create links it when the service provider can filter) */
export class ScimExists extends ScimError {}
/** 429 or 503: try again later */
export class ScimTransient extends ScimError {}
/** a write while `dry_run` is on: what would have been sent */
export class ScimDryRun extends ScimError {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly payload: unknown,
  ) {
    super(`Dry-run rejected request: ${method} ${url}`);
  }
}

export interface ServiceProviderConfig {
  patch: boolean;
  filter: boolean;
  /** bulk.maxOperations: PATCH operations per request (0: all in one) */
  maxOperations: number;
  /** authentik's default configuration, the service provider's being unreadable */
  fallback: boolean;
}

const DEFAULT_CONFIG: ServiceProviderConfig = { patch: false, filter: false, maxOperations: 0, fallback: true };
const insecure = new Agent({ connect: { rejectUnauthorized: false } });
const configs = new Map<string, { at: number; config: ServiceProviderConfig }>();

export type Json = Record<string, unknown>;

/** the `oauth` mode's tokens, by provider and settings, while they hold (each node gets its own) */
const oauthTokens = new Map<string, { token: string; until: number }>();

export class ScimClient {
  private config?: ServiceProviderConfig;
  private oauthToken?: string;
  readonly base: string;

  constructor(
    readonly provider: ScimProvider,
    private readonly svc: Services,
    /** sync/object's `override_dry_run` */
    private readonly overrideDryRun = false,
  ) {
    this.base = provider.url.replace(/\/+$/, '');
  }

  /** the bearer token: the provider's, or (mode `oauth`) one from its OAuth source, kept until it expires */
  private async bearer(): Promise<string> {
    const p = this.provider;
    if (p.auth_mode !== 'oauth') return p.token;
    if (this.oauthToken) return this.oauthToken;
    const key = `${p.id}:${p.last_updated}`;
    const kept = oauthTokens.get(key);
    if (kept && kept.until > Date.now()) return (this.oauthToken = kept.token);
    if (!p.auth_oauth) throw new ScimError('Failed to get OAuth token: the provider has no OAuth source');
    const r = await sourceClientToken(this.svc, p.auth_oauth, p.auth_oauth_params);
    if (!r.ok) throw new ScimError(`Failed to get OAuth token: ${r.reason}`);
    const token = String(r.token.access_token);
    const expiresIn = Number(r.token.expires_in ?? 0);
    const now = new Date();
    // (a token without a lifetime serves this pass only, as authentik's)
    for (const k of oauthTokens.keys()) if (k.startsWith(`${p.id}:`)) oauthTokens.delete(k);
    if (expiresIn > 0) oauthTokens.set(key, { token, until: now.getTime() + expiresIn * 1000 - 30_000 });
    await this.svc.db
      .updateTable('scim_sync_state')
      .set({
        oauth_token_last_updated: now.toISOString(),
        oauth_token_expires: new Date(now.getTime() + Math.max(expiresIn, 0) * 1000).toISOString(),
      })
      .where('provider_id', '=', p.id)
      .execute();
    return (this.oauthToken = token);
  }

  async request(method: string, path: string, body?: unknown): Promise<Json> {
    const url = `${this.base}${path}`;
    if (this.provider.dry_run && !this.overrideDryRun && method !== 'GET') throw new ScimDryRun(method, url, body);
    const bearer = await this.bearer();
    let res: Awaited<ReturnType<typeof fetch>>;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          accept: 'application/scim+json',
          ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        redirect: 'manual',
        ...(this.provider.verify_certificates ? {} : { dispatcher: insecure }),
      });
    } catch (e) {
      throw new ScimError(`Failed to send request: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : e}`);
    }
    const text = await res.text();
    // a token the service provider no longer takes: the next request gets a new one
    if (res.status === 401 && this.provider.auth_mode === 'oauth') {
      this.oauthToken = undefined;
      for (const k of oauthTokens.keys()) if (k.startsWith(`${this.provider.id}:`)) oauthTokens.delete(k);
    }
    if (res.status >= 400) {
      const what = `${method} ${path}: ${res.status}`;
      if (res.status === 404) throw new ScimNotFound(what, res.status, text);
      if (res.status === 409) throw new ScimExists(what, res.status, text);
      if (res.status === 429 || res.status === 503) throw new ScimTransient(what, res.status, text);
      throw new ScimError(`Failed to send SCIM request: ${what} ${text.slice(0, 500)}`, res.status, text);
    }
    if (res.status === 204 || text === '') return {};
    try {
      const v = JSON.parse(text) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
    } catch {
      throw new ScimError(`${method} ${path}: the answer is not JSON`, res.status, text);
    }
  }

  /** the service provider's configuration (authentik's get_service_provider_config) */
  async serviceProviderConfig(): Promise<ServiceProviderConfig> {
    if (this.config) return this.config;
    const key = `${this.provider.id}:${this.provider.last_updated}`;
    const kept = configs.get(key);
    if (kept && Date.now() - kept.at < this.provider.spc_cache_ms) return (this.config = kept.config);
    let config: ServiceProviderConfig;
    try {
      const r = await this.request('GET', '/ServiceProviderConfig');
      const part = (k: string) => (r[k] && typeof r[k] === 'object' ? (r[k] as Json) : {});
      config = {
        patch: part('patch').supported === true,
        filter: part('filter').supported === true,
        maxOperations: Math.max(Number(part('bulk').maxOperations) || 0, 0),
        fallback: false,
      };
      if (this.provider.compatibility_mode === 'aws') config.patch = false;
      if (this.provider.compatibility_mode === 'slack') config.filter = true;
    } catch (e) {
      if (e instanceof ScimTransient) throw e;
      config = { ...DEFAULT_CONFIG };
    }
    for (const [k, v] of configs) if (k.startsWith(`${this.provider.id}:`) || Date.now() - v.at > 86_400_000) configs.delete(k);
    if (this.provider.spc_cache_ms > 0) configs.set(key, { at: Date.now(), config });
    return (this.config = config);
  }

  /** PATCH operations on `path`, bulk.maxOperations at a time (authentik's _patch_chunked) */
  async patchChunked(path: string, ops: Json[]): Promise<void> {
    if (!ops.length) return;
    const { maxOperations } = await this.serviceProviderConfig();
    const size = maxOperations > 0 ? maxOperations : ops.length;
    for (let i = 0; i < ops.length; i += size)
      await this.request('PATCH', path, { schemas: [PATCH_OP_SCHEMA], Operations: ops.slice(i, i + size) });
  }

  /** every resource of a list endpoint, page by page (startIndex) */
  async *listAll(path: string): AsyncGenerator<Json> {
    let seen = 0;
    for (let page = 0; page < 10_000; page++) {
      const r = await this.request('GET', seen ? `${path}?startIndex=${seen + 1}` : path);
      const items = Array.isArray(r.Resources) ? (r.Resources as Json[]) : [];
      for (const item of items) yield item;
      seen += items.length;
      if (!items.length || seen >= Number(r.totalResults ?? 0)) return;
    }
  }
}

/** `attr eq "value"` with the value's quotes and backslashes escaped */
export const eqFilter = (attr: string, value: string) => `${attr} eq "${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
