/**
 * A column of another table that references a resource's rows (a provider's `signing_key` → a key pair, an SMS
 * stage's `mapping` → a webhook mapping): what the referenced resource's `used_by` lists and, as authentik's
 * `on_delete`, what deleting one of its rows does to the referencing rows (set to null, or deleted). The owner of
 * the referencing column describes it; the referenced resource is given the list, so it imports nothing of theirs.
 */
import { type Kysely, sql } from 'kysely';
import type { DB } from '../db/index.js';
import type { UsedBy } from './resource.js';

export interface ColumnReference {
  table: string;
  column: string;
  /** the referencing row's key and display name columns */
  pk: string;
  name: string;
  /**
   * when the display name lives in another table (a provider type's settings row → `providers.name`): that table,
   * joined on its `key` = `pk`; with `cascade`, deleting the referenced row deletes that owner row
   */
  nameFrom?: { table: string; key: string };
  /** when the display name is not one column (a flow's "Flow name (slug)"): the columns it is made of, and how */
  label?: { columns: string[]; show: (row: Record<string, unknown>) => string };
  app: string;
  model_name: string;
  /**
   * `left_dangling`: nothing is done to the row (a name of an uploaded file in an image field: the field keeps it);
   * `cascade_many`: the row is a link of a many-to-many relation (deleted with the referenced row; its owner stays);
   * `set_null_disable`: set to null as `set_null`, and the owner (`nameFrom`, a source) disabled — for a reference
   * whose loss would otherwise turn a check off (a SAML source's verification certificate: fail closed)
   */
  action: 'set_null' | 'cascade' | 'cascade_many' | 'set_null_disable' | 'left_dangling';
}

/** `used_by` entries of the rows whose referencing columns hold `id` */
export async function referencesUsedBy(db: DB, references: ColumnReference[], id: string): Promise<UsedBy[]> {
  const out: UsedBy[] = [];
  const d = db as unknown as Kysely<any>;
  for (const ref of references) {
    const from = ref.nameFrom;
    const rows = await (from
      ? d.selectFrom(`${ref.table} as r`).innerJoin(`${from.table} as n`, `n.${from.key}`, `r.${ref.pk}`)
      : d.selectFrom(`${ref.table} as r`)
    )
      .select([sql<string>`${sql.ref(`r.${ref.pk}`)}`.as('pk'), sql<string>`${sql.ref(`${from ? 'n' : 'r'}.${ref.name}`)}`.as('name')])
      .$if(ref.label !== undefined, (q) => q.select((ref.label?.columns ?? []).map((c) => sql.ref(`r.${c}`).as(c))))
      .where(`r.${ref.column}`, '=', id)
      .execute();
    for (const r of rows)
      out.push({
        app: ref.app,
        model_name: ref.model_name,
        pk: String(r.pk),
        name: ref.label ? ref.label.show(r) : String(r.name),
        action: ref.action === 'set_null_disable' ? 'set_null' : ref.action,
      });
  }
  return out;
}

/** before `id` is deleted, in its transaction: referencing columns set to null, or their rows deleted */
export async function releaseReferences(tx: DB, references: ColumnReference[], id: string): Promise<void> {
  const t = tx as unknown as Kysely<any>;
  for (const ref of references) {
    if (ref.action === 'left_dangling') continue;
    if (ref.action === 'cascade' && ref.nameFrom) {
      // the referencing row is part of an owner (a stage's settings row of its `stages` row): the owner goes, and
      // the row with it (authentik's CASCADE deletes the model, whose base row is the owner here)
      const owners = t.selectFrom(ref.table).select(ref.pk).where(ref.column, '=', id);
      await t.deleteFrom(ref.nameFrom.table).where(ref.nameFrom.key, 'in', owners).execute();
    } else if (ref.action === 'set_null_disable' && ref.nameFrom) {
      const owners = t.selectFrom(ref.table).select(ref.pk).where(ref.column, '=', id);
      await t.updateTable(ref.nameFrom.table).set({ enabled: 0 }).where(ref.nameFrom.key, 'in', owners).execute();
      await t
        .updateTable(ref.table)
        .set({ [ref.column]: null })
        .where(ref.column, '=', id)
        .execute();
    } else if (ref.action === 'cascade' || ref.action === 'cascade_many')
      await t.deleteFrom(ref.table).where(ref.column, '=', id).execute();
    else
      await t
        .updateTable(ref.table)
        .set({ [ref.column]: null })
        .where(ref.column, '=', id)
        .execute();
  }
}
