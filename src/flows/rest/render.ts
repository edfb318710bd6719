/** Computed flow fields: background_url, themed URLs, export_url; the FlowSet summary used in stage responses. */
import type { FlowsTable } from '../../db/types.js';
import { DEFAULT_BACKGROUND } from './schema.js';

export function backgroundUrl(background: string): string {
  const b = background.trim();
  if (b === '') return DEFAULT_BACKGROUND;
  if (/^(https?|fa):\/\//i.test(b) || b.startsWith('/static/')) return b;
  return `/files/media/public/${b.replace(/^\/+/, '')}`;
}

export function themedUrls(background: string): { light: string; dark: string } | null {
  if (!background.includes('%(theme)s')) return null;
  return {
    light: backgroundUrl(background.replaceAll('%(theme)s', 'light')),
    dark: backgroundUrl(background.replaceAll('%(theme)s', 'dark')),
  };
}

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
