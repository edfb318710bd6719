import type { FilterSpec } from '../rest/list.js';

/** the `stage_uuid` filter most stage lists offer */
export const uuidFilter: FilterSpec = { type: 'uuid', column: 's.stage_uuid' };
