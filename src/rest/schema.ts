/**
 * Schema helpers: TypeBox schemas carry a few extra keywords that drive DRF-compatible validation (validate.ts),
 * serialization (serialize.ts) and the OpenAPI document (openapi.ts) from one definition.
 *
 *   readOnly / writeOnly   – response-only / request-only fields
 *   default                – value stored when the key is omitted on create
 *   nullable               – null accepted and emitted (OpenAPI 3.0 style)
 *   x-ref                  – foreign key: { table, column, model?, kind? } checked for existence
 *   x-m2m                  – list of primary keys: same reference shape
 *   x-duration             – authentik timedelta string
 *   x-slug                 – slug validation message flavour: 'django' (curly quotes) or 'drf' (straight quotes)
 *   x-unique               – { table, column, message } uniqueness check (excluding the object itself)
 *   x-allow-empty          – for arrays: [] accepted (default: accepted)
 *   x-json                 – stored as JSON text
 *   x-no-trim              – strings kept as sent (secrets)
 *   x-null-as              – value stored when a client sends null for a non-nullable field
 *   x-emit-string          – stored as a number, emitted as a string (TOTP digits)
 */
import { Type, type Static, type TSchema, type TUnsafe, type SchemaOptions } from '@sinclair/typebox';

export interface Ref {
  table: string;
  column: string;
  /** restrict to stages of this kind (stage FK) */
  kind?: string;
  /** integer primary key (users) instead of a UUID */
  int?: boolean;
}

export interface Unique {
  table: string;
  column: string;
  message: string;
  /** the table's key column, excluded from the check on update; the resource's stored row carries it under this name */
  self: string;
}

type Opts = SchemaOptions & Record<string, unknown>;

export const S = {
  str: (o: Opts = {}) => Type.String({ minLength: 1, ...o }),
  /** a string where "" is allowed */
  text: (o: Opts = {}) => Type.String(o),
  bool: (o: Opts = {}) => Type.Boolean(o),
  int: (o: Opts = {}) => Type.Integer({ minimum: -2147483648, maximum: 2147483647, ...o }),
  float: (o: Opts = {}) => Type.Number({ format: 'double', ...o }),
  uuid: (o: Opts = {}) => Type.String({ format: 'uuid', ...o }),
  datetime: (o: Opts = {}) => Type.String({ format: 'date-time', ...o }),
  enumOf: <T extends string>(values: readonly T[], o: Opts = {}) => Type.Unsafe<T>({ type: 'string', enum: [...values], ...o }),
  /** nullable foreign key to another object */
  fk: (ref: Ref, o: Opts = {}) => Type.Unsafe<string | null>({ type: 'string', format: 'uuid', nullable: true, 'x-ref': ref, ...o }),
  /** foreign key to an integer primary key */
  intFk: (ref: Ref, o: Opts = {}) => Type.Unsafe<number | null>({ type: 'integer', 'x-ref': { ...ref, int: true }, ...o }),
  /** list of primary keys */
  m2m: (ref: Ref, o: Opts = {}) => Type.Array(Type.String({ format: 'uuid' }), { 'x-m2m': ref, 'x-json': true, ...o }),
  list: <T extends TSchema>(items: T, o: Opts = {}) => Type.Array(items, { 'x-json': true, ...o }),
  duration: (o: Opts = {}) => Type.String({ minLength: 1, 'x-duration': true, ...o }),
  obj: (o: Opts = {}) => Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: {}, 'x-json': true, ...o }),
  ro: <T extends TSchema>(t: T): T => ({ ...t, readOnly: true }),
  wo: <T extends TSchema>(t: T): T => ({ ...t, writeOnly: true }),
  /** null accepted and emitted besides the schema's values (its static type says so too) */
  nullable: <T extends TSchema>(t: T): TUnsafe<Static<T> | null> => ({ ...t, nullable: true }) as unknown as TUnsafe<Static<T> | null>,
};

export const SLUG_PATTERN = '^[-a-zA-Z0-9_]+$';

export type Props = Record<string, TSchema>;

/** keys a client may send */
export function writableKeys(props: Props): string[] {
  return Object.keys(props).filter((k) => !props[k]!.readOnly);
}

/** keys emitted in responses */
export function readableKeys(props: Props): string[] {
  return Object.keys(props).filter((k) => !props[k]!.writeOnly);
}
