/**
 * A JSON POST to a webhook: node:http(s), so a transport's `webhook_ca` can be the only certificate authority the
 * server is checked against; bounded in time and in the answer read back.
 */
import http from 'node:http';
import https from 'node:https';

export class TransportError extends Error {}

const TIMEOUT_MS = 10_000;
const MAX_ANSWER = 64 * 1024;

export function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  ca?: string,
): Promise<{ status: number; text: string }> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new TransportError(`Invalid webhook URL: ${url}`));
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    return Promise.reject(new TransportError(`Unsupported webhook URL scheme: ${target.protocol}`));
  const payload = Buffer.from(JSON.stringify(body));
  const lib = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length), 'user-agent': 'keystage' },
        timeout: TIMEOUT_MS,
        // the certificate itself is the trust anchor (a self-signed webhook server's own, or a CA's)
        ...(ca && target.protocol === 'https:' ? { ca, allowPartialTrustChain: true } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_ANSWER) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8').slice(0, MAX_ANSWER);
          const status = res.statusCode ?? 0;
          if (status >= 400) reject(new TransportError(text || `HTTP ${status}`));
          else resolve({ status, text });
        });
        res.on('error', (e) => reject(new TransportError(e.message)));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(new TransportError(e.message)));
    req.end(payload);
  });
}
