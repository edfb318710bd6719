const made = new Map<string, string>();

/** authentik's "initials" avatar as an inline SVG data URI (no third-party request); recent ones are kept */
export function initialsAvatar(name: string, username: string): string {
  const source = (name || username).trim();
  const known = made.get(source);
  if (known) return known;
  const uri = render(source);
  if (made.size >= 1000) made.delete(made.keys().next().value!);
  made.set(source, uri);
  return uri;
}

function render(source: string): string {
  const initials =
    source
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => w[0]!.toUpperCase())
      .join('') || '?';
  const esc = initials.replace(/[<>&"']/g, '');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#4b5563"/><text x="50%" y="50%" dy=".35em" text-anchor="middle" font-family="sans-serif" font-size="26" fill="#fff">${esc}</text></svg>`;
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}
