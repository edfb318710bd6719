/**
 * authentik's TelegramLoginView: an in-memory stage at the end of the source's pre-authentication flow showing
 * Telegram's login widget for the source's bot; the widget's answer, checked (auth.ts), is the identity the source
 * vouches for. It is kept in the session for the source's own URL (`done/`), which hands it to the flow manager once,
 * and the stage answers with a redirect there.
 */
import { invalid, show, type StageRuntime } from '../../../../flows/engine/runtime.js';
import type { StageChallenge } from '../../../../flows/engine/challenge-types.js';
import { secretsOf } from '../../../../instance/secrets.js';
import { checkTelegramAuth } from '../../auth.js';
import { telegramDonePath } from '../../paths.js';
import { BOT_TOKEN_FIELD, telegramSourceByUuid } from '../../source.js';
import type { TelegramLoginChallenge } from './challenge.js';

export const TELEGRAM_LOGIN = { kind: 'telegramloginstage', stage: 'source-telegram-login' } as const;

/** what the stage leaves in the session for `done/`, by source slug */
export interface TelegramVouched {
  telegram: Record<string, unknown>;
  next?: string;
  created: number;
}

export const telegramLoginRuntime: StageRuntime<{ name: string }> = {
  component: 'ak-source-telegram',
  withUserInfo: false,
  async challenge(c) {
    const source = c.ctx.source ? await telegramSourceByUuid(c.svc.db, c.ctx.source.pk) : undefined;
    if (!source) return show({ component: 'ak-stage-access-denied', error_message: 'Invalid source' } as never);
    const challenge: StageChallenge<typeof TelegramLoginChallenge> = {
      component: 'ak-source-telegram',
      bot_username: source.bot_username,
      request_message_access: !!Number(source.request_message_access),
    };
    return show(challenge);
  },
  async respond(c, body) {
    const source = c.ctx.source ? await telegramSourceByUuid(c.svc.db, c.ctx.source.pk) : undefined;
    const shown = await telegramLoginRuntime.challenge(c);
    if (!source || shown.type !== 'challenge') return shown;
    const token = secretsOf(c.svc.db).open(BOT_TOKEN_FIELD, source.bot_token);
    const checked = checkTelegramAuth(body, token);
    if (!checked.ok) {
      const errors = Object.fromEntries(
        Object.entries(checked.errors).map(([k, msgs]) => [k, msgs.map((m) => ({ string: m, code: 'invalid' }))]),
      );
      return invalid(shown.challenge, errors);
    }
    const store = (c.session.data.sources ??= {});
    const next = typeof c.ctx.redirect === 'string' ? c.ctx.redirect : undefined;
    store[source.slug] = { telegram: { ...checked.identity }, created: Date.now(), ...(next ? { next } : {}) } satisfies TelegramVouched;
    c.session.dirty = true;
    return show({ component: 'xak-flow-redirect', to: telegramDonePath(source.slug) });
  },
};
