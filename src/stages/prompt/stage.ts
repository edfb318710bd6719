/**
 * The prompt stage at run time: shows the stage's prompts (placeholders, initial values and choices computed for this
 * flow), validates a response field by field, then with the stage's validation policies, and adds the values to the
 * plan's prompt data (authentik's `prompt_data`).
 */
import { httpOf } from '../../policies/request.js';
import { invalid, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import type { StageChallenge } from '../../flows/engine/challenge-types.js';
import type { StageConfig } from '../types.js';
import type { promptSchema } from './schema.js';
import type { PromptChallenge } from './challenge.js';
import {
  challengeFields,
  runValidationPolicies,
  stagePrompts,
  stageValidationPolicies,
  validateFields,
  type ExpressionEnv,
} from './fields.js';

export type PromptConfig = StageConfig<typeof promptSchema>;

/** how long a placeholder or initial-value expression may run */
const EXPRESSION_TIMEOUT_MS = 10_000;

async function envOf(c: StageCall<PromptConfig>): Promise<ExpressionEnv> {
  return {
    user: await c.pendingUser(),
    http: httpOf(c.req),
    dryRun: false,
    timeoutMs: EXPRESSION_TIMEOUT_MS,
    log: (m) => c.req.log.warn({ stage: c.stage.name }, m),
  };
}

async function challengeOf(c: StageCall<PromptConfig>, env: ExpressionEnv): Promise<StageChallenge<typeof PromptChallenge>> {
  const prompts = await stagePrompts(c.svc.db, c.stage.uuid);
  return { component: 'ak-stage-prompt', fields: await challengeFields(prompts, c.ctx.promptData ?? {}, env) };
}

export const promptRuntime: StageRuntime<PromptConfig> = {
  component: 'ak-stage-prompt',
  withUserInfo: false,
  async challenge(c) {
    return show(await challengeOf(c, await envOf(c)));
  },
  async respond(c, body) {
    const env = await envOf(c);
    const prompts = await stagePrompts(c.svc.db, c.stage.uuid);
    const context = c.ctx.promptData ?? {};
    // each password field's value asked of the password checks (an LDAP source's Active Directory complexity); a
    // password and its repetition are asked once
    const asked = new Map<string, Promise<string[]>>();
    const checked = await validateFields(c.svc.db, prompts, body, context, env, (password) => {
      if (!asked.has(password)) asked.set(password, c.svc.signals.validatePassword(password, env.user));
      return asked.get(password)!;
    });
    if (checked.errors) return invalid(await challengeOf(c, env), checked.errors);
    const policies = await stageValidationPolicies(c.svc.db, c.config.validation_policies);
    let data = checked.data;
    const errors = await runValidationPolicies(
      c.svc,
      policies,
      {
        user: env.user,
        http: env.http,
        context: { prompt_data: checked.data },
        debug: false,
        // authentik's policies see the answers themselves: what one changes in `prompt_data` is what is kept
        onContextChanges: (changes) => {
          const changed = changes.set.prompt_data;
          if (changed && typeof changed === 'object' && !Array.isArray(changed)) data = changed as typeof data;
        },
      },
      new Set(prompts.map((p) => p.field_key)),
    );
    if (errors) return invalid(await challengeOf(c, env), errors);
    c.ctx.promptData = { ...context, ...data };
    return ok();
  },
};
