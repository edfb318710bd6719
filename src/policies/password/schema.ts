import { S } from '../../rest/schema.js';
import { addColumns } from '../../db/ddl.js';
import type { PolicyDef } from '../types.js';

const uint = (o: Record<string, unknown> = {}) => S.int({ minimum: 0, ...o });

export const passwordSchema = {
  kind: 'passwordpolicy',
  app: 'authentik_policies_password',
  model: 'PasswordPolicy',
  path: 'password',
  table: 'policy_password',
  component: 'ak-policy-password-form',
  verboseName: 'Password Policy',
  verboseNamePlural: 'Password Policies',
  description: 'Policy to make sure passwords have certain properties',
  fields: {
    password_field: S.str({
      default: 'password',
      description: 'Field key to check, field keys defined in Prompt stages are available.',
    }),
    amount_digits: uint({ default: 0 }),
    amount_uppercase: uint({ default: 0 }),
    amount_lowercase: uint({ default: 0 }),
    amount_symbols: uint({ default: 0 }),
    length_min: uint({ default: 0 }),
    // kept as sent, not trimmed as DRF would: the default ends with a space, which is a symbol (a PUT of the object as
    // read must not change it)
    symbol_charset: S.str({ default: '!\\"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ ', 'x-no-trim': true }),
    error_message: S.text({ default: '' }),
    check_static_rules: S.bool({ default: true }),
    check_have_i_been_pwned: S.bool({ default: false }),
    check_zxcvbn: S.bool({ default: false }),
    hibp_allowed_count: uint({ default: 0, description: 'How many times the password hash is allowed to be on haveibeenpwned' }),
    zxcvbn_score_threshold: uint({
      default: 2,
      description: 'If the zxcvbn score is equal or less than this value, the policy will fail.',
    }),
  },
  filters: {
    password_field: { type: 'str', column: 't.password_field' },
    amount_digits: { type: 'int', column: 't.amount_digits' },
    amount_uppercase: { type: 'int', column: 't.amount_uppercase' },
    amount_lowercase: { type: 'int', column: 't.amount_lowercase' },
    amount_symbols: { type: 'int', column: 't.amount_symbols' },
    length_min: { type: 'int', column: 't.length_min' },
    symbol_charset: { type: 'str', column: 't.symbol_charset' },
    error_message: { type: 'str', column: 't.error_message' },
    check_static_rules: { type: 'bool', column: 't.check_static_rules' },
    check_have_i_been_pwned: { type: 'bool', column: 't.check_have_i_been_pwned' },
    check_zxcvbn: { type: 'bool', column: 't.check_zxcvbn' },
    hibp_allowed_count: { type: 'int', column: 't.hibp_allowed_count' },
    zxcvbn_score_threshold: { type: 'int', column: 't.zxcvbn_score_threshold' },
  },
  migrations: {
    policy_password_0001: (dialect) => ({
      up: (db) =>
        addColumns(
          db.schema
            .createTable('policy_password')
            .addColumn('policy_uuid', 'text', (c) => c.primaryKey().references('policies.policy_uuid').onDelete('cascade')),
          dialect,
          {
            password_field: 'text',
            amount_digits: 'int',
            amount_uppercase: 'int',
            amount_lowercase: 'int',
            amount_symbols: 'int',
            length_min: 'int',
            symbol_charset: 'text',
            error_message: 'text',
            check_static_rules: 'bool',
            check_have_i_been_pwned: 'bool',
            check_zxcvbn: 'bool',
            hibp_allowed_count: 'int',
            zxcvbn_score_threshold: 'int',
          },
        ).execute(),
    }),
  },
} satisfies Omit<PolicyDef, 'evaluate'>;
