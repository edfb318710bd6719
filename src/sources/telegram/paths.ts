/** A Telegram source's browser URLs (authentik/sources/telegram/urls.py), and Keystage's end of its login stage. */
export const telegramStartPath = (slug: string) => `/source/telegram/${encodeURIComponent(slug)}/`;
export const telegramDonePath = (slug: string) => `/source/telegram/${encodeURIComponent(slug)}/done/`;
