/**
 * What Keystage's TLS listener serves (authentik's router: internal/web/brand_tls): for a connection naming a host
 * (SNI), the `web_certificate` of the brand that host belongs to — among the brands that have one, matched as requests
 * are (src/brands/match.ts: the longest parent domain, else the default brand) — and otherwise a self-signed
 * certificate made when the listener starts.
 *
 * Client certificates are asked for in the handshake only while some brand has `client_certificates` or some mutual
 * TLS stage has certificate authorities, and the request names those authorities, so a browser offers (and asks its
 * user to pick from) only certificates they issued. The handshake accepts any certificate, or none: the mutual TLS
 * stage decides what one is worth (src/stages/mtls/).
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/index.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import { allBrands, matchBrand } from '../../brands/match.js';
import { keyPemOf } from '../../crypto/resource.js';
import { secretsOf } from '../secrets.js';

export interface ServedPair {
  key: string;
  cert: string;
}

/** one pair's certificate and key, kept until the next configuration change */
function pairOf(db: DB, kpUuid: string): Promise<ServedPair | undefined> {
  return cachedAdminData(db, `tls-pair:${kpUuid}`, async () => {
    const row = await db
      .selectFrom('crypto_certificatekeypairs')
      .select(['certificate_data', 'key_data'])
      .where('kp_uuid', '=', kpUuid)
      .executeTakeFirst();
    const key = row ? keyPemOf(secretsOf(db), row) : '';
    return row && key ? { cert: row.certificate_data, key } : undefined;
  });
}

/** the web certificate for a host named in the handshake, if a brand has one for it */
export async function webPairFor(db: DB, servername: string): Promise<ServedPair | undefined> {
  const withCert = (await allBrands(db)).filter((b) => b.web_certificate);
  if (!withCert.length) return undefined;
  const brand = matchBrand(withCert, servername);
  return brand.web_certificate ? pairOf(db, brand.web_certificate) : undefined;
}

/**
 * the certificates of every authority a client certificate may come from: the brands' `client_certificates` and the
 * key pairs stages link to in `stageLinks` (junction tables `(stage_uuid, target)`: the mutual TLS stages'
 * `certificate_authorities`, named by the stage registry's `stageM2mReferences`)
 */
export function clientAuthorities(db: DB, stageLinks: readonly string[]): Promise<string[]> {
  return cachedAdminData(db, 'tls-client-authorities', async () => {
    const linked: string[] = [];
    for (const table of stageLinks)
      for (const r of await (db as unknown as Kysely<any>).selectFrom(table).select('target').execute()) linked.push(String(r.target));
    const ids = new Set([...(await allBrands(db)).flatMap((b) => b.client_certificates), ...linked]);
    if (!ids.size) return [];
    const rows = await db
      .selectFrom('crypto_certificatekeypairs')
      .select('certificate_data')
      .where('kp_uuid', 'in', [...ids])
      .execute();
    return rows.map((r) => r.certificate_data);
  });
}

/** secure contexts by certificate and key, so a handshake reuses the parsed pair */
export class ContextCache {
  private readonly contexts = new Map<string, SecureContext>();

  constructor(private readonly base: { minVersion: 'TLSv1.2' }) {}

  get(pair: ServedPair, ca: string[]): SecureContext {
    const id = `${pair.cert}\0${pair.key}\0${ca.join('\0')}`;
    let ctx = this.contexts.get(id);
    if (!ctx) {
      ctx = createSecureContext({ ...this.base, cert: pair.cert, key: pair.key, ...(ca.length ? { ca } : {}) });
      // pairs are few; a change of configuration makes new ones
      if (this.contexts.size >= 256) this.contexts.clear();
      this.contexts.set(id, ctx);
    }
    return ctx;
  }
}
