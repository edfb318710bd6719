/**
 * The source's in-memory stage at the end of the flow a source started (authentik's PostSourceStage): the identity
 * the source vouched for is connected to the pending user — the one the flow logged in, or the one its user write
 * stage created. A flow that ends without a user (no user write, no match) is refused rather than left unlinked.
 */
import { deny, ok, type StageRuntime, type StageType } from '../flows/engine/runtime.js';
import { inMemoryBinding, type PlanBinding } from '../flows/engine/plan.js';
import { linkConnection, SourceGone } from './flow-manager.js';
import { syncGroups } from './groups.js';
import { RESUME_SUSPENDED, resumeSuspendedStage } from './resume-stage.js';
import { telegramLoginStage } from './telegram/stages/login/index.js';

export const POST_SOURCE = { kind: 'postsourcestage', stage: 'source-post-source' } as const;

export const postSourceBinding = (): PlanBinding => inMemoryBinding(POST_SOURCE);

const runtime: StageRuntime<{ name: string }> = {
  component: 'xak-flow-redirect',
  withUserInfo: false,
  async challenge(c) {
    const connection = c.ctx.sourceConnection;
    const user = await c.pendingUser();
    if (!connection || !user) return deny('No user to connect the source to.');
    const source = c.ctx.source?.name ?? 'the source';
    let linked: boolean;
    try {
      linked = await linkConnection(c.svc, user, connection, c.clientIp);
    } catch (e) {
      if (!(e instanceof SourceGone)) throw e;
      // deleted since the person started: as if the link had been stored just before the deletion, which would have
      // taken it along — the flow goes on without it (and without the source's groups)
      c.ctx.sourceConnection = undefined;
      c.ctx.sourceGroups = undefined;
      return ok();
    }
    if (!linked) return deny(`This account is already connected to ${source}.`);
    c.ctx.sourceConnection = undefined;
    // authentik's GroupUpdateStage: the person's groups at this source
    const groups = c.ctx.sourceGroups;
    if (groups) {
      const synced = await syncGroups(c.svc.db, connection.source, groups.mode, user.id, groups.groups);
      if (!synced.ok) return deny('Failed to update groups. Please try again later.');
      c.ctx.sourceGroups = undefined;
    }
    return ok();
  },
  async respond(c) {
    return runtime.challenge(c);
  },
};

export const postSourceStage: StageType = {
  kind: POST_SOURCE.kind,
  app: 'authentik_core',
  verboseName: 'Post source stage',
  runtime,
};

/** the sources' in-memory stages by kind (the executor's registry reaches them through Services.stageType) */
export const sourceStageByKind = (kind: string): StageType | undefined =>
  kind === POST_SOURCE.kind
    ? postSourceStage
    : kind === RESUME_SUSPENDED.kind
      ? resumeSuspendedStage
      : kind === telegramLoginStage.kind
        ? telegramLoginStage
        : undefined;

/** the challenges the sources' in-memory stages show (the executor's OpenAPI) */
export const sourceStageChallenges = () => telegramLoginStage.challenges;
