/**
 * authentik's default source flows, `default-source-authentication`, `default-source-enrollment` and
 * `default-source-pre-authentication` (its slugs,
 * stages and policies: src/policies/expression/source-defaults.ts), created at every start unless flows of those
 * slugs exist: an OAuth source created without flows of its own can name them, as authentik's documentation says.
 * Both require an unauthenticated person and apply only in a flow a source started.
 */
import type { DB } from '../db/index.js';
import { bindIfNoUsername, bindIfSso } from '../policies/expression/source-defaults.js';
import { ensureFlow } from './defaults.js';
import { fillPromptStage } from './default-enrollment.js';

export const SOURCE_AUTHENTICATION_SLUG = 'default-source-authentication';
export const SOURCE_ENROLLMENT_SLUG = 'default-source-enrollment';
export const SOURCE_PRE_AUTHENTICATION_SLUG = 'default-source-pre-authentication';

export async function ensureDefaultSourceFlows(db: DB): Promise<void> {
  // (a SAML source's `pre_authentication_flow`, run before a POST binding's request: none of its own stages)
  await ensureFlow(
    db,
    {
      slug: SOURCE_PRE_AUTHENTICATION_SLUG,
      name: 'Pre-Authentication',
      title: '',
      designation: 'stage_configuration',
    },
    [],
  );
  if (
    await ensureFlow(
      db,
      {
        slug: SOURCE_AUTHENTICATION_SLUG,
        name: 'Welcome to Keystage!',
        title: 'Welcome to Keystage!',
        designation: 'authentication',
        authentication: 'require_unauthenticated',
      },
      [{ kind: 'userloginstage', name: 'default-source-authentication-login', fields: {}, order: 0 }],
    )
  )
    await bindIfSso(db, SOURCE_AUTHENTICATION_SLUG, 'default-source-authentication-if-sso');
  if (
    await ensureFlow(
      db,
      {
        slug: SOURCE_ENROLLMENT_SLUG,
        name: 'Welcome to Keystage! Please select a username.',
        title: 'Welcome to Keystage! Please select a username.',
        designation: 'enrollment',
        authentication: 'require_unauthenticated',
      },
      [
        { kind: 'promptstage', name: 'default-source-enrollment-prompt', fields: {}, order: 0 },
        {
          kind: 'userwritestage',
          name: 'default-source-enrollment-write',
          fields: { user_creation_mode: 'always_create', user_type: 'external' },
          order: 1,
        },
        { kind: 'userloginstage', name: 'default-source-enrollment-login', fields: {}, order: 2 },
      ],
      (tx) =>
        fillPromptStage(
          tx,
          'default-source-enrollment-prompt',
          [
            {
              name: 'default-source-enrollment-field-username',
              field_key: 'username',
              label: 'Username',
              type: 'username',
              placeholder: 'Username',
            },
          ],
          false,
        ),
    )
  ) {
    await bindIfSso(db, SOURCE_ENROLLMENT_SLUG, 'default-source-enrollment-if-sso');
    await bindIfNoUsername(db, SOURCE_ENROLLMENT_SLUG, 'default-source-enrollment-prompt');
  }
}
