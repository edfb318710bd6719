/**
 * authentik's default-blueprint prompt expressions (the user settings flow's initial values:
 * blueprints/default/flow-default-user-settings-flow.yaml), run as TypeScript instead of Python when a prompt's
 * expression is exactly one of them (blank lines and trailing spaces aside), so the settings page never needs the
 * Python runtime. test/stages/prompt/native.test.ts shows each gives the Python runtime's result.
 */
import type { Json } from '../../expressions/index.js';
import type { UsersTable } from '../../db/types.js';

const attributeOf = (field: string) => `try:
    return user.${field}
except:
    return ''
`;

/** the initial-value expression of each field of authentik's default user settings prompt stage */
export const USER_SETTINGS_INITIAL: Record<string, string> = {
  username: attributeOf('username'),
  name: attributeOf('name'),
  email: attributeOf('email'),
  'attributes.settings.locale': `try:
    return user.attributes.get("settings", {}).get("locale", "")
except:
    return ''
`,
};

const normalise = (source: string) =>
  source
    .split(/\r?\n/)
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l.trim() !== '')
    .join('\n');

type Native = (user: UsersTable | undefined) => Json;

function locale(user: UsersTable | undefined): Json {
  if (!user) return '';
  let attributes: unknown;
  try {
    attributes = JSON.parse(user.attributes || '{}');
  } catch {
    return '';
  }
  const isDict = (v: unknown): v is Record<string, Json> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (!isDict(attributes)) return '';
  const settings = Object.hasOwn(attributes, 'settings') ? attributes.settings : {};
  // `.get` of something that is no dictionary raises, and the expression answers ''
  if (!isDict(settings)) return '';
  return Object.hasOwn(settings, 'locale') ? (settings.locale ?? null) : '';
}

const NATIVE = new Map<string, Native>([
  [normalise(USER_SETTINGS_INITIAL.username!), (u) => u?.username ?? ''],
  [normalise(USER_SETTINGS_INITIAL.name!), (u) => u?.name ?? ''],
  [normalise(USER_SETTINGS_INITIAL.email!), (u) => u?.email ?? ''],
  [normalise(USER_SETTINGS_INITIAL['attributes.settings.locale']!), locale],
]);

/** the native version of a prompt expression, if it is one of authentik's defaults */
export function nativePromptExpression(source: string): Native | undefined {
  return NATIVE.get(normalise(source));
}
