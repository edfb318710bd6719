/**
 * DPoP at Keystage's endpoints (RFC 9449): the token endpoint's proof (`DPoP` header, for POST at the URL asked) makes
 * the tokens it issues bound to the proof's key; a resource (userinfo, GitHub's /user) asked with `Authorization: DPoP
 * <token>` checks the proof names that token (`ath`) and is signed by the key the token is bound to. A proof is used
 * once across all nodes (tokens/dpop-jti.ts). A bound token is refused as a plain bearer token.
 */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../services.js';
import { checkProof, DPoPError, type DPoPProof } from '../protocol/dpop.js';
import { BearerTokenError, TokenError } from '../protocol/errors.js';
import { claimJti } from '../tokens/dpop-jti.js';
import { originOf } from './http.js';

/** the URL the request was sent to, as the client named it (the external origin and the path, no query) */
const targetOf = (svc: Services, req: FastifyRequest) => `${originOf(req, svc.config)}${req.url.split('?')[0]}`;

/** the single `DPoP` header, or undefined; more than one is a malformed proof */
function proofHeader(req: FastifyRequest): string | undefined | null {
  const h = req.headers.dpop;
  if (h === undefined) return undefined;
  return typeof h === 'string' ? h : null;
}

async function checked(svc: Services, proof: string, req: FastifyRequest, accessToken?: string): Promise<DPoPProof> {
  const p = await checkProof(proof, { htm: req.method, htu: targetOf(svc, req), ...(accessToken !== undefined ? { accessToken } : {}) });
  if (!(await claimJti(svc.db, p.jkt, p.jti))) throw new DPoPError('DPoP proof jti replay detected');
  return p;
}

/** the token request's proof: undefined without one; a bad one is `invalid_dpop_proof` */
export async function tokenProof(svc: Services, req: FastifyRequest): Promise<DPoPProof | undefined> {
  const proof = proofHeader(req);
  if (proof === undefined) return undefined;
  try {
    if (proof === null) throw new DPoPError('multiple DPoP headers');
    return await checked(svc, proof, req);
  } catch (e) {
    if (e instanceof DPoPError) throw new TokenError('invalid_dpop_proof').withCause(e.message);
    throw e;
  }
}

/**
 * a resource's access token as presented: `Bearer …` / `access_token` (the caller's usual lookup) or `DPoP …` with its
 * proof. Returns the raw token and the key the request proved (null for a bearer token).
 */
export function presentedToken(req: FastifyRequest): { scheme: 'dpop'; token: string } | undefined {
  const header = req.headers.authorization ?? '';
  const m = /^DPoP\s+(\S+)$/i.exec(header);
  return m ? { scheme: 'dpop', token: m[1]! } : undefined;
}

/**
 * the binding check at a resource: a bound token needs the DPoP scheme with a proof by its key; an unbound one the
 * bearer scheme. `dpop` is what `presentedToken` found.
 */
export async function checkBinding(
  svc: Services,
  req: FastifyRequest,
  token: { dpop_jkt: string | null },
  raw: string,
  dpop: boolean,
): Promise<void> {
  if (!token.dpop_jkt) {
    if (dpop) throw new BearerTokenError('invalid_token');
    return;
  }
  const proof = proofHeader(req);
  if (!dpop || !proof) throw new BearerTokenError('invalid_token');
  try {
    const p = await checked(svc, proof, req, raw);
    if (p.jkt !== token.dpop_jkt) throw new DPoPError('DPoP proof key is not the token’s');
  } catch (e) {
    if (e instanceof DPoPError) throw new BearerTokenError('invalid_token');
    throw e;
  }
}
