/** The Telegram login as an in-memory stage of the Telegram source type. */
import type { StageType } from '../../../../flows/engine/runtime.js';
import type { ChallengeDef } from '../../../../flows/engine/challenge-types.js';
import { telegramLoginChallenges } from './challenge.js';
import { TELEGRAM_LOGIN, telegramLoginRuntime } from './stage.js';

export const telegramLoginStage: StageType & { challenges: ChallengeDef[] } = {
  kind: TELEGRAM_LOGIN.kind,
  app: 'authentik_sources_telegram',
  verboseName: 'Telegram Login Stage',
  runtime: telegramLoginRuntime,
  challenges: telegramLoginChallenges,
};
