/**
 * A second-factor device class (TOTP, recovery codes, WebAuthn, e-mail, SMS, Duo): everything Keystage knows about
 * one kind of device, behind one interface. Each class lives in its folder under src/mfa/ and is listed once in
 * src/mfa/registry.ts; the validation stage, the device APIs (/authenticators/…), used_by, enrolment events and the
 * secret columns iterate over that list and never name a class.
 *
 * A class's table: its row type is declared in its folder (table.ts, which adds the table to `Database`); the
 * migration that creates it may live anywhere (the original tables keep theirs: 0002_devices and the e-mail/SMS/Duo
 * setup stages' migrations), or in `migrations` here for a new class.
 */
import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { TSchema } from '@sinclair/typebox';
import type { Props } from '../rest/schema.js';
import type { Tx } from '../rest/resource.js';
import type { DB } from '../db/index.js';
import type { Bool, Database, UsersTable } from '../db/types.js';
import type { VersionedMigration } from '../db/ddl.js';
import { hot, perDatabase } from '../db/hot.js';
import type { SecretColumn } from '../instance/secrets.js';
import type { StageCall } from '../flows/engine/runtime.js';
import type { ValidateConfig, ValidateState } from '../stages/authenticator_validate/schema.js';

/** the columns every device table has (authentik's `Device` model) */
export interface DeviceRow {
  id: number;
  user_id: number;
  name: string;
  confirmed: Bool;
  created: string;
  last_updated: string;
  last_used: string | null;
}

/** what a device row starts with while its owner is still enrolling it: unconfirmed, never used */
export const unconfirmedDevice = (now: string) => ({ confirmed: 0, created: now, last_updated: now, last_used: null });

/** the columns of a device whose failed code checks back off (throttle.ts) */
export interface Throttled {
  throttling_failure_timestamp: string | null;
  throttling_failure_count: number;
}

/** a device table: every `*_devices` table a class folder declares in `Database` */
export type DeviceTable = Extract<keyof Database, `${string}_devices`>;

/** what the validation stage hands a class while it checks one user */
export interface Validation {
  c: StageCall<ValidateConfig, ValidateState>;
  user: UsersTable;
}

/**
 * The outcome of a check: the device that answered; or a refusal shown on the answer's field (`failure`: the check
 * counts as a failed MFA attempt, with this reason); undefined when no device of the class matched (a code class:
 * the next class is asked).
 */
export type Verdict<Row> = { device: Row } | { device?: undefined; refused: string; code?: string; failure?: string } | undefined;

/** A class's part in the validation stage (authentik's DeviceChallenger). */
export interface Challenger<Row extends DeviceRow> {
  /**
   * how the person answers: `code` — a typed code, shared by every code class: the stage reserves the check in the
   * lockout records first, then asks each allowed code class in turn; or a response field of the class's own
   * (WebAuthn's `webauthn`, Duo's `duo`), with its schema
   */
  answer: 'code' | { field: string; schema: TSchema };
  /** the challenge the class offers for the user's usable devices (its first one); undefined: nothing offered */
  challenge(v: Validation, devices: Row[]): { device: Row; challenge: Record<string, unknown> } | undefined;
  /** codes are sent to the device and bound to the login attempt (the flow's `sideChannelNonce`, fixed when offered) */
  attemptBound?: boolean;
  /** the person chose device `deviceId` of the class (`selected_challenge`), e.g. send it a code; a message refuses */
  initiate?(v: Validation, devices: Row[], deviceId: number): Promise<string | undefined>;
  /** checks the answer against the user's usable devices of the class */
  verify(v: Validation, devices: Row[], answer: unknown): Promise<Verdict<Row>>;
}

/** what an admin create (a Keystage extension) hands a class */
export interface AdminCreate {
  db: DB;
  /** the common columns of the new device: owner, name, confirmed, dates */
  base: Omit<DeviceRow, 'id'>;
  secretKey: string;
  /** the title of the request's brand (the TOTP issuer) */
  brandTitle: string;
}

/** A class's part in the device APIs (/authenticators/{id}/, /authenticators/admin/{id}/, …/all/, used_by). */
export interface DeviceApi<Row extends DeviceRow> {
  /** `name`'s maximum length (64 unless said) */
  nameMaxLength?: number;
  /** fields of the class's API object beyond name, pk and user */
  props?: Props;
  /** write-only fields an admin create accepts beyond `user_pk` */
  adminProps?: Props;
  /** a user's own list shows unconfirmed devices too */
  listUnconfirmed?: boolean;
  /** the values of `props` for a page of rows */
  render?(db: DB, rows: Row[]): Promise<(row: Row) => Record<string, unknown>>;
  /** admin create: enrols a device and returns its id and the secrets shown once, in that response only */
  create?(tx: Tx, data: Record<string, unknown>, a: AdminCreate): Promise<{ id: number; shownOnce: Record<string, unknown> }>;
  /** without `create`: why an admin cannot create one */
  createRefused?: string;
  /** a `Device` object's extra_description and external_id (/authenticators/all/) */
  describe?(db: DB): Promise<(row: Row) => { extra_description: string | null; external_id: string | null }>;
  /** how used_by names a device (default: "name (username)") */
  usedByName?(row: Pick<Row, 'name'>, user: UsersTable): string;
}

export interface DeviceClass<Row extends DeviceRow = any> {
  /** `device_class` in challenges and the validation stage's choices, and the /authenticators/{id}/ path segment */
  id: string;
  table: DeviceTable;
  /** authentik's identity: app label, model name, verbose name */
  app: string;
  model: string;
  verbose: string;
  /** the user's usable devices as a query (confirmed, and the class's own conditions): one statement probes all classes */
  usable(db: DB, user: unknown): SelectQueryBuilder<any, any, object>;
  /** the user's usable devices, in the order they are offered */
  devices(db: DB, userId: number): Promise<Row[]>;
  challenger: Challenger<Row>;
  api: DeviceApi<Row>;
  /** CAEP's `credential_type` of the class (authentik's SSF device map: pin, fido-u2f, app); null: CAEP has none */
  credentialType?: string | null;
  /** columns stored encrypted (core/secrets.ts) */
  secretColumns?: SecretColumn[];
  /** migrations of a class that brings its own tables (names must not collide: `mfa_<id>_<nnnn>`) */
  migrations?: Record<string, VersionedMigration>;
}

type Definition<Row extends DeviceRow> = Omit<DeviceClass<Row>, 'usable' | 'devices'> & {
  /** how the usable devices are ordered (`id` unless said) */
  order?: 'id' | 'name';
  /** conditions beyond `confirmed` that make a device usable */
  where?: (q: SelectQueryBuilder<any, any, object>) => SelectQueryBuilder<any, any, object>;
};

/** a class from its definition: `usable` and `devices` come from its table, ordering and conditions */
export function defineDeviceClass<Row extends DeviceRow>(def: Definition<Row>): DeviceClass<Row> {
  const { order = 'id', where, ...rest } = def;
  const usable = (db: DB, user: unknown) => {
    const q = (db as unknown as Kysely<any>).selectFrom(def.table).where('user_id', '=', user).where('confirmed', '=', 1);
    return where ? where(q) : q;
  };
  const load = perDatabase((db) => hot<{ user: number }, Row>(db, ['user'], (p) => usable(db, p.user).selectAll().orderBy(order)));
  return { ...rest, usable, devices: (db, userId) => load(db)({ user: userId }) };
}
