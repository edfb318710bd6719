/**
 * The dependency rules of docs/architecture.md, checked on every relative import (static, dynamic and type-only) of
 * src/ and web/. Run by `npm run lint` (so by `npm test`); prints each broken rule and exits 1.
 *
 * 1. The flow engine (src/flows/engine/) knows stage types, device classes, policy types and the flow REST and
 *    browser routes only through its own contracts (Services, StageType, StageRuntime, the policy engine): it
 *    imports none of them.
 * 2. A plug-in folder (src/stages/<type>/, src/mfa/<class>/, src/policies/<type>/, src/providers/<type>/) reaches another plug-in of its
 *    kind only through that folder's index.ts (a stage's challenge.ts may embed another's challenge.ts: both are
 *    wire schemas).
 * 3. Domains and conventions (users, groups, brands, tokens, events, sessions, auth, instance, rest, db, expressions, crypto,
 *    applications, sources, rbac, reports, geoip, attributes) import no
 *    plug-in folder:
 *    plug-ins depend on them, not the other way round. Registries (src/stages/registry.ts, src/mfa/registry.ts,
 *    src/providers/registry.ts) are what the app wiring (src/server.ts) and applications (launch URLs) import.
 * 4. Server code does not import the browser tree (web/), and the browser tree imports from src/ only a stage's
 *    browser view, its challenge.ts, and the engine's challenge-types.ts (types and schemas, no server code).
 * 5. The expression runtime (src/expressions/) is shared by whoever runs authentik's Python (expression policies,
 *    property mappings): like a domain it imports no plug-in, and neither flows, policies nor providers — they call it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(rel));
    else if (entry.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** the plug-in folder a file belongs to (`src/stages/captcha`), if any */
function pluginOf(file: string): { kind: string; folder: string } | undefined {
  const m = /^src\/(stages|mfa|policies|providers)\/([^/]+)\//.exec(file);
  // (src/mfa/devices-api/ is the devices' REST resource, not a class; src/policies/engine/ and bindings/ are the
  // policy engine and the bindings' REST resource, not policy types)
  return m && !NOT_PLUGINS.has(`${m[1]}/${m[2]}`) ? { kind: m[1]!, folder: `src/${m[1]}/${m[2]}` } : undefined;
}

const NOT_PLUGINS = new Set(['mfa/devices-api', 'policies/engine', 'policies/bindings']);
const KIND_NAMES: Record<string, string> = { stages: 'stage', mfa: 'device class', policies: 'policy type', providers: 'provider type' };

const DOMAINS = [
  'users',
  'groups',
  'brands',
  'tokens',
  'events',
  'sessions',
  'auth',
  'instance',
  'rest',
  'db',
  'expressions',
  'crypto',
  'applications',
  'sources',
  'rbac',
  'reports',
  'geoip',
  'attributes',
].map((d) => `src/${d}/`);
const BROWSER_MAY_IMPORT = [
  /^src\/stages\/[^/]+\/(ui|challenge)\.ts$/,
  /^src\/providers\/[^/]+\/stages\/[^/]+\/(ui|challenge)\.ts$/,
  /^src\/sources\/[^/]+\/stages\/[^/]+\/(ui|challenge)\.ts$/,
  /^src\/flows\/engine\/challenge-types\.ts$/,
  /^src\/rest\/schema\.ts$/,
];

function broken(from: string, to: string): string | undefined {
  if (from.startsWith('src/flows/engine/') && (/^src\/(stages|mfa)\/|^src\/flows\/(rest|browser)\//.test(to) || pluginOf(to)))
    return 'the flow engine reaches plug-ins and routes only through its contracts (Services)';
  const a = pluginOf(from);
  const b = pluginOf(to);
  // (a challenge schema may embed another stage's: challenge.ts files are the wire contract, free of server code)
  const schemas = from.endsWith('/challenge.ts') && to.endsWith('/challenge.ts');
  if (b && (!a || a.folder !== b.folder) && a?.kind === b.kind && !to.endsWith('/index.ts') && !schemas)
    return `another ${KIND_NAMES[b.kind]} is reached through its index.ts`;
  if (DOMAINS.some((d) => from.startsWith(d)) && b) return 'domains and conventions do not import plug-ins';
  if (from.startsWith('src/expressions/') && /^src\/(flows|policies|providers)\//.test(to))
    return 'the expression runtime is called by flows, policies and providers, it does not call them';
  if (from.startsWith('src/') && !/^src\/(stages|(providers|sources)\/[^/]+\/stages)\/[^/]+\/ui\.ts$/.test(from) && to.startsWith('web/'))
    return 'server code does not import the browser tree';
  if (from.startsWith('web/') && to.startsWith('src/') && !BROWSER_MAY_IMPORT.some((re) => re.test(to)))
    return 'the browser tree imports only stage views, challenge schemas and challenge-types from src/';
  return undefined;
}

const problems: string[] = [];
for (const file of [...files('src'), ...files('web')]) {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]!;
    const target = path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts');
    const why = broken(file, target);
    if (why) problems.push(`${file} → ${target}: ${why}`);
  }
}
if (problems.length) {
  console.error(`check-imports: ${problems.length} import(s) break the dependency rules (docs/architecture.md):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log('check-imports: the dependency rules hold');
