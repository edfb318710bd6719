/**
 * A User-Agent header as ua-parser's `user_agent_parser.Parse` shapes it (what authentik's AuthenticatedSession
 * `user_agent` shows): the browser, the operating system and the device, for the common browsers and systems only —
 * anything else is family "Other", its versions null.
 */
export interface ParsedUserAgent {
  device: { brand: string | null; family: string; model: string | null };
  os: { family: string; major: string | null; minor: string | null; patch: string | null; patch_minor: string | null };
  user_agent: { family: string; major: string; minor: string; patch: string };
  string: string;
}

const BROWSERS: [RegExp, string][] = [
  [/\bEdgA?\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Edge'],
  [/\bOPR\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Opera'],
  [/\bFirefox\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Firefox'],
  [/\bHeadlessChrome\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'HeadlessChrome'],
  [/\bChromium\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Chromium'],
  [/\bCriOS\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Chrome Mobile iOS'],
  [/\bChrome\/(\d+)(?:\.(\d+))?(?:\.(\d+))?.*Mobile/, 'Chrome Mobile'],
  [/\bChrome\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Chrome'],
  [/\bVersion\/(\d+)(?:\.(\d+))?(?:\.(\d+))?.*Mobile.*Safari\//, 'Mobile Safari'],
  [/\bVersion\/(\d+)(?:\.(\d+))?(?:\.(\d+))?.*Safari\//, 'Safari'],
  [/\bcurl\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'curl'],
  [/\bnode(?:-fetch)?\/?(\d+)?(?:\.(\d+))?(?:\.(\d+))?/i, 'Other'],
];

const WINDOWS: Record<string, string> = { '10.0': '10', '6.3': '8.1', '6.2': '8', '6.1': '7', '6.0': 'Vista', '5.1': 'XP' };

function os(ua: string): ParsedUserAgent['os'] {
  const none = { major: null, minor: null, patch: null, patch_minor: null };
  let m = /iPhone OS (\d+)_(\d+)(?:_(\d+))?|CPU OS (\d+)_(\d+)(?:_(\d+))?/.exec(ua);
  if (m) return { family: 'iOS', major: m[1] ?? m[4] ?? null, minor: m[2] ?? m[5] ?? null, patch: m[3] ?? m[6] ?? null, patch_minor: null };
  m = /Android (\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(ua);
  if (m) return { family: 'Android', major: m[1]!, minor: m[2] ?? null, patch: m[3] ?? null, patch_minor: null };
  m = /Windows NT (\d+\.\d+)/.exec(ua);
  if (m) return { family: 'Windows', ...none, major: WINDOWS[m[1]!] ?? null };
  m = /Mac OS X (\d+)[_.](\d+)(?:[_.](\d+))?/.exec(ua);
  if (m) return { family: 'Mac OS X', major: m[1]!, minor: m[2]!, patch: m[3] ?? null, patch_minor: null };
  if (/CrOS/.test(ua)) return { family: 'Chrome OS', ...none };
  if (/Ubuntu/.test(ua)) return { family: 'Ubuntu', ...none };
  if (/Linux/.test(ua)) return { family: 'Linux', ...none };
  return { family: 'Other', ...none };
}

function device(ua: string): ParsedUserAgent['device'] {
  const m = /\b(iPhone|iPad|iPod)\b/.exec(ua);
  if (m) return { family: m[1]!, brand: 'Apple', model: m[1]! };
  if (/Macintosh/.test(ua)) return { family: 'Mac', brand: 'Apple', model: 'Mac' };
  if (/Android.*Mobile/.test(ua)) return { family: 'Generic Smartphone', brand: 'Generic', model: 'Smartphone' };
  if (/Android/.test(ua)) return { family: 'Generic Tablet', brand: 'Generic', model: 'Tablet' };
  return { family: 'Other', brand: null, model: null };
}

export function parseUserAgent(ua: string): ParsedUserAgent {
  // (authentik's schema has the browser's versions as strings, never null: an unknown one is '')
  let user_agent: ParsedUserAgent['user_agent'] = { family: 'Other', major: '', minor: '', patch: '' };
  for (const [re, family] of BROWSERS) {
    const m = re.exec(ua);
    if (!m) continue;
    if (family !== 'Other') user_agent = { family, major: m[1] ?? '', minor: m[2] ?? '', patch: m[3] ?? '' };
    break;
  }
  return { device: device(ua), os: os(ua), user_agent, string: ua };
}

const str = { type: 'string' };
const nullableStr = { type: 'string', nullable: true };

/** the OpenAPI schema of a ParsedUserAgent (authentik's UserAgentDict) */
export const userAgentSchema = {
  type: 'object',
  description: 'Get parsed user agent',
  properties: {
    device: {
      type: 'object',
      description: 'User agent device',
      properties: { brand: nullableStr, family: str, model: nullableStr },
      required: ['brand', 'family', 'model'],
    },
    os: {
      type: 'object',
      description: 'User agent os',
      properties: { family: str, major: nullableStr, minor: nullableStr, patch: nullableStr, patch_minor: nullableStr },
      required: ['family', 'major', 'minor', 'patch', 'patch_minor'],
    },
    user_agent: {
      type: 'object',
      description: 'User agent browser',
      properties: { family: str, major: str, minor: str, patch: str },
      required: ['family', 'major', 'minor', 'patch'],
    },
    string: str,
  },
  required: ['device', 'os', 'string', 'user_agent'],
};
