/** a stylesheet imported by a bundle entry: esbuild writes it beside the bundle (dist/web/<entry>.css) */
declare module '*.css';
