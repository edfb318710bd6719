/** An SSF provider as its protocol reads it: its settings, its application (whose backchannel provider it is) and streams. */
import type {} from '../table.js';
import type {} from '../../applications/table.js';
import type { DB } from '../../db/index.js';
import type { ApplicationsTable } from '../../applications/table.js';
import type { SsfStreamsTable } from './table.js';

export interface SsfProvider {
  id: number;
  name: string;
  signing_key: string | null;
  token_uuid: string | null;
  event_retention: string;
  push_verify_certificates: boolean;
  /** the application it is a backchannel provider of (none: it has no URLs and sends nothing) */
  application: ApplicationsTable | undefined;
}

const bool = (v: unknown) => v === true || v === 1;

async function load(db: DB, where: { providerId?: number; slug?: string }): Promise<SsfProvider | undefined> {
  let q = db
    .selectFrom('providers as p')
    .innerJoin('provider_ssf as s', 's.provider_id', 'p.id')
    .leftJoin('application_backchannel_providers as b', 'b.provider_id', 'p.id')
    .leftJoin('applications as a', 'a.pbm_uuid', 'b.application')
    .select(['p.id', 'p.name', 's.signing_key', 's.token_uuid', 's.event_retention', 's.push_verify_certificates', 'a.pbm_uuid as app']);
  if (where.providerId !== undefined) q = q.where('p.id', '=', where.providerId);
  if (where.slug !== undefined) q = q.where('a.slug', '=', where.slug);
  const row = await q.orderBy('p.id').executeTakeFirst();
  if (!row) return undefined;
  const application = row.app
    ? ((await db.selectFrom('applications').selectAll().where('pbm_uuid', '=', row.app).executeTakeFirst()) as
        | ApplicationsTable
        | undefined)
    : undefined;
  return {
    id: Number(row.id),
    name: row.name,
    signing_key: row.signing_key,
    token_uuid: row.token_uuid,
    event_retention: row.event_retention,
    push_verify_certificates: bool(row.push_verify_certificates),
    application,
  };
}

/** the SSF provider among an application's backchannel providers (authentik's backchannel_provider_for) */
export const ssfProviderByAppSlug = (db: DB, slug: string) => load(db, { slug });
export const ssfProviderById = (db: DB, id: number) => load(db, { providerId: id });

export type StreamRow = SsfStreamsTable;

export function parseList(text: string): string[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
