/**
 * authentik's NativeLogoutStageView: on a Keystage logout, each service provider whose `logout_method` is
 * `frontchannel_native` gets the person's browser itself, one after the other — sent to its SLS URL with Keystage's
 * LogoutRequest (the redirect binding's URL, or a form the page posts), its RelayState the flow's page, to which the
 * service provider's LogoutResponse brings the browser back (slo.ts `logoutResponseEndpoint`) for the next one. Each
 * provider is taken off the list as its challenge is given (a reload does not send the person there twice); with
 * none left the flow goes on.
 */
import { insertInMemoryWithItems, type Plan } from '../../../../flows/engine/plan.js';
import { ok, show, type StageCall, type StageRuntime } from '../../../../flows/engine/runtime.js';
import type { StageChallenge } from '../../../../flows/engine/challenge-types.js';
import type { ProviderStage } from '../../../types.js';
import { type NativeLogoutChallenge, nativeLogoutChallenges } from './challenge.js';

export const NATIVE_LOGOUT = { kind: 'nativelogoutstage', stage: 'saml-native-logout' } as const;

/** one service provider's logout, as the challenge carries it */
export type NativeLogout = Omit<StageChallenge<typeof NativeLogoutChallenge>, 'component' | 'is_complete'>;

interface NativeLogoutState {
  pending?: NativeLogout[];
}

function next(c: StageCall<unknown, NativeLogoutState>) {
  const [first, ...rest] = c.state.pending ?? [];
  if (!first) return ok();
  c.state.pending = rest.length ? rest : undefined;
  const challenge: StageChallenge<typeof NativeLogoutChallenge> = { component: 'ak-provider-saml-native-logout', ...first };
  return show(challenge);
}

const runtime: StageRuntime<unknown, NativeLogoutState> = {
  component: 'ak-provider-saml-native-logout',
  withUserInfo: false,
  challenge: async (c) => next(c),
  respond: async (c) => next(c),
};

export const nativeLogoutStage: ProviderStage = {
  kind: NATIVE_LOGOUT.kind,
  app: 'authentik_providers_saml',
  verboseName: 'Native logout stage',
  runtime,
  challenges: nativeLogoutChallenges,
};

/** the native front channel put into a plan after the stage at `after` (once; more providers join the list) */
export function insertNativeLogout(plan: Plan, logouts: NativeLogout[], after: number): void {
  insertInMemoryWithItems(plan, NATIVE_LOGOUT, 'pending' satisfies keyof NativeLogoutState, logouts, after + 1);
}
