/** The one list of stage types. Adding a type: its folder under src/stages/, and one line here. */
import type { StageDef } from './types.js';
import { identificationSchema } from './identification/schema.js';
import { captchaSchema } from './captcha/schema.js';
import { passwordSchema } from './password/schema.js';
import { authenticatorValidateSchema } from './authenticator_validate/schema.js';
import { userLoginSchema } from './user_login/schema.js';
import { denySchema } from './deny/schema.js';
import { dummySchema } from './dummy/schema.js';

export const stageTypes: StageDef[] = [
  identificationSchema,
  captchaSchema,
  passwordSchema,
  authenticatorValidateSchema,
  userLoginSchema,
  denySchema,
  dummySchema,
];

const byKind = new Map(stageTypes.map((d) => [d.kind, d]));
export const stageTypeByKind = (kind: string) => byKind.get(kind);
export const stageKinds = () => [...byKind.keys()];

export function stageMigrations() {
  return Object.assign({}, ...stageTypes.map((d) => d.migrations));
}
