/**
 * What an image field (a brand's logo, favicon and default background, a flow's background, an application's and a
 * source's icon) may hold and the URL a browser loads for it, as authentik's file backends: a built-in static path, an
 * external URL (or `fa://` icon), or the name of an uploaded file (src/files/), checked on save by authentik's
 * `validate_file_name`.
 */

/** where uploaded files are served (src/files/routes.ts) */
export const MEDIA_PATH = '/files/media/public/';

const MAX_NAME = 1024;
const MAX_PART = 255;

/** authentik's StaticBackend and PassthroughBackend: values taken as they are */
function passesThrough(name: string): boolean {
  return (
    name.startsWith('/static') ||
    name.startsWith('web/dist/assets') ||
    name.startsWith('fa://') ||
    name.startsWith('http:') ||
    name.startsWith('https://')
  );
}

/** authentik's `validate_file_name` (admin/files/validation.py): the message of the first rule broken, if any */
export function fileNameError(name: string): string | undefined {
  return passesThrough(name) ? undefined : uploadNameError(name);
}

/** authentik's `validate_upload_file_name`: the rules an uploaded file's name follows (src/files/) */
export function uploadNameError(name: string): string | undefined {
  if (!name) return 'File name cannot be empty';
  if (!/^[a-zA-Z0-9._/-]+$/.test(name))
    return 'File name can only contain letters (a-z, A-Z), numbers (0-9), dots (.), hyphens (-), underscores (_), and forward slashes (/)';
  if (name.includes('//')) return 'File name cannot contain duplicate /';
  if (name.startsWith('/')) return 'Absolute paths are not allowed';
  // Python's PurePosixPath drops `.` components and trailing slashes
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return "Parent directory references ('..') are not allowed";
  const normalized = parts.join('/');
  if (normalized.startsWith('.')) return "Paths cannot start with '.'";
  if (normalized.length > MAX_NAME) return `File name too long (max ${MAX_NAME} characters)`;
  if (parts.some((p) => p.length > MAX_PART)) return `Path component too long (max ${MAX_PART} characters)`;
  return undefined;
}

/** the URL of a stored image value: static paths and external URLs as they are, uploaded files under /files/media/ */
export function assetUrl(name: string): string {
  if (name.startsWith('web/dist/assets')) return `/static/dist/${name.slice('web/dist/'.length)}`;
  if (passesThrough(name)) return name;
  return `${MEDIA_PATH}${name.replace(/^\/+/, '')}`;
}

/** `%(theme)s` in a value: the light and dark variants' URLs (authentik's `themed_urls`), else null */
export function themedAssetUrls(name: string): { light: string; dark: string } | null {
  if (!name.includes('%(theme)s')) return null;
  return { light: assetUrl(name.replaceAll('%(theme)s', 'light')), dark: assetUrl(name.replaceAll('%(theme)s', 'dark')) };
}
