/** Shared steps of the browser tests: screenshots, the axe-core check, users and devices. */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type { Page } from 'playwright-core';
import { call, type TestServer } from '../helpers/server.js';

const require = createRequire(import.meta.url);
export const RESULTS = path.resolve('test-results');

export async function screenshot(page: Page, name: string) {
  fs.mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS, `${name}.png`), fullPage: true });
}

/** axe-core on the current page: the serious and critical violations (expected: none) */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const result = await page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run: (ctx: Document) => Promise<{ violations: { id: string; impact: string; help: string }[] }> } }
    ).axe;
    return axe.run(document);
  });
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help}`);
}

export async function createUser(srv: TestServer, username: string, password: string, email = `${username}@example.com`): Promise<number> {
  const u = await call(srv, 'POST', '/core/users/', { username, name: `${username} Example`, email });
  if (u.status !== 201) throw new Error(`user create failed: ${u.status} ${JSON.stringify(u.body)}`);
  const p = await call(srv, 'POST', `/core/users/${u.body.pk}/set_password/`, { password });
  if (p.status !== 204) throw new Error(`set_password failed: ${p.status}`);
  return u.body.pk as number;
}

/** the executor's current challenge component, as the page shows it */
export const stageOf = (page: Page) => page.getAttribute('[data-stage]', 'data-stage');

/** the default login page, already open or on its way: username, then password, each sent with Enter */
export async function logInOnPage(page: Page, username: string, password: string): Promise<void> {
  await page.waitForSelector('#uid_field', { timeout: 15000 });
  await page.fill('#uid_field', username);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#password');
  await page.fill('#password', password);
  await page.keyboard.press('Enter');
}

/** waits (briefly) until the element with `id` has focus, and returns the focused element's id */
export async function activeElementId(page: Page, id?: string): Promise<string | null> {
  if (id) await page.waitForFunction((want) => document.activeElement?.id === want, id, { timeout: 3000 }).catch(() => undefined);
  return page.evaluate(() => document.activeElement?.id ?? null);
}

/**
 * A passkey both sides know: a fresh P-256 key registered for `userId` in Keystage's database (rpId localhost), and
 * the same credential in a virtual authenticator of the page's browser (DevTools WebAuthn domain).
 */
export async function passkeyFor(
  srv: TestServer,
  page: Page,
  userId: number,
  opts: { name: string; resident: boolean; transport: 'usb' | 'internal' },
) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const cose = isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x, 'base64url')],
      [-3, Buffer.from(jwk.y, 'base64url')],
    ]),
  );
  const credentialId = randomBytes(32);
  const now = new Date().toISOString();
  await srv.app.store.db
    .insertInto('webauthn_devices')
    .values({
      user_id: userId,
      name: opts.name,
      confirmed: 1,
      created: now,
      last_updated: now,
      last_used: null,
      credential_id: credentialId.toString('base64url'),
      public_key: Buffer.from(cose).toString('base64url'),
      sign_count: 0,
      rp_id: 'localhost',
      aaguid: '00000000-0000-0000-0000-000000000000',
      transports: '[]',
    } as never)
    .execute();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: opts.transport, hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  await cdp.send('WebAuthn.addCredential', {
    authenticatorId,
    credential: {
      credentialId: credentialId.toString('base64'),
      isResidentCredential: opts.resident,
      rpId: 'localhost',
      privateKey: (privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer).toString('base64'),
      ...(opts.resident ? { userHandle: Buffer.from(String(userId)).toString('base64') } : {}),
      signCount: 1,
    },
  });
}
