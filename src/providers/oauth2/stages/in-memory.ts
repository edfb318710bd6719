/**
 * The OAuth2 provider's in-memory stages (authentik's `in_memory_stage`): bindings the provider puts into plans
 * itself, with no row. Each has a kind (the executor's registry finds its runtime through ProviderDef.stages) and a
 * fixed name in plans, under which its state is kept.
 */

export const DEVICE_CODE = { kind: 'oauthdevicecodestage', stage: 'oauth2-device-code' } as const;
export const DEVICE_FINISH = { kind: 'oauthdevicecodefinishstage', stage: 'oauth2-device-code-finish' } as const;
export const PROMPT_CONSENT_STAGE = { kind: 'oauth2inmemoryconsentstage', stage: 'oauth2-prompt-consent' } as const;
export const IFRAME_LOGOUT = { kind: 'iframelogoutstage', stage: 'oauth2-iframe-logout' } as const;

export { inMemoryBinding } from '../../../flows/engine/plan.js';
