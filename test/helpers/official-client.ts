/**
 * The official client (`@goauthentik/api`) driving the flow executor like a browser: a cookie jar that also keeps
 * Set-Cookie from 302 hops (fetch follows redirects without exposing them, so redirects are followed here, with
 * GET), and the X-authentik-CSRF header the web UI sends.
 */
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { FlowsApi } from '@goauthentik/api/dist/apis/FlowsApi.js';
import { StagesApi } from '@goauthentik/api/dist/apis/StagesApi.js';
import type { TestServer } from './server.js';
import { CookieJar } from './cookie-jar.js';

export class BrowserSession {
  private readonly jar: CookieJar;
  readonly flows: FlowsApi;
  readonly core: CoreApi;
  readonly stages: StagesApi;

  constructor(
    readonly srv: TestServer,
    extraHeaders: Record<string, string> = {},
  ) {
    this.jar = new CookieJar(extraHeaders);
    const cfg = new Configuration({ basePath: srv.api, fetchApi: (input, init) => this.jar.fetch(String(input), init ?? {}) });
    this.flows = new FlowsApi(cfg);
    this.core = new CoreApi(cfg);
    this.stages = new StagesApi(cfg);
  }

  get cookies() {
    return this.jar.cookies;
  }

  /** GET the current challenge (raw JSON, as sent) */
  async get(slug: string, query = ''): Promise<any> {
    return (await this.flows.flowsExecutorGetRaw({ flowSlug: slug, query })).raw.json();
  }

  /**
   * POST a response (raw JSON of the answer after following 302s). Written in the wire's snake_case; the client's
   * models take camelCase and turn it back into snake_case, so keys are converted first.
   */
  async solve(slug: string, response: Record<string, unknown>, query = ''): Promise<any> {
    // a prompt's response is its field keys, which the client sends as given (PromptChallengeResponseRequest is open)
    const body = response.component === 'ak-stage-prompt' ? response : camel(response);
    const r = await this.flows.flowsExecutorSolveRaw({ flowSlug: slug, query, flowChallengeResponseRequest: body as never });
    return r.raw.json();
  }
}

const OPAQUE = new Set(['webauthn', 'passkey', 'challenge', 'response']);

/** snake_case keys → camelCase, recursively (WebAuthn payloads are passed through as they are) */
function camel(v: unknown, key = ''): unknown {
  if (OPAQUE.has(key) || !v || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => camel(x));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), camel(x, k)]));
}
