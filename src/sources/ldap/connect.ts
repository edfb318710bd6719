/**
 * A bound connection to an LDAP source's directory (authentik's LDAPSource.server/connection), on `ldapts`.
 *
 * `server_uri` may list several servers, comma-separated: they are tried in random order until one answers
 * (ldap3's ServerPool with RANDOM and exhaust). TLS as authentik sets it up: `ldaps://` from the first byte or
 * StartTLS on `ldap://` when `start_tls` is set; the server's certificate is verified against the peer certificate
 * key pair's chain (and its name against the server's) when one is set — and, as in authentik, not verified when none
 * is —; a client certificate key pair
 * is presented when set; `sni` sends the first server's host name as the TLS server name. 15 s timeouts (authentik's
 * LDAP_TIMEOUT).
 */
import type { ConnectionOptions } from 'node:tls';
import { Client, InvalidCredentialsError } from 'ldapts';
import type { DB } from '../../db/index.js';
import { secretsOf } from '../../instance/secrets.js';
import { keyPemOf } from '../../crypto/resource.js';
import type { LdapSourcesTable } from './table.js';

export const LDAP_TIMEOUT_MS = 15_000;
export const BIND_PASSWORD_FIELD = 'ldap_sources.bind_password';

export type LdapSettings = Pick<
  LdapSourcesTable,
  'server_uri' | 'peer_certificate' | 'client_certificate' | 'bind_cn' | 'bind_password' | 'start_tls' | 'sni'
>;

/** the servers of `server_uri`, in the order written */
export const serversOf = (serverUri: string) =>
  serverUri
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** the host of an ldap:// URI (ldap3's Server.host): the key of a connectivity check's answer */
export function hostOf(uri: string): string {
  try {
    return new URL(uri).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return uri;
  }
}

async function tlsOptions(db: DB, s: LdapSettings): Promise<ConnectionOptions> {
  const o: ConnectionOptions = { rejectUnauthorized: false, minVersion: 'TLSv1.2' };
  const pairs = [s.peer_certificate, s.client_certificate].filter((x): x is string => !!x);
  const rows = pairs.length ? await db.selectFrom('crypto_certificatekeypairs').selectAll().where('kp_uuid', 'in', pairs).execute() : [];
  const peer = rows.find((r) => r.kp_uuid === s.peer_certificate);
  if (peer) {
    o.ca = peer.certificate_data;
    o.rejectUnauthorized = true;
  }
  const client = rows.find((r) => r.kp_uuid === s.client_certificate);
  if (client) {
    o.cert = client.certificate_data;
    o.key = keyPemOf(secretsOf(db), client);
  }
  const first = serversOf(s.server_uri)[0];
  if (s.sni && first) o.servername = hostOf(first);
  return o;
}

/** the service account's password, opened */
export const bindPasswordOf = (db: DB, s: Pick<LdapSettings, 'bind_password'>) =>
  s.bind_password ? secretsOf(db).open(BIND_PASSWORD_FIELD, s.bind_password) : '';

export interface Bound {
  client: Client;
  /** the server that answered */
  uri: string;
  close(): Promise<void>;
}

/** a connection to one server, bound as `as` (the source's service account unless given) */
export async function connectTo(
  db: DB,
  s: LdapSettings,
  uri: string,
  as?: { dn: string; password: string },
  tls?: ConnectionOptions,
): Promise<Bound> {
  const opts = tls ?? (await tlsOptions(db, s));
  // (ldapts speaks TLS from the first byte whenever it is given TLS options: only for ldaps://)
  const secure = uri.toLowerCase().startsWith('ldaps://');
  const client = new Client({
    url: uri,
    timeout: LDAP_TIMEOUT_MS,
    connectTimeout: LDAP_TIMEOUT_MS,
    ...(secure ? { tlsOptions: opts } : {}),
    strictDN: false,
  });
  const close = () => client.unbind().catch(() => undefined);
  try {
    if (s.start_tls && !secure) await client.startTLS(opts);
    const dn = as ? as.dn : s.bind_cn;
    const password = as ? as.password : bindPasswordOf(db, s);
    // (an empty password would be an unauthenticated bind, which servers accept for any DN: never a login)
    if (as && !password) throw new InvalidCredentialsError('empty password');
    if (dn || password) await client.bind(dn, password);
    return { client, uri, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** a connection to the first of the source's servers (in random order) that answers */
export async function connect(db: DB, s: LdapSettings, as?: { dn: string; password: string }): Promise<Bound> {
  const servers = serversOf(s.server_uri);
  for (let i = servers.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [servers[i], servers[j]] = [servers[j]!, servers[i]!];
  }
  const tls = await tlsOptions(db, s);
  let last: unknown = new Error('no server');
  for (const uri of servers) {
    try {
      return await connectTo(db, s, uri, as, tls);
    } catch (e) {
      // wrong credentials are the directory's answer, not a server down: the next server would say the same
      if (e instanceof InvalidCredentialsError) throw e;
      last = e;
    }
  }
  throw last;
}

/** runs `fn` on a bound connection and closes it */
export async function withConnection<T>(db: DB, s: LdapSettings, fn: (b: Bound) => Promise<T>): Promise<T> {
  const b = await connect(db, s);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/** the first value of an attribute (authentik's `flatten`) */
export function flatten(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v[0] : null;
  return v;
}

/** an attribute value as JSON-able text (binary values as their bytes' text, as ldap3 decodes them) */
export function textOf(v: string | Buffer | (string | Buffer)[]): string | string[] {
  if (Array.isArray(v)) return v.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : x));
  return Buffer.isBuffer(v) ? v.toString('utf8') : v;
}

/** the root DSE's vendor and version (ldap3's server.info), what a connectivity check reports */
export async function serverInfo(client: Client): Promise<{ vendor: string; version: string; capabilities: string[] }> {
  const { searchEntries } = await client.search('', {
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: ['vendorName', 'vendorVersion', 'supportedCapabilities'],
  });
  const e = searchEntries[0] ?? { dn: '' };
  const one = (k: string) => {
    const v = e[k];
    return v === undefined ? 'None' : String(flatten(textOf(v as string)));
  };
  const caps = e.supportedCapabilities === undefined ? [] : [textOf(e.supportedCapabilities as string)].flat();
  return { vendor: one('vendorName'), version: one('vendorVersion'), capabilities: caps };
}

/** Active Directory says so in its root DSE (LDAP_CAP_ACTIVE_DIRECTORY_OID) */
export const AD_CAPABILITY = '1.2.840.113556.1.4.800';
