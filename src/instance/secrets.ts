/**
 * Secrets at rest. Every secret Keystage has to read back (TOTP keys, API token keys, stage provider credentials) is
 * stored encrypted with AES-256-GCM under a key derived from the secret key (HKDF-SHA256, one `info` label per
 * purpose), as `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>` with a random 96-bit nonce and the column's
 * name (`table.column`) as additional authenticated data, so a value copied into another column does not decrypt.
 * Lookups by a secret (API tokens, app passwords) go through a keyed hash (HMAC-SHA256 under another derived key).
 *
 * The key id names the secret key a value was encrypted under (8 hex digits derived from it, nothing else): at start,
 * values in clear (no prefix) or under a previous key are re-encrypted under the current one (`sealStoredSecrets`).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../db/index.js';

export const SEALED_PREFIX = 'enc:v1:';
const SALT = Buffer.from('keystage secrets v1', 'utf8');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const derive = (secretKey: string, info: string) =>
  Buffer.from(hkdfSync('sha256', Buffer.from(secretKey, 'utf8'), SALT, Buffer.from(info, 'utf8'), 32));
const keyId = (secretKey: string) => derive(secretKey, 'keystage/key-id').subarray(0, 4).toString('hex');

/** a 32-byte key of its own for one purpose (signing a cookie or a URL: `keystage/cookies/…`), derived from the secret key */
export const purposeKey = (secretKey: string, purpose: string): Uint8Array => new Uint8Array(derive(secretKey, purpose));

/** a stored secret that cannot be decrypted: written under a secret key this process does not have, or altered */
export class SecretUnreadable extends Error {
  constructor(
    readonly field: string,
    readonly keyId: string | undefined,
  ) {
    super(
      keyId
        ? `${field} holds a secret encrypted under another secret key (key id ${keyId}): set KEYSTAGE_SECRET_KEY to that key, or list it in KEYSTAGE_SECRET_KEY_PREVIOUS`
        : `${field} holds a secret that does not decrypt (altered or truncated)`,
    );
  }
}

export class Secrets {
  readonly keyId: string;
  private readonly encKey: Buffer;
  private readonly lookupKey: Buffer;
  /** encryption keys of previous secret keys, by key id: read, never written */
  private readonly previous = new Map<string, Buffer>();

  constructor(secretKey: string, previousKeys: readonly string[] = []) {
    this.keyId = keyId(secretKey);
    this.encKey = derive(secretKey, 'keystage/at-rest/aes-256-gcm');
    this.lookupKey = derive(secretKey, 'keystage/lookup/hmac-sha256');
    for (const k of previousKeys) if (keyId(k) !== this.keyId) this.previous.set(keyId(k), derive(k, 'keystage/at-rest/aes-256-gcm'));
  }

  /** the stored form of `plaintext` for column `field` (`table.column`); an empty value (no secret set) stays empty */
  seal(field: string, plaintext: string): string {
    if (plaintext === '') return '';
    const nonce = randomBytes(NONCE_BYTES);
    const c = createCipheriv('aes-256-gcm', this.encKey, nonce, { authTagLength: TAG_BYTES });
    c.setAAD(Buffer.from(field, 'utf8'));
    const body = Buffer.concat([nonce, c.update(plaintext, 'utf8'), c.final(), c.getAuthTag()]);
    return `${SEALED_PREFIX}${this.keyId}:${body.toString('base64url')}`;
  }

  /**
   * The plaintext of a stored value of column `field`. A value without the prefix is a secret stored in clear by an
   * older version (re-encrypted at the next start) and is returned as is.
   */
  open(field: string, stored: string): string {
    if (!stored.startsWith(SEALED_PREFIX)) return stored;
    const rest = stored.slice(SEALED_PREFIX.length);
    const colon = rest.indexOf(':');
    const kid = colon < 0 ? undefined : rest.slice(0, colon);
    const key = kid === this.keyId ? this.encKey : kid !== undefined ? this.previous.get(kid) : undefined;
    if (!key) throw new SecretUnreadable(field, kid);
    const raw = Buffer.from(rest.slice(colon + 1), 'base64url');
    if (raw.length < NONCE_BYTES + TAG_BYTES) throw new SecretUnreadable(field, undefined);
    try {
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
      d.setAAD(Buffer.from(field, 'utf8'));
      d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([d.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), d.final()]).toString('utf8');
    } catch {
      throw new SecretUnreadable(field, undefined);
    }
  }

  /** whether a stored value is already encrypted under the current secret key (or empty) */
  isCurrent(stored: string): boolean {
    return stored === '' || stored.startsWith(`${SEALED_PREFIX}${this.keyId}:`);
  }

  /** keyed hash for looking a secret up (API token keys): hex HMAC-SHA256 */
  lookupHash(value: string): string {
    return createHmac('sha256', this.lookupKey).update(value, 'utf8').digest('hex');
  }
}

const registry = new WeakMap<object, Secrets>();

/** makes `secrets` the keyring of everything that reads or writes through `db` (server.ts, once at start) */
export function attachSecrets(db: DB, secrets: Secrets): void {
  registry.set(db, secrets);
}

/** the keyring of a database handle (not of a transaction: pass the keyring along into transactions) */
export function secretsOf(db: DB): Secrets {
  const s = registry.get(db);
  if (!s) throw new Error('no secret keyring attached to this database handle');
  return s;
}

/** one column holding secrets: its table, the row's key column, and columns derived from the plaintext */
export interface SecretColumn {
  table: string;
  pk: string;
  column: string;
  /** columns recomputed from the plaintext whenever it is re-encrypted (e.g. the token's lookup hash) */
  derived?: (plaintext: string, secrets: Secrets) => Record<string, string>;
}

/**
 * Encrypts, in one transaction, every value of `columns` not yet encrypted under the current key: values in clear
 * (written by a version before encryption, or by hand) and values under a previous key. Idempotent, and safe when
 * several nodes start together: each row is updated only if it still holds the value that was read.
 * Throws SecretUnreadable (the process should not start) when a value is under a key it was not given.
 */
export async function sealStoredSecrets(db: DB, secrets: Secrets, columns: readonly SecretColumn[]): Promise<number> {
  return db.transaction().execute(async (trx) => {
    // tables and columns named at run time
    const tx = trx as unknown as Kysely<any>;
    let changed = 0;
    for (const c of columns) {
      const field = `${c.table}.${c.column}`;
      const rows: { pk: string | number; value: string | null }[] = await tx
        .selectFrom(c.table)
        .select([`${c.pk} as pk`, `${c.column} as value`])
        .where(c.column, '<>', '')
        .where(c.column, 'not like', `${SEALED_PREFIX}${secrets.keyId}:%`)
        .execute();
      for (const r of rows) {
        if (r.value === null || secrets.isCurrent(r.value)) continue;
        const plain = secrets.open(field, r.value);
        const set = { [c.column]: secrets.seal(field, plain), ...(c.derived?.(plain, secrets) ?? {}) };
        const res = await tx.updateTable(c.table).set(set).where(c.pk, '=', r.pk).where(c.column, '=', r.value).executeTakeFirst();
        changed += Number(res.numUpdatedRows);
      }
    }
    return changed;
  });
}
