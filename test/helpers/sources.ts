/** An OAuth source on the fake OpenID Connect provider, and a browser's way through it. */
import assert from 'node:assert/strict';
import { call, type TestServer } from './server.js';
import type { CookieJar } from './cookie-jar.js';
import { sessionRow } from './flows.js';
import type { FakeOidc } from './fake-oidc.js';

/** the OpenID Connect source `company` ("Company IdP") on `fake`, with authentik's default source flows; its pk */
export async function companySource(srv: TestServer, fake: FakeOidc, extra: Record<string, unknown> = {}): Promise<string> {
  const flow = async (slug: string) => (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk;
  const made = await call(srv, 'POST', '/sources/oauth/', {
    name: 'Company IdP',
    slug: 'company',
    provider_type: 'openidconnect',
    consumer_key: fake.clientId,
    consumer_secret: fake.clientSecret,
    oidc_well_known_url: `${fake.url}/.well-known/openid-configuration`,
    authentication_flow: await flow('default-source-authentication'),
    enrollment_flow: await flow('default-source-enrollment'),
    ...extra,
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  return made.body.pk;
}

/** a browser's way from Keystage's source login URL through the provider to the callback; what the callback answered */
export async function throughSource(
  srv: TestServer,
  jar: CookieJar,
  loginPath: string,
): Promise<{ status: number; location: string | null; text: string }> {
  let res = await fetch(`${srv.url}${loginPath}`, { headers: jar.headers(), redirect: 'manual' });
  jar.keep(res);
  res = await fetch(res.headers.get('location')!, { redirect: 'manual' });
  res = await fetch(res.headers.get('location')!, { headers: jar.headers(), redirect: 'manual' });
  jar.keep(res);
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}

/** runs the flow a source's callback (or ACS) sent the person to; its final challenge */
export async function runFlow(srv: TestServer, jar: CookieJar, res: Response): Promise<any> {
  assert.equal(res.status, 302, await res.clone().text());
  const m = /^\/if\/flow\/([^/]+)\/$/.exec(res.headers.get('location') ?? '');
  assert.ok(m, res.headers.get('location') ?? '');
  return (await jar.json(`${srv.api}/flows/executor/${m[1]}/?query=`)).body;
}

/** the user the jar's session is logged in as, or null */
export const loggedInAs = async (srv: TestServer, jar: CookieJar) =>
  (await sessionRow(srv, jar.cookies.get('authentik_session')))?.user_id ?? null;

/** a source's user connections, in order */
export const connectionsOf = (srv: TestServer, source: string) =>
  srv.app.store.db.selectFrom('user_source_connections').selectAll().where('source_uuid', '=', source).orderBy('id').execute();

/** the names of the groups a user is a direct member of */
export async function groupNamesOf(srv: TestServer, userId: number): Promise<string[]> {
  const rows = await srv.app.store.db
    .selectFrom('user_groups')
    .innerJoin('groups', 'groups.group_uuid', 'user_groups.group_uuid')
    .select('groups.name')
    .where('user_groups.user_id', '=', userId)
    .orderBy('groups.name')
    .execute();
  return rows.map((g) => g.name);
}

/** every flow's pk by slug (the default flows a source names) */
export async function flowPks(srv: TestServer): Promise<Record<string, string>> {
  const f = await call(srv, 'GET', '/flows/instances/?page_size=200');
  return Object.fromEntries(f.body.results.map((x: { slug: string; pk: string }) => [x.slug, x.pk]));
}

/** the source's button on the default login page (the default identification stage names it) */
export async function onLoginPage(srv: TestServer, sourcePk: string): Promise<void> {
  const ident = (await call(srv, 'GET', '/stages/identification/?name=default-authentication-identification')).body.results[0];
  assert.equal((await call(srv, 'PATCH', `/stages/identification/${ident.pk}/`, { sources: [sourcePk] })).status, 200);
}
