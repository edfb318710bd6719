/**
 * Builds what `npm start` serves: the browser interfaces (web/flow and web/user, Lit, bundled by esbuild into
 * dist/web/flow.js and dist/web/user.js, with web/shared/keystage.css copied beside them) and the server itself
 * (bundled into dist/server/main.mjs; dependencies stay in node_modules). Run by `npm start` and `npm test`.
 */
import { build } from 'esbuild';
import { mkdirSync, copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'dist', 'web');
mkdirSync(web, { recursive: true });

await Promise.all([
  build({
    entryPoints: { flow: path.join(root, 'web/flow/index.ts'), user: path.join(root, 'web/user/index.ts') },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outdir: web,
    logLevel: 'warning',
  }),
  build({
    entryPoints: [path.join(root, 'src/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    outfile: path.join(root, 'dist', 'server', 'main.mjs'),
    logLevel: 'warning',
  }),
]);
copyFileSync(path.join(root, 'web/shared/keystage.css'), path.join(web, 'keystage.css'));
console.log('built dist/web and dist/server');
