/** authentik's TelegramSourceSerializer fields (beyond the base Source's). */
import { S, type Props } from '../../rest/schema.js';
import { groupMatchingModeProp } from '../schema.js';

export const telegramSourceProps: Props = {
  group_matching_mode: groupMatchingModeProp,
  bot_username: S.str({ description: 'Telegram bot username' }),
  bot_token: S.wo(S.str({ description: 'Telegram bot token', 'x-no-trim': true })),
  request_message_access: S.bool({ default: false, description: 'Request access to send messages from your bot.' }),
  pre_authentication_flow: S.uuid({ 'x-ref': { table: 'flows', column: 'flow_uuid' }, description: 'Flow used before authentication.' }),
};

export const TELEGRAM_COLUMNS = Object.keys(telegramSourceProps);
