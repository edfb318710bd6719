import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely, Migration } from 'kysely';
import type { Dialect } from './types.js';

/** A versioned migration that may need to know which dialect it runs on. */
export type VersionedMigration = (dialect: Dialect) => Migration;

type Col = 'uuid' | 'text' | 'bool' | 'int' | 'float' | 'json' | 'datetime';
type Ref = { table: string; column: string; onDelete: 'cascade' | 'set null' };
export type ColumnSpec = Col | { type: Col; notNull?: boolean; unique?: boolean; ref?: Ref };

function sqlType(c: Col, dialect: Dialect) {
  switch (c) {
    case 'bool':
    case 'int':
      return 'integer' as const;
    case 'float':
      return dialect === 'postgres' ? ('double precision' as const) : ('real' as const);
    default:
      return 'text' as const;
  }
}

/**
 * Adds columns in a compact notation: a bare type is NOT NULL; objects may make it nullable, unique or a foreign key.
 * Booleans are 0/1 integers, JSON and datetimes are text, in both dialects, so one query layer serves both.
 */
export function addColumns<T extends string, C extends string>(
  tb: CreateTableBuilder<T, C>,
  dialect: Dialect,
  cols: Record<string, ColumnSpec>,
): CreateTableBuilder<T, C> {
  let b = tb as CreateTableBuilder<T, any>;
  for (const [name, spec] of Object.entries(cols)) {
    const s = typeof spec === 'string' ? { type: spec, notNull: true } : spec;
    b = b.addColumn(name, sqlType(s.type, dialect), (c: ColumnDefinitionBuilder) => {
      let cb = c;
      if (s.notNull) cb = cb.notNull();
      if (s.unique) cb = cb.unique();
      if (s.ref) cb = cb.references(`${s.ref.table}.${s.ref.column}`).onDelete(s.ref.onDelete);
      return cb;
    });
  }
  return b as CreateTableBuilder<T, C>;
}

/** `CREATE TABLE stage_<x>` keyed by the base stage row, deleted with it. */
export function createStageTable(db: Kysely<any>, dialect: Dialect, table: string, cols: Record<string, ColumnSpec>) {
  const tb = db.schema
    .createTable(table)
    .addColumn('stage_uuid', 'text', (c) => c.primaryKey().references('stages.stage_uuid').onDelete('cascade'));
  return addColumns(tb, dialect, cols).execute();
}

export const fk = (table: string, column: string, onDelete: Ref['onDelete'] = 'set null'): ColumnSpec => ({
  type: 'uuid',
  ref: { table, column, onDelete },
});

/** `CREATE TABLE name (id … PRIMARY KEY auto-increment)` in either dialect; add the other columns with addColumns */
export function tableWithAutoId(db: Kysely<any>, dialect: Dialect, name: string) {
  return dialect === 'postgres'
    ? db.schema.createTable(name).addColumn('id', 'serial', (c) => c.primaryKey())
    : db.schema.createTable(name).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

/** an ordered list of references from a stage to other rows: (stage_uuid, target, position), deleted with either side */
export function createJunctionTable(db: Kysely<any>, table: string, target: { table: string; column: string }) {
  return db.schema
    .createTable(table)
    .addColumn('stage_uuid', 'text', (c) => c.notNull().references('stages.stage_uuid').onDelete('cascade'))
    .addColumn('target', 'text', (c) => c.notNull().references(`${target.table}.${target.column}`).onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint(`${table}_pk`, ['stage_uuid', 'target'])
    .execute();
}

/** the columns every MFA device of a stage-configured class has: owner, the stage that enrolled it, state */
export const stageDeviceColumns = (onStageDelete: Ref['onDelete']): Record<string, ColumnSpec> => ({
  user_id: { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
  stage: { type: 'uuid', ref: { table: 'stages', column: 'stage_uuid', onDelete: onStageDelete } },
  name: 'text',
  confirmed: 'bool',
  created: 'datetime',
  last_updated: 'datetime',
  last_used: { type: 'datetime' },
});

/** a side-channel (e-mail/SMS) device table: common device columns, throttling, the hashed current code */
export async function createSideChannelDeviceTable(db: Kysely<any>, dialect: Dialect, table: string, address: string) {
  await addColumns(tableWithAutoId(db, dialect, table), dialect, {
    ...stageDeviceColumns('set null'),
    throttling_failure_timestamp: { type: 'datetime' },
    throttling_failure_count: 'int',
    token_hash: { type: 'text' },
    valid_until: { type: 'datetime' },
    [address]: 'text',
  }).execute();
  await db.schema.createIndex(`${table}_user`).on(table).column('user_id').execute();
}
