/**
 * Making an export (authentik's `DataExport.generate`, a background task there): the rows of the exporter's list that
 * its requester may see, filtered, searched and ordered by the export's query parameters, written as CSV into the
 * export's row, with an `export_ready` event and a notification for the requester in the same transaction.
 *
 * The node that took the request starts it at once; every node looks for exports nobody is making every minute, so an
 * export whose node stopped is made by another. Taking an export is one conditional UPDATE (`claim`): two nodes never
 * make the same one. The rows are chosen once, by their keys in order, then read and written in chunks, yielding to
 * other requests between chunks.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { DB } from '../db/index.js';
import type { Events } from '../events/events.js';
import { storeNotification } from '../events/notifications/send.js';
import { isSuperuser } from '../groups/membership.js';
import { hasGlobal } from '../rbac/check.js';
import { filtered, inOrder, type Query } from '../rest/list.js';
import { csvLine } from './csv.js';
import type { Exporter } from './exporter.js';
import type { DataExportsTable } from './table.js';
import { takeTurn } from '../db/locks.js';

/** how long a node may take to make an export before another node may take it over */
export const CLAIM_MS = 10 * 60_000;
const CHUNK = 500;

export const viewPermission = (label: string) => {
  const [app, model] = label.split('.') as [string, string];
  return `${app}.view_${model}`;
};

/** takes the export if it is not made and nobody is making it; the row when taken */
export async function claim(db: DB, id: string, now = Date.now()): Promise<DataExportsTable | undefined> {
  return db
    .updateTable('data_exports')
    .set({ claimed_until: new Date(now + CLAIM_MS).toISOString() })
    .where('id', '=', id)
    .where('completed', '=', 0)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', new Date(now).toISOString())]))
    .returningAll()
    .executeTakeFirst();
}

const pause = () => new Promise<void>((resolve) => setImmediate(resolve));

/** the CSV of the rows the requester may see (none once they are gone or lost the model's view permission) */
async function csvOf(db: DB, exporter: Exporter, row: DataExportsTable, requester: { id: number } | undefined): Promise<string> {
  const parts = [csvLine(exporter.columns.map((c) => c.label))];
  const subject = requester && { user: requester, superuser: await isSuperuser(db, requester.id) };
  if (!subject || !(await hasGlobal(db, subject, viewPermission(exporter.label)))) return parts.join('');
  const query = JSON.parse(row.query_params) as Query;
  const spec = exporter.list;
  const pkKey = spec.pk.split('.').pop()!;
  const base = exporter.select(db);
  const keyed = await inOrder(
    spec,
    await filtered(db, base.clearSelect().select(sql.ref(spec.pk).as('export_key')), spec, query),
    query,
  ).execute();
  const keys = keyed.map((r) => (r as { export_key: unknown }).export_key);
  for (let i = 0; i < keys.length; i += CHUNK) {
    const chunk = keys.slice(i, i + CHUNK);
    const rows = (await base.where(sql.ref(spec.pk), 'in', chunk).execute()) as Record<string, unknown>[];
    const byKey = new Map(rows.map((r) => [String(r[pkKey]), r]));
    const present = chunk.map((k) => byKey.get(String(k))).filter((r) => r !== undefined);
    for (const rec of await exporter.records(db, present)) parts.push(csvLine(exporter.columns.map((c) => rec[c.key])));
    await pause();
  }
  return parts.join('');
}

export interface ExportDeps {
  db: DB;
  events: Events;
  exporters: readonly Exporter[];
}

/**
 * records an export asked for, unless its requester already has `limit` unfinished (0: no limit); false if refused.
 * Counted and written in one transaction holding the requester's lock (PostgreSQL: an advisory lock, so concurrent
 * requests on any node go one after the other; SQLite's transactions already do).
 */
export async function askExport(db: DB, limit: number, row: DataExportsTable): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    if (row.requested_by !== null && limit > 0) {
      await takeTurn(tx, `keystage:data-exports:${row.requested_by}`);
      const { n } = await tx
        .selectFrom('data_exports')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('requested_by', '=', row.requested_by)
        .where('completed', '=', 0)
        .executeTakeFirstOrThrow();
      if (Number(n) >= limit) return false;
    }
    await tx.insertInto('data_exports').values(row).execute();
    return true;
  });
}

/** makes a claimed export; false when it was deleted (or made) meanwhile */
export async function make(deps: ExportDeps, row: DataExportsTable): Promise<boolean> {
  const { db, events } = deps;
  const exporter = deps.exporters.find((e) => e.label === row.content_type);
  if (!exporter) return false;
  const requester =
    row.requested_by === null
      ? undefined
      : await db.selectFrom('users').select(['id', 'username', 'email']).where('id', '=', row.requested_by).executeTakeFirst();
  const content = await csvOf(db, exporter, row, requester);
  const file = `${exporter.verbosePlural.toLowerCase()}_${row.id}.csv`;
  return db.transaction().execute(async (tx) => {
    const done = await tx
      .updateTable('data_exports')
      .set({ content, file, completed: 1, claimed_until: null })
      .where('id', '=', row.id)
      .where('completed', '=', 0)
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) === 0) return false;
    const message = `${exporter.verbose} export generated successfully`;
    const eventUuid = await events.emit(
      'export_ready',
      {
        user: requester ? { pk: requester.id, username: requester.username, email: requester.email } : null,
        context: { message, export: { app: 'authentik_reports', model_name: 'dataexport', pk: row.id, name: file } },
      },
      tx,
    );
    if (requester)
      await storeNotification(tx, {
        uuid: randomUUID(),
        userId: requester.id,
        severity: 'notice',
        body: message,
        eventUuid,
        hyperlink: fileUrl(file),
        hyperlinkLabel: 'Download',
      });
    return true;
  });
}

/** where a made export's file is served (src/reports/routes.ts: a signed `?token=`, or the requester's session) */
export const fileUrl = (file: string) => `/files/reports/public/${file}`;

/** claims and makes one export; errors leave it for another attempt after the claim runs out */
export async function claimAndMake(deps: ExportDeps, id: string): Promise<boolean> {
  const row = await claim(deps.db, id);
  return row ? make(deps, row) : false;
}

/** the exports nobody is making (the requesting node stopped, or its attempt failed), made one after another */
export async function makePending(deps: ExportDeps): Promise<number> {
  const now = new Date().toISOString();
  const pending = await deps.db
    .selectFrom('data_exports')
    .select('id')
    .where('completed', '=', 0)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
    .orderBy('requested_on')
    .limit(20)
    .execute();
  let made = 0;
  for (const { id } of pending) if (await claimAndMake(deps, id)) made++;
  return made;
}

/** every `everyMs`, on every node (unref'd: never keeps the process alive) */
export function startExportSweeper(deps: ExportDeps, log: (err: unknown) => void, everyMs = 60_000): () => void {
  const timer = setInterval(() => void makePending(deps).catch(log), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
