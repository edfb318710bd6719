/**
 * Suites that need a real PostgreSQL (several processes on one database, an outage, triggers): registered when
 * KEYSTAGE_TEST_DATABASE_URL is set; otherwise one skipped test that says why, so the run reports it as skipped
 * instead of registering nothing.
 */
import { describe, it } from 'node:test';

export const hasPostgres = (): boolean => Boolean(process.env.KEYSTAGE_TEST_DATABASE_URL);

/** `describe(name, fn)` with KEYSTAGE_TEST_DATABASE_URL; else a skipped test whose reason ends with `why`. */
export function describePostgres(name: string, why: string, fn: () => void): void {
  if (hasPostgres()) {
    describe(name, fn);
    return;
  }
  describe(name, () => {
    it('needs PostgreSQL', { skip: `KEYSTAGE_TEST_DATABASE_URL is not set: ${why}` }, () => {});
  });
}
