/** A flow's background as a URL, shown by the flow interface and the flow API alike. */
import { assetUrl } from '../files/names.js';
import type { ColumnReference } from '../rest/references.js';

export const DEFAULT_BACKGROUND = '/static/dist/assets/images/flow_background.jpg';

/** the background's URL (src/files/names.ts; its themed variants: `themedAssetUrls`), authentik's default image when none is set */
export function backgroundUrl(background: string): string {
  const b = background.trim();
  return b === '' ? DEFAULT_BACKGROUND : assetUrl(b);
}

/** the flow's background, which may name an uploaded file (the files' `used_by`, src/files/) */
export const flowFileReferences = (): ColumnReference[] => [
  {
    table: 'flows',
    column: 'background',
    pk: 'flow_uuid',
    name: 'name',
    label: { columns: ['name', 'slug'], show: (r) => `Flow ${r.name} (${r.slug})` },
    app: 'authentik_flows',
    model_name: 'flow',
    action: 'left_dangling',
  },
];
