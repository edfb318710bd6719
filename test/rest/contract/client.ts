/** The official client, configured for a test server, and a helper to read the raw JSON of a `…Raw` call. */
import { AdminApi } from '@goauthentik/api/dist/apis/AdminApi.js';
import { Configuration, ResponseError } from '@goauthentik/api/dist/runtime.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { FlowsApi } from '@goauthentik/api/dist/apis/FlowsApi.js';
import { RootApi } from '@goauthentik/api/dist/apis/RootApi.js';
import { SchemaApi } from '@goauthentik/api/dist/apis/SchemaApi.js';
import { StagesApi } from '@goauthentik/api/dist/apis/StagesApi.js';
import type { TestServer } from '../../helpers/server.js';

export function clients(srv: TestServer, token = srv.token) {
  const cfg = new Configuration({ basePath: srv.api, accessToken: token });
  return {
    flows: new FlowsApi(cfg),
    stages: new StagesApi(cfg),
    core: new CoreApi(cfg),
    root: new RootApi(cfg),
    admin: new AdminApi(cfg),
    schema: new SchemaApi(cfg),
  };
}

/** the response body as sent (the client's FromJSON would rename and drop keys) */
export async function body(p: Promise<{ raw: Response }>): Promise<any> {
  const r = await p;
  return r.raw.json();
}

export async function status(p: Promise<{ raw: Response }>): Promise<number> {
  return (await p).raw.status;
}

/** the status and JSON body of a call the client rejected */
export async function failure(p: Promise<unknown>): Promise<{ status: number; body: any }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ResponseError) {
      const text = await e.response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* HTML 404 */
      }
      return { status: e.response.status, body: parsed };
    }
    throw e;
  }
  throw new Error('the call succeeded');
}
