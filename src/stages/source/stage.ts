/**
 * Source stage (authentik's enterprise `authentik_stages_source`): the flow is suspended and the person sent to a
 * source's login (an OAuth source: the redirect its login button makes); the source's own flow runs — logging them
 * in, linking or enrolling as the source is set up — and then the suspended flow resumes here and the stage passes
 * (src/sources/suspended-flow.ts keeps the plan in a flow token for `resume_timeout`, noted in the session).
 *
 * Beyond authentik: a response posted to this stage does not pass it (authentik's `challenge_valid` passes any
 * response, which would let a client skip the source); only the resumed plan does. And the suspended flow resumes
 * only for the user it already had, if it had one (src/sources/resume-stage.ts).
 */
import { randomUUID } from 'node:crypto';
import { deny, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { parseDuration } from '../../rest/duration.js';
import { slugify } from '../../rest/slugify.js';
import { loginButtons } from '../../sources/login-buttons.js';
import { forgetSuspendedFlow, suspendedFlow, suspendFlow } from '../../sources/suspended-flow.js';
import type { StageConfig } from '../types.js';
import type { sourceStageSchema } from './schema.js';

export type SourceStageConfig = StageConfig<typeof sourceStageSchema>;

async function run(c: StageCall<SourceStageConfig>) {
  const source = c.config.source;
  if (!source) return deny('Source does not exist');
  // an enabled source's login URL (a source that is gone or disabled has none; a Plex source's login is the login
  // page's own, not a URL to send the person to)
  const [button] = await loginButtons(c.svc.db, [source]);
  if (!button || button.challenge.component !== 'xak-flow-redirect') return deny('Invalid source');
  const restored = c.ctx.restoredToken;
  const marker = suspendedFlow(c.session);
  if (restored && marker && restored.id === marker.token) {
    forgetSuspendedFlow(c.session);
    return ok();
  }
  const user = await c.pendingUser();
  await suspendFlow(c.svc, c.session, {
    plan: c.plan,
    flow: c.flow,
    query: c.query,
    userId: user?.id ?? null,
    identifier: slugify(`ak-source-stage-${c.stage.name}-${randomUUID()}`),
    timeoutMs: parseDuration(c.config.resume_timeout) ?? 600_000,
    source,
    resumeOn: c.config.resume_on_match_failures ?? [],
  });
  return show(button.challenge);
}

export const sourceStageRuntime: StageRuntime<SourceStageConfig> = {
  component: 'xak-flow-redirect',
  withUserInfo: false,
  challenge: run,
  respond: run,
};
