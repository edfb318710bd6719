/**
 * The invitation stage at run time (authentik's InvitationStageView): no challenge. The token comes from the flow
 * page's query (`?itoken=`, else `?token=`) or from prompt data (`token`, a prompt field of that key before this
 * stage). A valid invitation — it exists, has not expired, and is for this flow when it names one — is put into the
 * plan (`invitation`, `invitation_in_effect` for policies), its `fixed_data` merged into the prompt data, and an
 * `invitation_used` event recorded. A single-use invitation is deleted when the user is written (claim.ts), so a
 * sign-up that fails on the way keeps it; without a user write stage after this one it is deleted here. Without a
 * valid invitation the flow continues or ends per `continue_flow_without_invitation`.
 */
import { deny, ok, type Outcome, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { isUuid, normalizeUuid } from '../../rest/validate.js';
import type { StageConfig } from '../types.js';
import type { invitationSchema } from './schema.js';
import { INVITATIONS_TABLE } from './schema.js';
import { claimInvitation, INVALID_INVITE, InvitationInvalid, invitationClaimed } from './claim.js';

export type InvitationConfig = StageConfig<typeof invitationSchema>;
type Call = StageCall<InvitationConfig>;

/** the query keys a token may come in, in authentik's order */
const QUERY_KEYS = ['itoken', 'token'] as const;
const USER_WRITE_KIND = 'userwritestage';
const UNSAFE_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

function tokenOf(c: Call): string | undefined {
  for (const k of QUERY_KEYS) if (c.query[k]) return c.query[k];
  const fromPrompt = c.ctx.promptData?.token;
  return typeof fromPrompt === 'string' && fromPrompt !== '' ? fromPrompt : undefined;
}

/** a UUID written with dashes or as 32 hex digits (authentik links use `invite.pk.hex`) */
function asUuid(token: string): string | undefined {
  const t = token.trim();
  if (isUuid(t)) return normalizeUuid(t);
  if (/^[0-9a-f]{32}$/i.test(t))
    return normalizeUuid(`${t.slice(0, 8)}-${t.slice(8, 12)}-${t.slice(12, 16)}-${t.slice(16, 20)}-${t.slice(20)}`);
  return undefined;
}

/** deepmerge's always_merger: dictionaries merged key by key, lists appended, anything else replaced */
export function alwaysMerge(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(from)) {
    if (UNSAFE_KEYS.has(k)) continue;
    const cur = Object.hasOwn(into, k) ? into[k] : undefined;
    if (isDict(cur) && isDict(v)) into[k] = alwaysMerge({ ...cur }, v);
    else if (Array.isArray(cur) && Array.isArray(v)) into[k] = [...cur, ...structuredClone(v)];
    else into[k] = structuredClone(v);
  }
  return into;
}
const isDict = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

async function findInvitation(c: Call) {
  const token = tokenOf(c);
  const pk = token ? asUuid(token) : undefined;
  if (!pk) return undefined;
  const row = await c.svc.db
    .selectFrom(INVITATIONS_TABLE)
    .selectAll()
    .where('invite_uuid', '=', pk)
    .where((eb) => eb.or([eb('expires', 'is', null), eb('expires', '>', new Date().toISOString())]))
    .executeTakeFirst();
  if (!row) return undefined;
  // an invitation for another flow is no invitation here
  if (row.flow && row.flow !== c.flow.flow_uuid) return undefined;
  return row;
}

async function run(c: Call): Promise<Outcome> {
  // already accepted earlier in this plan (e.g. the flow restarted with its context) and spent: nothing to check
  if (c.ctx.invitation?.claimed) return ok();
  const row = await findInvitation(c);
  if (!row) return c.config.continue_flow_without_invitation ? ok() : deny(INVALID_INVITE);
  c.ctx.invitation = { pk: row.invite_uuid, name: row.name, single_use: !!row.single_use, flow: row.flow };
  // no user write after this stage: the invitation is used up here
  if (row.single_use && !c.plan.bindings.slice(1).some((b) => b.kind === USER_WRITE_KIND)) {
    try {
      await claimInvitation(c.svc.db, c.ctx);
    } catch (e) {
      if (!(e instanceof InvitationInvalid)) throw e;
      c.ctx.invitation = undefined;
      return c.config.continue_flow_without_invitation ? ok() : deny(INVALID_INVITE);
    }
    invitationClaimed(c.ctx);
  }
  c.ctx.promptData = alwaysMerge({ ...(c.ctx.promptData ?? {}) }, JSON.parse(row.fixed_data || '{}') as Record<string, unknown>);
  const user = c.requestUser;
  await c.svc.events.emit('invitation_used', {
    user: user ? { pk: user.id, username: user.username, email: user.email } : null,
    req: c.req,
    context: { invitation_uuid: row.invite_uuid.replaceAll('-', '') },
  });
  return ok();
}

export const invitationRuntime: StageRuntime<InvitationConfig> = {
  component: 'ak-stage-invitation',
  withUserInfo: false,
  challenge: run,
  respond: run,
};
