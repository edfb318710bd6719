/** Front-channel logout as an in-memory stage of the OAuth2 provider type, and how a plan gets it. */
import { insertInMemoryWithItems, type Plan } from '../../../../flows/engine/plan.js';
import type { ProviderStage } from '../../../types.js';
import { IFRAME_LOGOUT } from '../in-memory.js';
import { iframeLogoutChallenges, type LogoutURL } from './challenge.js';
import { iframeLogoutRuntime, type IframeLogoutState } from './stage.js';

export const iframeLogoutStage: ProviderStage = {
  kind: IFRAME_LOGOUT.kind,
  app: 'authentik_providers_oauth2',
  verboseName: 'Iframe logout stage',
  runtime: iframeLogoutRuntime,
  challenges: iframeLogoutChallenges,
};

/** put the front-channel logout into a plan at `index` (once; more URLs join the ones it has) */
export function insertIframeLogout(plan: Plan, urls: LogoutURL[], index: number): void {
  insertInMemoryWithItems(plan, IFRAME_LOGOUT, 'urls' satisfies keyof IframeLogoutState, urls, index);
}

export type { LogoutURL };
/** the front-channel logout's binding kind (another provider type's stage goes after it) */
export const IFRAME_LOGOUT_KIND = IFRAME_LOGOUT.kind;
