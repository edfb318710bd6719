/** The Telegram login stage's challenge and response (authentik's TelegramLoginChallenge, TelegramChallengeResponse). */
import { Type, type Static } from '@sinclair/typebox';
import { challengeSchema, responseSchema, type ChallengeDef } from '../../../../flows/engine/challenge-types.js';
import { S } from '../../../../rest/schema.js';

export const TelegramLoginChallenge = challengeSchema(
  'ak-source-telegram',
  { bot_username: Type.String({ description: 'Telegram bot username' }), request_message_access: Type.Boolean() },
  'Base login challenge for Identification stage',
);
export type TelegramLoginChallenge = Static<typeof TelegramLoginChallenge>;

export const TelegramChallengeResponseRequest = responseSchema(
  'ak-source-telegram',
  {
    id: S.int(),
    first_name: Type.Optional(S.str({ maxLength: 255 })),
    last_name: Type.Optional(S.str({ maxLength: 255 })),
    username: Type.Optional(S.str({ maxLength: 255 })),
    photo_url: Type.Optional(S.str({ format: 'uri' })),
    auth_date: S.int(),
    hash: S.str({ maxLength: 64 }),
  },
  'Base class for all challenge responses',
);

export const telegramLoginChallenges: ChallengeDef[] = [
  {
    component: 'ak-source-telegram',
    challenge: { name: 'TelegramLoginChallenge', schema: TelegramLoginChallenge },
    response: { name: 'TelegramChallengeResponseRequest', schema: TelegramChallengeResponseRequest },
  },
];
