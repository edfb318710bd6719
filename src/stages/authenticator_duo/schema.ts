import type { Kysely } from 'kysely';
import { S } from '../../rest/schema.js';
import { addColumns, createStageTable, fk, stageDeviceColumns, tableWithAutoId } from '../../db/ddl.js';
import { fieldFilters, uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

const flowRef = { table: 'flows', column: 'flow_uuid' };

const fields = {
  configure_flow: S.fk(flowRef, { default: null }),
  friendly_name: S.text({ default: '', 'x-null-as': '' }),
  client_id: S.str(),
  client_secret: S.wo(S.str({ 'x-no-trim': true })),
  api_hostname: S.str(),
  admin_integration_key: S.text({ default: '' }),
  admin_secret_key: S.wo(S.text({ default: '', 'x-no-trim': true })),
};

export const authenticatorDuoSchema = {
  kind: 'authenticatorduostage',
  app: 'authentik_stages_authenticator_duo',
  model: 'AuthenticatorDuoStage',
  componentName: 'AuthenticatorDuoStage',
  path: 'authenticator/duo',
  table: 'stage_authenticator_duo',
  component: 'ak-stage-authenticator-duo-form',
  verboseName: 'Duo Authenticator Setup Stage',
  verboseNamePlural: 'Duo Authenticator Setup Stages',
  description: 'Setup Duo authenticator devices',
  fields,
  // authentik: `filterset_fields = ["name", "configure_flow", "client_id", "api_hostname"]`
  filters: { stage_uuid: uuidFilter, ...fieldFilters('stage_authenticator_duo', fields, ['configure_flow', 'client_id', 'api_hostname']) },
  migrations: {
    stage_authenticator_duo_0001: (dialect) => ({
      async up(db: Kysely<any>) {
        await createStageTable(db, dialect, 'stage_authenticator_duo', {
          configure_flow: fk('flows', 'flow_uuid'),
          friendly_name: 'text',
          client_id: 'text',
          client_secret: 'text',
          api_hostname: 'text',
          admin_integration_key: 'text',
          admin_secret_key: 'text',
        });
        // a Duo device is useless without its stage's credentials: deleted with it
        await addColumns(tableWithAutoId(db, dialect, 'duo_devices'), dialect, {
          ...stageDeviceColumns('cascade'),
          duo_user_id: 'text',
        }).execute();
      },
    }),
    // one device per Duo user and Keystage user: imports running side by side cannot both add it
    stage_authenticator_duo_0002: () => ({
      async up(db: Kysely<any>) {
        await db.schema.createIndex('duo_devices_user_duo_user').on('duo_devices').columns(['user_id', 'duo_user_id']).unique().execute();
      },
    }),
  },
} satisfies StageDef;
