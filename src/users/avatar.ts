import { createHash } from 'node:crypto';
const made = new Map<string, string>();

/**
 * authentik's "initials" avatar as an inline SVG data URI (no third-party request); the image depends only on the
 * initials, so it is kept by them (a few hundred at most in practice, each person's page after the first costs none)
 */
export function initialsAvatar(name: string, username: string): string {
  const initials =
    (name || username)
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => w[0]!.toUpperCase())
      .join('') || '?';
  const known = made.get(initials);
  if (known) return known;
  const uri = render(initials);
  if (made.size >= 1000) made.delete(made.keys().next().value!);
  made.set(initials, uri);
  return uri;
}

function render(initials: string): string {
  const esc = initials.replace(/[<>&"']/g, '');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#4b5563"/><text x="50%" y="50%" dy=".35em" text-anchor="middle" font-family="sans-serif" font-size="26" fill="#fff">${esc}</text></svg>`;
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/** what an avatar is drawn from: the user's names, e-mail and attributes (absent in a flow's pending user) */
export interface AvatarSubject {
  name: string;
  username: string;
  email?: string | null;
  attributes?: Record<string, unknown>;
}

/** authentik's avatar when every mode came up empty ("none"): a neutral silhouette */
export const NO_AVATAR =
  'data:image/svg+xml;base64,' +
  Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#9ca3af"/><circle cx="32" cy="25" r="12" fill="#f3f4f6"/><path d="M10 58c2-13 11-19 22-19s20 6 22 19z" fill="#f3f4f6"/></svg>',
  ).toString('base64');

const TEMPLATE = /^https?:\/\/[^\s"'<>]+$/i;
const PLACEHOLDER = /%\((\w+)\)s/g;
const KNOWN_PLACEHOLDERS = new Set(['username', 'mail_hash', 'upn']);

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

/** whether the modes read the user's attributes (`attributes.<key>`, `%(upn)s`) */
export const usesAttributes = (avatars: string) => avatars.includes('attributes.') || avatars.includes('%(upn)s');

/** why `avatars` (authentik's comma-separated modes) cannot be drawn, or undefined */
export function avatarModeError(avatars: string): string | undefined {
  for (const raw of avatars.split(',')) {
    const mode = raw.trim();
    if (mode === 'none' || mode === 'initials' || mode === 'gravatar') continue;
    if (/^attributes\.[\w.-]+$/.test(mode)) continue;
    if (TEMPLATE.test(mode) && [...mode.matchAll(PLACEHOLDER)].every((m) => KNOWN_PLACEHOLDERS.has(m[1]!))) continue;
    return `"${mode}" is not an avatar mode: none, initials, gravatar, attributes.<key> or an http(s) URL template with %(username)s, %(mail_hash)s or %(upn)s.`;
  }
  return undefined;
}

function attributeAt(attributes: Record<string, unknown> | undefined, path: string): unknown {
  let v: unknown = attributes;
  for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

/**
 * The user's avatar by authentik's modes, in order, the first that gives one: `none` (a silhouette), `initials`,
 * `gravatar` (for a user with an e-mail address — Keystage does not ask Gravatar first whether it has an image, so
 * an unknown address shows Gravatar's own placeholder), `attributes.<key>` (a URL in the user's attributes),
 * or a URL template (`%(username)s`, `%(mail_hash)s`, `%(upn)s`, URL-encoded).
 */
export function avatarOf(u: AvatarSubject, avatars: string): string {
  for (const raw of avatars.split(',')) {
    const mode = raw.trim();
    if (mode === 'none') return NO_AVATAR;
    if (mode === 'initials') return initialsAvatar(u.name, u.username);
    const email = u.email?.trim().toLowerCase();
    if (mode === 'gravatar') {
      if (email) return `https://www.gravatar.com/avatar/${md5(email)}?size=158&rating=g&default=mp`;
      continue;
    }
    if (mode.startsWith('attributes.')) {
      const v = attributeAt(u.attributes, mode.slice('attributes.'.length));
      if (typeof v === 'string' && /^(https?:\/\/|data:image\/)/i.test(v)) return v;
      continue;
    }
    if (TEMPLATE.test(mode)) {
      const upn = attributeAt(u.attributes, 'upn');
      const values: Record<string, string | undefined> = {
        username: u.username,
        mail_hash: email ? md5(email) : undefined,
        upn: typeof upn === 'string' ? upn : undefined,
      };
      let missing = false;
      const url = mode.replace(PLACEHOLDER, (_m, key: string) => {
        const v = values[key];
        if (!v) missing = true;
        return encodeURIComponent(v ?? '');
      });
      if (!missing) return url;
    }
  }
  return NO_AVATAR;
}
