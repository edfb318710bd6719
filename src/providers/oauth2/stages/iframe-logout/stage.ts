/**
 * authentik's IframeLogoutStageView for OAuth2 providers with `logout_method: frontchannel`: the page loads each
 * provider's front-channel logout URL in a hidden iframe, then continues. The URLs are put in the stage's state by
 * whoever inserted it (the end-session endpoint, or a Keystage logout ending the session the tokens belong to).
 */
import { ok, show, type StageRuntime } from '../../../../flows/engine/runtime.js';
import type { StageChallenge } from '../../../../flows/engine/challenge-types.js';
import type { IframeLogoutChallenge, LogoutURL } from './challenge.js';

export interface IframeLogoutState {
  urls?: LogoutURL[];
}

export const iframeLogoutRuntime: StageRuntime<{ name: string }, IframeLogoutState> = {
  component: 'ak-provider-iframe-logout',
  withUserInfo: false,
  async challenge(c) {
    const urls = c.state.urls ?? [];
    if (!urls.length) return ok();
    const challenge: StageChallenge<typeof IframeLogoutChallenge> = { component: 'ak-provider-iframe-logout', logout_urls: urls };
    return show(challenge);
  },
  async respond() {
    return ok();
  },
};
