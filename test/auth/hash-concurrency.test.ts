/** argon2id computations beyond KEYSTAGE_ARGON2_CONCURRENCY wait their turn, and every one still answers correctly. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, hashingQueue, verifyPassword } from '../../src/auth/passwords.js';
import { loadConfig } from '../../src/config.js';

const cheap = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

describe('argon2id concurrency', () => {
  it('defaults to the CPUs the process may use, and can be set', () => {
    assert.ok(loadConfig({}).argon2.concurrency >= 1);
    assert.equal(loadConfig({ KEYSTAGE_ARGON2_CONCURRENCY: '3' }).argon2.concurrency, 3);
  });

  it('with concurrency 1, four verifications run one at a time and all answer correctly', async () => {
    const p = { ...cheap, concurrency: 1 };
    const encoded = await hashPassword('right', p);
    assert.deepEqual(hashingQueue(), { running: 0, waiting: 0 });
    const all = Promise.all([
      verifyPassword(encoded, 'right', p),
      verifyPassword(encoded, 'wrong', p),
      verifyPassword(encoded, 'right', p),
      verifyPassword(encoded, 'x', p),
    ]);
    assert.deepEqual(hashingQueue(), { running: 1, waiting: 3 }, 'one runs, three wait');
    const results = await all;
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, false, true, false],
    );
    assert.deepEqual(hashingQueue(), { running: 0, waiting: 0 }, 'nothing left behind');
  });

  it('with concurrency 2, two run at once', async () => {
    const p = { ...cheap, concurrency: 2 };
    const encoded = await hashPassword('right', p);
    const all = Promise.all([1, 2, 3].map(() => verifyPassword(encoded, 'right', p)));
    assert.deepEqual(hashingQueue(), { running: 2, waiting: 1 });
    assert.ok((await all).every((r) => r.ok));
    assert.deepEqual(hashingQueue(), { running: 0, waiting: 0 });
  });
});
