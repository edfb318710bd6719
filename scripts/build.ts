/**
 * Builds what `npm start` serves: the browser interfaces (web/flow, web/user and web/admin, Lit, bundled by esbuild
 * into dist/web/flow.js, user.js and admin.js, with web/shared/keystage.css copied beside them) and the server itself
 * (bundled into dist/server/main.mjs, the expression worker into dist/server/expressions-worker.mjs; dependencies —
 * pyodide's interpreter and standard library among them — stay in node_modules). Run by `npm start` and `npm test`.
 */
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import type { Plugin } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { SERVER_BUILD, serverEntries } from './server-build.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'dist', 'web');
mkdirSync(web, { recursive: true });

/**
 * `keystage:stage-views` (imported by web/flow/index.ts): every stage type's browser view, src/stages/<type>/ui.ts,
 * so a new stage type's view is bundled without a line anywhere else
 */
const stageViews: Plugin = {
  name: 'stage-views',
  setup(b) {
    b.onResolve({ filter: /^keystage:stage-views$/ }, () => ({ path: 'stage-views', namespace: 'keystage' }));
    b.onLoad({ filter: /.*/, namespace: 'keystage' }, () => {
      const stages = path.join(root, 'src', 'stages');
      const views = readdirSync(stages, { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(path.join(stages, d.name, 'ui.ts')))
        .map((d) => path.join(stages, d.name, 'ui.ts'));
      // a provider type's in-memory stages: src/providers/<type>/stages/<name>/ui.ts
      const providers = path.join(root, 'src', 'providers');
      for (const p of readdirSync(providers, { withFileTypes: true })) {
        const own = path.join(providers, p.name, 'stages');
        if (!p.isDirectory() || !existsSync(own)) continue;
        for (const d of readdirSync(own, { withFileTypes: true }))
          if (d.isDirectory() && existsSync(path.join(own, d.name, 'ui.ts'))) views.push(path.join(own, d.name, 'ui.ts'));
      }
      // a source type's in-memory stages: src/sources/<type>/stages/<name>/ui.ts
      const sources = path.join(root, 'src', 'sources');
      for (const p of readdirSync(sources, { withFileTypes: true })) {
        const own = path.join(sources, p.name, 'stages');
        if (!p.isDirectory() || !existsSync(own)) continue;
        for (const d of readdirSync(own, { withFileTypes: true }))
          if (d.isDirectory() && existsSync(path.join(own, d.name, 'ui.ts'))) views.push(path.join(own, d.name, 'ui.ts'));
      }
      views.sort();
      return {
        contents: views.map((v) => `import ${JSON.stringify(v)};`).join('\n'),
        resolveDir: root,
        loader: 'ts',
      };
    });
  },
};

await Promise.all([
  build({
    entryPoints: {
      flow: path.join(root, 'web/flow/index.ts'),
      user: path.join(root, 'web/user/index.ts'),
      admin: path.join(root, 'web/admin/index.ts'),
    },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outdir: web,
    logLevel: 'warning',
    plugins: [stageViews],
  }),
  build({ ...SERVER_BUILD, entryPoints: serverEntries(root), outdir: path.join(root, 'dist', 'server') }),
]);
copyFileSync(path.join(root, 'web/shared/keystage.css'), path.join(web, 'keystage.css'));
console.log('built dist/web and dist/server');
