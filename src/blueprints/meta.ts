/**
 * authentik's blueprint meta models besides `metaapplyblueprint` (importer.ts): entries that act instead of
 * describing an object.
 *
 * `authentik_blueprints.metausersetpassword` (`attrs: { user_identifiers, raw_password, set_unusable }`): sets the
 * password of the user the identifiers find (through the users list's filters), or makes it unusable — hashed and
 * recorded as the API's `set_password` does (history, change date, the user's sessions ended). The caller needs
 * `authentik_core.reset_user_password` (superusers have it; a superuser's password only by a superuser). A user
 * whose password an LDAP directory keeps (`sync_users_password`) is refused: the directory is written through the
 * API's `set_password`, never from inside an import's transaction.
 */
import { hashPassword } from '../auth/passwords.js';
import { hasGlobal } from '../rbac/check.js';
import { guardTargetUser } from '../rbac/guards.js';
import { Forbidden } from '../rest/errors.js';
import type { Services } from '../services.js';
import { passwordDirectories } from '../sources/ldap/password.js';
import { markPasswordUnusable, setUserPassword } from '../users/store.js';
import { eventUserOf } from '../users/impersonation.js';
import type { MetaModel } from './importer.js';
import { EntryInvalid, isMap } from './tags.js';

const USER = 'authentik_core.user';

function userSetPassword(svc: Services): MetaModel {
  return async ({ tx, attrs, caller, find, log, afterCommit, req }) => {
    const ids = attrs.user_identifiers;
    if (!isMap(ids) || !Object.keys(ids).length) throw new EntryInvalid('user_identifiers: Value must be a dictionary.');
    if (typeof attrs.raw_password !== 'string' || attrs.raw_password === '')
      throw new EntryInvalid('raw_password: This field is required.');
    if (attrs.set_unusable !== undefined && typeof attrs.set_unusable !== 'boolean')
      throw new EntryInvalid('set_unusable: Must be a valid boolean.');
    if (!caller.superuser && !(await hasGlobal(tx, caller, 'authentik_core.reset_user_password')))
      throw new EntryInvalid('User lacks permission to set passwords');
    const user = await find(USER, Object.entries(ids));
    if (!user) throw new EntryInvalid('User does not exist');
    const id = Number(user.id);
    // (the API's rule: a superuser's password only by a superuser)
    await guardTargetUser(tx, caller, id).catch((e: unknown) => {
      if (e instanceof Forbidden) throw new EntryInvalid("User lacks permission to set a superuser's password");
      throw e;
    });
    if ((await passwordDirectories(tx, id)).length)
      throw new EntryInvalid("The user's password is kept in an LDAP directory: set it through the API's set_password");
    const ended =
      attrs.set_unusable === true
        ? await markPasswordUnusable(tx, id)
        : await setUserPassword(tx, id, await hashPassword(attrs.raw_password, svc.config.argon2));
    log('Setting user password', { user: user.username });
    // (the API's set_password records the same event)
    afterCommit(async () => {
      await svc.sessions.endedAll(ended, { userId: id, by: 'admin' });
      await svc.events.emit('password_set', { user: eventUserOf(req.caller), req, context: { user: { pk: id, username: user.username } } });
      await svc.signals.credentialChanged({
        userId: id,
        credentialType: 'password',
        changeType: attrs.set_unusable === true ? 'revoke' : 'update',
      });
    });
  };
}

export function metaModels(svc: Services): ReadonlyMap<string, MetaModel> {
  return new Map([['authentik_blueprints.metausersetpassword', userSetPassword(svc)]]);
}
