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
