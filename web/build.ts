/** Bundles the flow interface (Lit) with esbuild into dist/web/. Run by `npm start` and `npm test`. */
import { build } from 'esbuild';
import { mkdirSync, copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { flow: path.join(root, 'web/src/index.ts'), user: path.join(root, 'web/src/user.ts') },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outdir: out,
  logLevel: 'warning',
});
copyFileSync(path.join(root, 'web/static/keystage.css'), path.join(out, 'keystage.css'));
console.log(`built ${path.relative(root, out)}`);
