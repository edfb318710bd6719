/** every stage type's browser view, gathered at build time (scripts/build.ts) */
declare module 'keystage:stage-views' {}
