/** A SAML source's browser URLs (authentik/sources/saml/urls.py). */
export const samlPath = (slug: string, view: '' | 'acs/' | 'slo/' | 'metadata/' = '') => `/source/saml/${encodeURIComponent(slug)}/${view}`;
