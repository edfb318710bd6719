/**
 * Reputation scores (authentik's reputation signals): every failed login lowers the score of (identifier, client
 * IP) by one, every successful login raises the user's by one, within the configured limits. Reputation policies
 * (src/policies/reputation/) sum them.
 *
 * One statement per change: an upsert on (identifier, ip) whose update adds to the stored score and clamps it, so
 * concurrent logins on any number of nodes never lose an update (SQLite serialises writers; PostgreSQL's
 * ON CONFLICT DO UPDATE locks the row). As authentik, a row keeps the expiry set when it was created.
 */
import { systemSettings } from '../instance/system-settings/store.js';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { hot, perDatabase } from '../db/hot.js';
import type { DB } from '../db/index.js';
import type { ReputationConfig } from '../config.js';
import type { GeoIP } from '../geoip/databases.js';

export interface ReputationScoresTable {
  reputation_uuid: string;
  identifier: string;
  ip: string;
  ip_geo_data: string;
  ip_asn_data: string;
  score: number | string;
  updated: string;
  expires: string | null;
  expiring: number | boolean;
}

declare module '../db/types.js' {
  interface Database {
    reputation_scores: ReputationScoresTable;
  }
}

type Params = {
  uuid: string;
  identifier: string;
  ip: string;
  amount: number;
  lower: number;
  upper: number;
  now: string;
  expires: string;
  geo: string;
  asn: string;
};

const upserts = perDatabase((db) =>
  hot<Params, unknown>(db, ['uuid', 'identifier', 'ip', 'amount', 'lower', 'upper', 'now', 'expires', 'geo', 'asn'], (p) => {
    // typed, so PostgreSQL compares numbers (an untyped parameter would be text)
    const amount = sql<number>`CAST(${p.amount} AS integer)`;
    const lower = sql<number>`CAST(${p.lower} AS integer)`;
    const upper = sql<number>`CAST(${p.upper} AS integer)`;
    const sum = sql<number>`reputation_scores.score + ${amount}`;
    return db
      .insertInto('reputation_scores')
      .values({
        reputation_uuid: p.uuid,
        identifier: p.identifier,
        ip: p.ip,
        // (where the address was when the score was first kept, as authentik's get_or_create defaults)
        ip_geo_data: p.geo,
        ip_asn_data: p.asn,
        // the first change is clamped too (authentik clamps the amount)
        score: sql<number>`CASE WHEN ${amount} > ${upper} THEN ${upper} WHEN ${amount} < ${lower} THEN ${lower} ELSE ${amount} END`,
        updated: p.now,
        expires: p.expires,
        expiring: 1,
      })
      .onConflict((oc) =>
        oc.columns(['identifier', 'ip']).doUpdateSet({
          score: sql<number>`CASE WHEN ${sum} > ${upper} THEN ${upper} WHEN ${sum} < ${lower} THEN ${lower} ELSE ${sum} END`,
          updated: p.now,
        }),
      );
  }),
);

/**
 * Changes the score of `identifier` from `ip` by `amount` (-1 for a failure, +1 for a login): one statement (in
 * `trx`, a transaction of `db`, when given).
 */
export async function updateReputation(
  db: DB,
  cfg: ReputationConfig,
  ip: string,
  identifier: string,
  amount: number,
  trx?: DB,
  /** the databases that say where `ip` is (authentik's ip_geo_data and ip_asn_data); undefined: `{}` */
  geoip?: GeoIP,
): Promise<void> {
  const now = Date.now();
  await upserts(db)(
    {
      uuid: randomUUID(),
      identifier,
      ip,
      amount,
      lower: cfg.lowerLimit,
      upper: cfg.upperLimit,
      now: new Date(now).toISOString(),
      expires: new Date(now + cfg.expirySeconds * 1000).toISOString(),
      geo: JSON.stringify(geoip?.city(ip) ?? {}),
      asn: JSON.stringify(geoip?.asn(ip) ?? {}),
    },
    trx,
  );
}

/**
 * A failed check's reputation change (authentik's login_failed and identification_failed signals): -1 for
 * (identifier, ip), with the limits in effect and where the address is
 */
export async function lowerReputation(
  svc: { db: DB; config: { reputation: ReputationConfig }; geoip: GeoIP },
  ip: string,
  identifier: string,
): Promise<void> {
  await updateReputation(svc.db, await reputationSettings(svc.db, svc.config.reputation), ip, identifier, -1, undefined, svc.geoip);
}

/** the reputation settings in effect: the limits are system settings (`/admin/settings/`), the expiry configuration */
export async function reputationSettings(db: DB, cfg: ReputationConfig): Promise<ReputationConfig> {
  const s = await systemSettings(db);
  return { lowerLimit: s.reputation_lower_limit, upperLimit: s.reputation_upper_limit, expirySeconds: cfg.expirySeconds };
}

/** deletes expired scores (authentik's clean_expired_models); returns how many */
export async function purgeExpiredReputation(db: DB): Promise<number> {
  const r = await db
    .deleteFrom('reputation_scores')
    .where('expiring', '=', 1)
    .where('expires', '<', new Date().toISOString())
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
