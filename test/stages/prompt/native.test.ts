/**
 * authentik's user settings initial-value expressions, run natively (src/stages/prompt/native.ts), give what the
 * Python runtime gives for the same users — including attributes without `settings`, or with one that is no
 * dictionary; an edited text is not taken for one of them.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, stopExpressions, type JsonObject } from '../../../src/expressions/index.js';
import { policyUser } from '../../../src/policies/request.js';
import { nativePromptExpression, USER_SETTINGS_INITIAL } from '../../../src/stages/prompt/native.js';
import type { UsersTable } from '../../../src/db/types.js';

const user = (attributes: unknown): UsersTable =>
  ({
    id: 7,
    uuid: '5f0b2f7e-8a1c-4c38-9a52-3f3d2b4b1c11',
    username: 'ursula',
    name: 'Ursula Example',
    email: 'ursula@example.com',
    password: '!',
    is_active: 1,
    last_login: null,
    date_joined: '2026-01-01T00:00:00.000Z',
    password_change_date: '2026-01-01T00:00:00.000Z',
    last_updated: '2026-01-01T00:00:00.000Z',
    path: 'users',
    type: 'internal',
    attributes: JSON.stringify(attributes),
  }) as unknown as UsersTable;

// the Python runtime's worker keeps the process alive until it is stopped
after(() => stopExpressions());

describe('native prompt expressions', () => {
  it('match the Python runtime', async () => {
    const users = [
      user({}),
      user({ settings: { locale: 'de' } }),
      user({ settings: {} }),
      user({ settings: 'not a dict' }),
      user({ settings: { locale: null } }),
      user({ settings: { locale: 42 } }),
    ];
    for (const [field, source] of Object.entries(USER_SETTINGS_INITIAL)) {
      const native = nativePromptExpression(source);
      assert.ok(native, field);
      for (const u of users) {
        const py = await evaluate({
          source,
          globals: { user: policyUser(u) as JsonObject, request: {}, prompt_context: {}, dry_run: false },
        });
        assert.ok(py.ok, JSON.stringify(py));
        assert.deepEqual(native(u), py.value, `${field} with ${u.attributes}`);
      }
    }
  });

  it('an edited text is not native', () => {
    assert.equal(nativePromptExpression(USER_SETTINGS_INITIAL.name!.replace('user.name', 'user.name.upper()')), undefined);
    assert.ok(nativePromptExpression(`\n${USER_SETTINGS_INITIAL.email!}\n\n`), 'blank lines do not matter');
  });
});
