/** The PolicyBinding object (authentik's PolicyBindingSerializer). */
import { Type } from '@sinclair/typebox';
import { S, type Props } from '../../rest/schema.js';

const ref = (component: string) => S.ro(Type.Unsafe({ $ref: `#/components/schemas/${component}`, nullable: true, 'x-computed': true }));

export const policyBindingProps: Props = {
  pk: S.ro(S.uuid()),
  policy: S.fk({ table: 'policies', column: 'policy_uuid' }, { default: null }),
  group: S.fk({ table: 'groups', column: 'group_uuid' }, { default: null }),
  user: S.nullable(S.intFk({ table: 'users', column: 'id' }, { default: null })),
  policy_obj: ref('Policy'),
  group_obj: ref('PartialGroup'),
  user_obj: ref('PartialUser'),
  target: S.uuid(),
  negate: S.bool({ default: false, description: 'Negates the outcome of the policy. Messages are unaffected.' }),
  enabled: S.bool({ default: true }),
  order: S.int(),
  timeout: S.int({ minimum: 0, default: 30, description: 'Timeout after which Policy execution is terminated.' }),
  failure_result: S.bool({ default: false, description: 'Result if the Policy execution fails.' }),
  // authentik's ExpiringModel (bindings/expiry.ts): stored, shown, never written by a client (PolicyBindingRequest lacks them)
  expires: S.ro(S.nullable(S.datetime())),
  expiring: S.ro(S.bool()),
};
