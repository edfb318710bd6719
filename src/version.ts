/** The authentik API version Keystage implements, reported by /admin/version/. */
export const VERSION = '2026.8.3';
