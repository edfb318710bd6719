/** Computed flow fields: export_url; the FlowSet summary used in stage responses (background URLs: ../background.ts). */
import type { FlowsTable } from '../../db/types.js';
import { backgroundUrl } from '../background.js';

export const exportUrl = (slug: string) => `/api/v3/flows/instances/${slug}/export/`;

export function renderFlowSet(f: FlowsTable) {
  return {
    pk: f.flow_uuid,
    policybindingmodel_ptr_id: f.pbm_uuid,
    name: f.name,
    slug: f.slug,
    title: f.title,
    designation: f.designation,
    background_url: backgroundUrl(f.background),
    policy_engine_mode: f.policy_engine_mode,
    compatibility_mode: !!f.compatibility_mode,
    export_url: exportUrl(f.slug),
    layout: f.layout,
    denied_action: f.denied_action,
  };
}
