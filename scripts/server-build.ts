/**
 * How the server is bundled (scripts/build.ts; test/expressions/build.test.ts bundles its own entry the same way):
 * src/main.ts into dist/server/main.mjs and the expression runtime's worker beside it, dist/server/expressions-worker.mjs
 * (src/expressions/index.ts starts it from there). Dependencies stay in node_modules: pyodide's interpreter and
 * standard library are read from there at run time.
 */
import path from 'node:path';
import type { BuildOptions } from 'esbuild';

export const serverEntries = (root: string) => ({
  main: path.join(root, 'src/main.ts'),
  'expressions-worker': path.join(root, 'src/expressions/worker.ts'),
});

export const SERVER_BUILD = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
} satisfies BuildOptions;
