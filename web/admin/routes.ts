/**
 * The admin interface's places, in the URL's fragment: `#/<list path>` a list (`#/flows/instances/`), `#/<list
 * path><id>/` one object, `#/<list path>?new` a new one (with fields filled from the rest of the query, as a
 * binding's `target`), `#/overview` the dashboard, `#/reviews` the access reviews waiting for the person.
 */
import type { OpenApi } from './openapi.js';

export type Place =
  | { view: 'overview' }
  /** the access reviews waiting for the signed-in person */
  | { view: 'reviews' }
  | { view: 'list'; list: string }
  | { view: 'new'; list: string; prefill: Record<string, string> }
  | { view: 'object'; list: string; id: string }
  /** a path with no list: one object at that path (`/admin/settings/`) */
  | { view: 'single'; path: string }
  | { view: 'unknown'; path: string };

export function placeOf(doc: OpenApi, hash: string): Place {
  const raw = hash.replace(/^#/, '') || '/overview';
  const [path, query = ''] = raw.split('?');
  if (path === '/overview' || path === '/') return { view: 'overview' };
  if (path === '/reviews' && doc.paths['/lifecycle/iterations/open/']) return { view: 'reviews' };
  const params = new URLSearchParams(query);
  if (doc.paths[path]) {
    if (params.has('new')) {
      params.delete('new');
      return { view: 'new', list: path, prefill: Object.fromEntries(params) };
    }
    const get = doc.paths[path].get;
    const ok = Object.values(get?.responses['200']?.content ?? {})[0]?.schema?.$ref ?? '';
    return /\/Paginated\w+List$/.test(ok) ? { view: 'list', list: path } : { view: 'single', path };
  }
  const m = /^(.*\/)([^/]+)\/$/.exec(path);
  if (m && doc.paths[m[1]]) return { view: 'object', list: m[1], id: decodeURIComponent(m[2]) };
  return { view: 'unknown', path };
}

export const listHref = (list: string) => `#${list}`;
export const objectHref = (list: string, id: string) => `#${list}${encodeURIComponent(id)}/`;
export const newHref = (list: string, prefill: Record<string, string> = {}) => {
  const q = new URLSearchParams(prefill).toString();
  return `#${list}?new${q ? `&${q}` : ''}`;
};
