/** Shared steps of the browser tests: screenshots, the axe-core check, users and devices. */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
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
    const axe = (window as unknown as { axe: { run: (ctx: Document) => Promise<{ violations: { id: string; impact: string; help: string }[] }> } }).axe;
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

/** waits (briefly) until the element with `id` has focus, and returns the focused element's id */
export async function activeElementId(page: Page, id?: string): Promise<string | null> {
  if (id) await page.waitForFunction((want) => document.activeElement?.id === want, id, { timeout: 3000 }).catch(() => undefined);
  return page.evaluate(() => document.activeElement?.id ?? null);
}
