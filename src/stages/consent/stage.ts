/**
 * Consent at run time (authentik's ConsentStageView): ask the person to agree to what an application gets — the
 * permissions a provider put into the plan (`consent_permissions`, `consent_header`) — and remember the answer per
 * application (`always_require`: never; `permanent`; `expiring`: until consent_expire_in from now). A remembered
 * consent covering exactly the requested permissions passes silently; one covering fewer asks again for the new ones
 * (`additional_permissions`). Without an application in the plan there is nothing to remember: the stage asks.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type {} from '../../applications/table.js';
import { parseDuration } from '../../rest/duration.js';
import { parseResponse } from '../../flows/engine/response.js';
import { fieldError, invalid, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { responseFields, type StageChallenge } from '../../flows/engine/challenge-types.js';
import type { ConsentPermission, FlowContext } from '../../flows/engine/context.js';
import type { StageConfig } from '../types.js';
import type { consentSchema } from './schema.js';
import { ConsentChallengeResponseRequest, type ConsentChallenge } from './challenge.js';
import { sameText } from '../../crypto/compare.js';
import { holding, takeTurn } from '../../db/locks.js';

export type ConsentConfig = StageConfig<typeof consentSchema>;
type State = { token?: string };
type Call = StageCall<ConsentConfig, State>;

const responseProps = responseFields(ConsentChallengeResponseRequest);

/** the permission ids of a stored consent (space-separated; no empty ids) */
const idsOf = (permissions: string) => new Set(permissions.split(' ').filter((p) => p !== ''));

function challengeOf(c: Call): StageChallenge<typeof ConsentChallenge> {
  // a fresh token for every rendering (authentik keeps it in the session): a response must answer this challenge
  const token = randomUUID();
  c.state.token = token;
  const ch: StageChallenge<typeof ConsentChallenge> = {
    component: 'ak-stage-consent',
    permissions: c.ctx.consent_permissions ?? [],
    additional_permissions: c.ctx.consent_additional_permissions ?? [],
    token,
  };
  if (c.ctx.consent_header !== undefined) ch.header_text = c.ctx.consent_header;
  return ch;
}

/** the person consenting: the pending user, else whoever is logged in (authentik's get_pending_user) */
async function personOf(c: Call): Promise<number | undefined> {
  return (await c.pendingUser())?.id;
}

/** the consent on record for (user, application) that has not expired */
async function storedConsent(c: Call, user: number, application: string) {
  return c.svc.db
    .selectFrom('user_consents')
    .select(['id', 'permissions'])
    .where('user', '=', user)
    .where('application', '=', application)
    .where((eb) => eb.or([eb('expiring', '=', 0), eb.and([eb('expiring', '=', 1), eb('expires', '>', new Date().toISOString())])]))
    .orderBy('id', 'desc')
    .executeTakeFirst();
}

export const consentRuntime: StageRuntime<ConsentConfig, State> = {
  component: 'ak-stage-consent',
  withUserInfo: true,
  async challenge(c) {
    const app = c.ctx.application;
    if (c.config.mode === 'always_require' || !app) return show(challengeOf(c));
    const user = await personOf(c);
    if (user === undefined) return show(challengeOf(c));
    const consent = await storedConsent(c, user, app.pk);
    if (!consent) return show(challengeOf(c));
    const perms = c.ctx.consent_permissions ?? [];
    const allowed = idsOf(consent.permissions);
    const requested = new Set(perms.map((p) => p.id));
    const same = allowed.size === requested.size && [...requested].every((p) => allowed.has(p));
    if (same) return ok();
    // some permissions are new: ask for those, showing the ones already given
    const ctx: FlowContext = c.ctx;
    ctx.consent_permissions = perms.filter((p) => allowed.has(p.id));
    ctx.consent_additional_permissions = [...(ctx.consent_additional_permissions ?? []), ...perms.filter((p) => !allowed.has(p.id))];
    return show(challengeOf(c));
  },
  async respond(c, body) {
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return invalid(challengeOf(c), parsed.errors);
    // a response to another rendering of the challenge (or a forged one): the challenge again, with a new token and
    // authentik's field error
    if (!c.state.token || !sameText(String(parsed.data.token ?? ''), c.state.token))
      return invalid(challengeOf(c), fieldError('token', 'Invalid consent token, re-showing prompt'));
    const app = c.ctx.application;
    if (!app || c.config.mode === 'always_require') return ok();
    const user = c.requestUser?.id ?? (await personOf(c));
    if (user === undefined) return ok();
    const permissions = [...(c.ctx.consent_permissions ?? []), ...(c.ctx.consent_additional_permissions ?? [])];
    await remember(c, user, app.pk, permissions);
    return ok();
  },
};

/** records the consent, replacing what the person had given the application before */
async function remember(c: Call, user: number, application: string, permissions: ConsentPermission[]): Promise<void> {
  const text = [...new Set(permissions.map((p) => p.id))].join(' ');
  const expiring = c.config.mode === 'expiring';
  const expires = expiring ? new Date(Date.now() + (parseDuration(c.config.consent_expire_in) ?? 0)).toISOString() : null;
  await c.svc.db.transaction().execute(async (tx) => {
    // one consent write per person and application at a time (two authorizations at once would both find nothing
    // to replace, then both insert)
    await takeTurn(tx, `keystage:consent:${user}:${application}`);
    // the application held against its deletion until this commits (deleted meanwhile: nothing to remember)
    const exists = await holding(
      tx,
      tx.selectFrom('applications').select(sql<number>`1`.as('one')).where('pbm_uuid', '=', application),
      'key share',
    ).executeTakeFirst();
    if (!exists) return;
    await tx.deleteFrom('user_consents').where('user', '=', user).where('application', '=', application).execute();
    await tx
      .insertInto('user_consents')
      .values({ user, application, expires, expiring: expiring ? 1 : 0, permissions: text } as never)
      .execute();
  });
}
