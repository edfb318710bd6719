/**
 * The reputation policy (authentik's ReputationPolicy): passes when the summed score of the client IP and/or the
 * user's username is at or below `threshold` — it singles out requests with a bad reputation (bind it negated to
 * let only the others through). Scores are kept by logins (src/auth/reputation.ts); expired ones do not count.
 * Evaluating it changes nothing.
 */
import { sql } from 'kysely';
import type { PolicyCall, PolicyConfig, PolicyDef } from '../types.js';
import { reputationSchema } from './schema.js';
import { mountReputationScores } from './scores.js';

type Config = PolicyConfig<typeof reputationSchema>;

/** the username a request is about: the user's, else (an unknown identifier in a flow) what was typed */
function usernameOf(call: PolicyCall<Config>): string | undefined {
  if (call.request.user) return call.request.user.username;
  const pending = call.request.context.pending_user as { username?: unknown } | undefined;
  return typeof pending?.username === 'string' ? pending.username : undefined;
}

export const reputationPolicy: PolicyDef = {
  ...reputationSchema,
  routes: mountReputationScores,
  async evaluate(call: PolicyCall<Config>) {
    const { config } = call;
    const ip = call.request.http?.clientIp;
    const username = usernameOf(call);
    const now = new Date().toISOString();
    const row = await call.svc.db
      .selectFrom('reputation_scores')
      .select(sql<number | string | null>`sum(score)`.as('total'))
      .where((eb) => {
        const who = [];
        if (config.check_ip && ip !== undefined) who.push(eb('ip', '=', ip));
        if (config.check_username && username !== undefined) who.push(eb('identifier', '=', username));
        // nothing to look up: no score
        if (!who.length) return sql<boolean>`1 = 0`;
        return eb.and([eb.or(who), eb.or([eb('expiring', '=', 0), eb('expires', '>', now)])]);
      })
      .executeTakeFirst();
    const score = Number(row?.total ?? 0);
    return { passing: score <= config.threshold, messages: [] };
  },
};
