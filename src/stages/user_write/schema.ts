/** The user write stage (authentik's UserWriteStage, `/stages/user_write/`). */
import { S } from '../../rest/schema.js';
import { ValidationError } from '../../rest/errors.js';
import { createStageTable, fk } from '../../db/ddl.js';
import { USER_TYPES } from '../../users/schema.js';
import { fieldFilters, uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

export const USER_CREATION_MODES = ['never_create', 'create_when_required', 'always_create'] as const;

const fields = {
  user_creation_mode: S.enumOf(USER_CREATION_MODES, { default: 'create_when_required' }),
  create_users_as_inactive: S.bool({ default: false, description: 'When set, newly created users are inactive and cannot login.' }),
  create_users_group: S.fk(
    { table: 'groups', column: 'group_uuid' },
    { default: null, description: 'Optionally add newly created users to this group.' },
  ),
  user_type: S.enumOf(USER_TYPES, { default: 'external' }),
  user_path_template: S.text({ default: '' }),
};

export const userWriteSchema = {
  kind: 'userwritestage',
  app: 'authentik_stages_user_write',
  model: 'UserWriteStage',
  path: 'user_write',
  table: 'stage_user_write',
  component: 'ak-stage-user-write-form',
  verboseName: 'User Write Stage',
  verboseNamePlural: 'User Write Stages',
  description: 'Writes currently pending data into the pending user, or if no user exists, creates a new user with the data.',
  fields,
  filters: { stage_uuid: uuidFilter, ...fieldFilters('stage_user_write', fields) },
  /** a path new users get: segments without leading, trailing or empty ones (as the users API checks a user's path) */
  validate(data) {
    const path = data.user_path_template;
    if (typeof path !== 'string' || path === '') return;
    if (path.startsWith('/') || path.endsWith('/'))
      throw ValidationError.field('user_path_template', 'No leading or trailing slashes allowed.');
    if (path.split('/').some((s) => s === '')) throw ValidationError.field('user_path_template', 'No empty segments in user path allowed.');
  },
  migrations: {
    stage_user_write_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_user_write', {
          user_creation_mode: 'text',
          create_users_as_inactive: 'bool',
          create_users_group: fk('groups', 'group_uuid'),
          user_type: 'text',
          user_path_template: 'text',
        }),
    }),
  },
} satisfies StageDef;
