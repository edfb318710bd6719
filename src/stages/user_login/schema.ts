import { S } from '../../rest/schema.js';
import { createStageTable } from '../../db/ddl.js';
import { uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

export const NETWORK_BINDING = ['no_binding', 'bind_asn', 'bind_asn_network', 'bind_asn_network_ip'] as const;
export const GEOIP_BINDING = ['no_binding', 'bind_continent', 'bind_continent_country', 'bind_continent_country_city'] as const;

export const userLoginSchema = {
  kind: 'userloginstage',
  app: 'authentik_stages_user_login',
  model: 'UserLoginStage',
  path: 'user_login',
  table: 'stage_user_login',
  component: 'ak-stage-user-login-form',
  verboseName: 'User Login Stage',
  verboseNamePlural: 'User Login Stages',
  description: 'Attach the pending user to the current session.',
  fields: {
    session_duration: S.duration({
      default: 'seconds=0',
      description:
        'Determines how long a session lasts. Default of 0 means that the sessions lasts until the browser is closed. (Format: hours=-1;minutes=-2;seconds=-3)',
    }),
    terminate_other_sessions: S.bool({ default: false, description: 'Terminate all other sessions of the user logging in.' }),
    remember_me_offset: S.duration({
      default: 'seconds=0',
      description:
        'Offset the session will be extended by when the user picks the remember me option. Default of 0 means that the remember me option will not be shown. (Format: hours=-1;minutes=-2;seconds=-3)',
    }),
    network_binding: S.enumOf(NETWORK_BINDING, { default: 'no_binding' }),
    geoip_binding: S.enumOf(GEOIP_BINDING, { default: 'no_binding' }),
    remember_device: S.duration({ default: 'days=30' }),
  },
  filters: {
    stage_uuid: uuidFilter,
    session_duration: { type: 'str', column: 't.session_duration' },
    terminate_other_sessions: { type: 'bool', column: 't.terminate_other_sessions' },
    remember_me_offset: { type: 'str', column: 't.remember_me_offset' },
    network_binding: { type: 'enum', column: 't.network_binding', values: NETWORK_BINDING },
    geoip_binding: { type: 'enum', column: 't.geoip_binding', values: GEOIP_BINDING },
    remember_device: { type: 'str', column: 't.remember_device' },
  },
  migrations: {
    stage_user_login_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_user_login', {
          session_duration: 'text',
          terminate_other_sessions: 'bool',
          remember_me_offset: 'text',
          network_binding: 'text',
          geoip_binding: 'text',
          remember_device: 'text',
        }),
    }),
  },
} satisfies StageDef;
