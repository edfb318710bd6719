/**
 * The absolute address of a link that reaches another person (an e-mail): `KEYSTAGE_EXTERNAL_URL`, else
 * `https://` + the request's brand's own domain — never the request's Host or X-Forwarded-Host, which whoever sends
 * the request chooses (password-reset poisoning). Undefined when neither is configured (the default brand's
 * `authentik-default` is no host name): such a stage cannot send.
 */
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { Brand } from './match.js';

/** a domain a link may name: a host name with a dot (or localhost), no wildcard, no placeholder */
const linkable = (domain: string) => /^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+)$/i.test(domain);

export async function linkBase(
  svc: { config: Config; brand(host: string): Promise<Brand> },
  req: FastifyRequest,
): Promise<string | undefined> {
  const ext = svc.config.externalUrl;
  if (ext) return ext.href.replace(/\/+$/, '');
  const brand = await svc.brand(req.host);
  if (brand.brand_uuid && linkable(brand.domain)) return `https://${brand.domain.toLowerCase()}`;
  return undefined;
}

/** the origin the request was made to (the Host as Fastify resolved it): for links back to the same caller only */
export const requestOrigin = (req: FastifyRequest) => `${req.protocol}://${req.host}`;

/** `/if/flow/{slug}/?{query}` under the base */
export function flowLink(base: string, slug: string, query: Record<string, string>): string {
  const qs = new URLSearchParams(query).toString();
  return `${base}/if/flow/${encodeURIComponent(slug)}/${qs ? `?${qs}` : ''}`;
}
