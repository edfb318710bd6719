/**
 * authentik's "OAuth2 Provider In-memory consent stage": appended by the authorization endpoint when the request
 * asks `prompt=consent` (or `offline_access`, which forces it) and the authorization flow has no consent stage of its
 * own — the consent stage's runtime with mode `always_require`.
 */
import { consentStage } from '../../../../stages/consent/index.js';
import type { StageRuntime } from '../../../../flows/engine/runtime.js';
import type { ProviderStage } from '../../../types.js';
import { PROMPT_CONSENT_STAGE } from '../in-memory.js';

const NAME = 'OAuth2 Provider In-memory consent stage';
const consent = consentStage.runtime!;
const config = { name: NAME, mode: 'always_require', consent_expire_in: 'weeks=4' };

const runtime: StageRuntime = {
  component: consent.component,
  withUserInfo: consent.withUserInfo,
  // (`state` is a getter on the call's prototype, which a spread does not copy)
  challenge: (c) => consent.challenge({ ...c, state: c.state, config, stage: { ...c.stage, name: NAME } }),
  respond: (c, body) => consent.respond({ ...c, state: c.state, config, stage: { ...c.stage, name: NAME } }, body),
};

export const promptConsentStage: ProviderStage = {
  kind: PROMPT_CONSENT_STAGE.kind,
  app: 'authentik_stages_consent',
  verboseName: NAME,
  runtime,
  // (the consent stage's components are published by the consent stage type)
  challenges: [],
};
