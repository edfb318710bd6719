/** The pending user's usable devices per class, and the one-challenge-per-class list the stage offers. */
import { sql, type Compilable } from 'kysely';
import type { DB } from '../../db/index.js';
import { hot, perDatabase } from '../../db/hot.js';
import type { DeviceChallenge } from '../../flows/engine/context.js';
import { drfDate } from '../../rest/serialize.js';
import type { DeviceRow, Validation } from '../../mfa/device-class.js';
import { deviceClassesByApp } from '../../mfa/registry.js';

/** a user's usable devices, by class id */
export type UserDevices = Record<string, DeviceRow[]>;

// which classes the user has a usable device of, in one statement: most users have one or two
const probe = perDatabase((db) =>
  hot<{ user: number }, { cls: string }>(
    db,
    ['user'],
    (p) =>
      deviceClassesByApp
        .map((k) => k.usable(db, p.user).select(sql.lit(k.id).as('cls')))
        .reduce((all, one) => all.unionAll(one)) as Compilable<{ cls: string }>,
  ),
);

/**
 * the user's usable devices of every class (or of the classes `only` names): one statement finds the classes, one per
 * class present loads them
 */
export async function userDevices(db: DB, userId: number, only?: ReadonlySet<string>): Promise<UserDevices> {
  // (`only`: the classes to load — those the stage offered — so no probe is needed)
  const has = only ?? new Set((await probe(db)({ user: userId })).map((r) => r.cls));
  const lists = await Promise.all(deviceClassesByApp.map((k) => (has.has(k.id) ? k.devices(db, userId) : Promise.resolve([]))));
  return Object.fromEntries(deviceClassesByApp.map((k, i) => [k.id, lists[i]!]));
}

/** one challenge per allowed class, in authentik's class order, for classes the user has a device of */
export function deviceChallenges(v: Validation, devices: UserDevices): DeviceChallenge[] {
  const out: DeviceChallenge[] = [];
  for (const k of deviceClassesByApp) {
    if (!v.c.config.device_classes.includes(k.id)) continue;
    const offer = k.challenger.challenge(v, devices[k.id] ?? []);
    if (offer)
      out.push({
        device_class: k.id,
        device_uid: String(offer.device.id),
        challenge: offer.challenge,
        last_used: drfDate(offer.device.last_used),
      });
  }
  return out;
}
