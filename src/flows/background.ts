/** A flow's background as a URL, themed variants included: shown by the flow interface and the flow API alike. */
export const DEFAULT_BACKGROUND = '/static/dist/assets/images/flow_background.jpg';

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
