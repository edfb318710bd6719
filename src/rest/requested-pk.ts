/**
 * The primary key a new object should get when its creator asks for one: a blueprint entry naming `pk` makes its
 * object with that pk, as authentik's importer does, so applying a file again finds it. A resource's insert takes its
 * pk from `newPk()`, which gives the requested pk once (to the first object made) and random UUIDs otherwise.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { isUuid, normalizeUuid } from './validate.js';

const requested = new AsyncLocalStorage<{ pk: string | undefined }>();

/** runs `fn` with `pk` (when it is a UUID) as the pk of the first object it makes */
export function withRequestedPk<T>(pk: unknown, fn: () => Promise<T>): Promise<T> {
  return typeof pk === 'string' && isUuid(pk) ? requested.run({ pk: normalizeUuid(pk) }, fn) : fn();
}

export function newPk(): string {
  const r = requested.getStore();
  if (r?.pk) {
    const pk = r.pk;
    r.pk = undefined;
    return pk;
  }
  return randomUUID();
}
