/**
 * The user write stage at run time (authentik's UserWriteStageView): writes the plan's prompt data to the pending
 * user — else to whoever is logged in — or to a new user, per `user_creation_mode`; no challenge.
 *
 * What prompt data may change: `username`, `name`, `email`, `password` (hashed; the user's other sessions end),
 * `attributes` (a dictionary merged in) and `attributes.a.b` / `attributes_a_b` (one nested attribute, authentik's
 * write_attribute: every `_` is a `.`). Every other key is dropped — `is_active`, `is_superuser`, `groups`, `type`,
 * `path`, `uuid`, `pk` and the rest are never written from what a person typed. The user's row, its group and its
 * password history are written in one transaction. A flow that links a source's identity records the source's name in
 * `attributes["goauthentik.io/user/sources"]`; what a policy put into the plan as `groups`, `user_type` and `user_path`
 * applies (`planned`).
 */
import { hashPassword } from '../../auth/passwords.js';
import { insertUser, setUserPassword } from '../../users/store.js';
import { writePasswordToDirectory } from '../../sources/ldap/password.js';
import { ValidationError } from '../../rest/errors.js';
import { userById } from '../../users/by-id.js';
import { nowIso } from '../../rest/serialize.js';
import { isPlaceholder } from '../../flows/engine/context.js';
import { deny, ok, type Outcome, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import type { UsersTable } from '../../db/types.js';
import type { DB } from '../../db/index.js';
import { USER_TYPES } from '../../users/schema.js';
import type { StageConfig } from '../types.js';
import type { userWriteSchema } from './schema.js';
import { claimInvitation, invitationClaimed, InvitationInvalid } from '../invitation/index.js';

export type UserWriteConfig = StageConfig<typeof userWriteSchema>;

const NO_DATA = 'No Pending data.';
const NO_USER = "No user found and can't create new user.";
const FAILED = 'Failed to update user. Please try again later.';
const INBUILT_BACKEND = 'authentik.core.auth.InbuiltBackend';
const USER_ATTRIBUTE_SOURCES = 'goauthentik.io/user/sources';

/** keys a prompt may write directly on the user */
const USER_FIELDS = new Set(['username', 'name', 'email']);
/** keys never written into attributes either (a prototype is no attribute) */
const UNSAFE_PARTS = new Set(['__proto__', 'prototype', 'constructor']);

class WriteRefused extends Error {}

/** authentik's write_attribute: `attributes.a.b` (or `attributes_a_b`) sets attributes[a][b], making the levels */
export function writeAttribute(attributes: Record<string, unknown>, key: string, value: unknown): void {
  let parts = key.replaceAll('_', '.').split('.');
  if (parts[0] === 'attributes') parts = parts.slice(1);
  if (!parts.length || parts.some((p) => UNSAFE_PARTS.has(p) || p === '')) throw new WriteRefused(`attribute key ${key}`);
  let level = attributes;
  for (const part of parts.slice(0, -1)) {
    const next = Object.hasOwn(level, part) ? level[part] : undefined;
    if (next === undefined) level[part] = {};
    else if (!next || typeof next !== 'object' || Array.isArray(next)) throw new WriteRefused(`attribute ${part} is no dictionary`);
    level = level[part] as Record<string, unknown>;
  }
  level[parts.at(-1)!] = value;
}

interface Changes {
  fields: Record<string, string>;
  attributes: Record<string, unknown>;
  attributesChanged: boolean;
  password?: string;
  dropped: string[];
}

/** what the prompt data changes on `user` (authentik's update_user), checked before anything is written */
function changesOf(data: Record<string, unknown>, current: Record<string, unknown>): Changes {
  const out: Changes = { fields: {}, attributes: structuredClone(current), attributesChanged: false, dropped: [] };
  for (const [key, value] of Object.entries(data)) {
    if (key === 'component') continue;
    if (key === 'password') {
      if (typeof value !== 'string' || value === '') throw new WriteRefused('password');
      out.password = value;
    } else if (USER_FIELDS.has(key)) {
      if (value !== null && typeof value === 'object') throw new WriteRefused(key);
      out.fields[key] = value === null || value === undefined ? '' : String(value);
    } else if (key === 'attributes') {
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new WriteRefused('Attempt to overwrite complete attributes');
      for (const [k, v] of Object.entries(value)) {
        if (UNSAFE_PARTS.has(k)) throw new WriteRefused(`attribute key ${k}`);
        out.attributes[k] = v;
      }
      out.attributesChanged = true;
    } else if (key.startsWith('attributes.') || key.startsWith('attributes_')) {
      writeAttribute(out.attributes, key, value);
      out.attributesChanged = true;
    } else out.dropped.push(key);
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What an expression policy put into the plan for this stage (authentik's PLAN_CONTEXT_GROUPS, _USER_TYPE and
 * _USER_PATH): `user_type` and `user_path` for a user it creates, instead of the stage's; `groups` to add the user to
 * (Group objects, as `request.user.ak_groups.all()` gives them, or group pks). A value of the wrong kind is ignored,
 * as upstream ignores an unknown user type; a group that is not there refuses the write.
 */
function planned(c: StageCall<UserWriteConfig>) {
  const d = c.ctx.policyData ?? {};
  const type = USER_TYPES.find((t) => t === d.user_type);
  const path = typeof d.user_path === 'string' ? d.user_path : undefined;
  let groups: string[] | undefined;
  if (d.groups !== undefined) {
    const list = Array.isArray(d.groups) ? d.groups : [d.groups];
    groups = list.map((g) => {
      const pk = g && typeof g === 'object' ? ((g as Record<string, unknown>).pk ?? (g as Record<string, unknown>).group_uuid) : g;
      if (typeof pk !== 'string' || !UUID.test(pk)) throw new WriteRefused(`groups: ${JSON.stringify(pk)} is no group`);
      return pk.toLowerCase();
    });
  }
  return { type, path, groups };
}

/** the name of the source this flow came from, when it links an identity (authentik's USER_ATTRIBUTE_SOURCES) */
function recordSource(c: StageCall<UserWriteConfig>, changes: Changes): void {
  const name = c.ctx.sourceConnection ? c.ctx.source?.name : undefined;
  if (!name) return;
  const now = changes.attributes[USER_ATTRIBUTE_SOURCES];
  const list = Array.isArray(now) ? now : [];
  if (!list.includes(name)) list.push(name);
  changes.attributes[USER_ATTRIBUTE_SOURCES] = list;
  changes.attributesChanged = true;
}

const masked = (data: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, /pass|token|secret|key/i.test(k) ? '********' : v]));

async function write(c: StageCall<UserWriteConfig>): Promise<Outcome> {
  const data = c.ctx.promptData;
  if (!data) return deny(NO_DATA);
  const cfg = c.config;
  // the pending user, else whoever is logged in (authentik: setdefault(pending_user, request.user))
  const pending = c.ctx.pendingUser;
  let existing: UsersTable | undefined;
  if (cfg.user_creation_mode !== 'always_create') {
    if (pending && isPlaceholder(pending)) return deny(NO_USER);
    existing = await c.pendingUser();
    if (!existing && pending) return deny(NO_USER);
    if (!existing && cfg.user_creation_mode === 'never_create') return deny(NO_USER);
  }

  let changes: Changes;
  let plan: ReturnType<typeof planned>;
  try {
    changes = changesOf(data, existing ? (JSON.parse(existing.attributes || '{}') as Record<string, unknown>) : {});
    recordSource(c, changes);
    plan = planned(c);
  } catch (e) {
    if (!(e instanceof WriteRefused)) throw e;
    c.req.log.warn({ stage: c.stage.name, reason: e.message }, 'user write: prompt data refused');
    return deny(FAILED);
  }
  if (changes.dropped.length) c.req.log.info({ stage: c.stage.name, keys: changes.dropped }, 'user write: keys discarded');
  // never a user without a username
  const username = changes.fields.username ?? existing?.username ?? '';
  if (username === '' || username.length > 150) return deny();
  // a new password of a user from an LDAP directory goes there first (sync_users_password): refused there, not here
  if (existing && changes.password !== undefined)
    try {
      await writePasswordToDirectory(c.svc, existing, changes.password);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      // (authentik's update_user turns the directory's "Failed to set password" into its own message)
      c.req.log.warn({ stage: c.stage.name, reason: e.message }, 'user write: the directory refused the password');
      return deny(FAILED);
    }
  const encoded = changes.password !== undefined ? await hashPassword(changes.password, c.svc.config.argon2) : undefined;

  let id: number;
  let ended: string[] = [];
  try {
    id = await c.svc.db.transaction().execute(async (tx) => {
      // a single-use invitation this flow accepted is used up with this write, or nothing is written
      await claimInvitation(tx, c.ctx);
      const taken = await tx
        .selectFrom('users')
        .select('id')
        .where('username', '=', username)
        .$if(!!existing, (q) => q.where('id', '<>', existing!.id))
        .executeTakeFirst();
      if (taken) throw new WriteRefused('username taken');
      let userId: number;
      if (!existing) {
        const planned = plan.type ?? cfg.user_type;
        const type = planned === 'internal_service_account' ? 'service_account' : planned;
        userId = await insertUser(
          tx,
          {
            ...changes.fields,
            username,
            is_active: !cfg.create_users_as_inactive,
            path: (plan.path ?? c.ctx.userPath ?? cfg.user_path_template) || 'users',
            type,
            attributes: changes.attributes,
          },
          encoded,
        );
      } else {
        const set: Record<string, unknown> = { ...changes.fields, last_updated: nowIso() };
        if (changes.attributesChanged) set.attributes = JSON.stringify(changes.attributes);
        await tx
          .updateTable('users')
          .set(set as never)
          .where('id', '=', existing.id)
          .execute();
        // a person who sets their own password keeps this session; their other sessions end
        if (encoded) ended = await setUserPassword(tx, existing.id, encoded, c.requestUser?.id === existing.id ? c.session.key : undefined);
        userId = existing.id;
      }
      // the stage's group for a user it creates (README: a deliberate difference), the plan's on every write
      const stageGroup = !existing && cfg.create_users_group ? [cfg.create_users_group] : [];
      await joinGroups(tx, userId, [...stageGroup, ...(plan.groups ?? [])]);
      return userId;
    });
  } catch (e) {
    if (e instanceof InvitationInvalid) return deny(e.message);
    if (!(e instanceof WriteRefused) && !isConstraintError(e)) throw e;
    c.req.log.warn({ stage: c.stage.name, reason: (e as Error).message }, 'user write: failed');
    return deny(FAILED);
  }

  invitationClaimed(c.ctx);
  const user = await userById(c.svc.db, id);
  if (!user) return deny(FAILED);
  c.setPendingUser(user);
  if (!existing) c.ctx.userBackend = INBUILT_BACKEND;
  const who = { pk: user.id, username: user.username, email: user.email };
  await c.svc.events.emit('user_write', { user: who, req: c.req, context: { ...masked(data), created: !existing } });
  if (encoded) {
    await c.svc.sessions.endedAll(ended, { userId: user.id, by: c.requestUser?.id === user.id ? 'user' : 'admin' });
    await c.svc.events.emit('password_set', { user: who, req: c.req, context: {} });
    await c.svc.signals.credentialChanged({ userId: user.id, credentialType: 'password', changeType: existing ? 'update' : 'create' });
  }
  return ok();
}

/** `user` in each of `groups` (already a member: left so); a group that is not there refuses the write */
async function joinGroups(tx: DB, user: number, groups: string[]): Promise<void> {
  const wanted = [...new Set(groups)];
  if (!wanted.length) return;
  const there = await tx.selectFrom('groups').select('group_uuid').where('group_uuid', 'in', wanted).execute();
  if (there.length !== wanted.length) throw new WriteRefused('groups: a group is not there');
  await tx
    .insertInto('user_groups')
    .values(wanted.map((group_uuid) => ({ user_id: user, group_uuid })))
    .onConflict((oc) => oc.doNothing())
    .execute();
}

/** a unique or foreign-key constraint refused the write (e.g. a username taken between the check and the insert) */
function isConstraintError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === '23505' || err?.code === '23503' || /^SQLITE_CONSTRAINT/.test(err?.code ?? '');
}

export const userWriteRuntime: StageRuntime<UserWriteConfig> = {
  component: 'ak-stage-user-write',
  withUserInfo: false,
  challenge: write,
  respond: write,
};
