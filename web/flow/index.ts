/**
 * The flow interface bundle: the executor, framework views, and every stage type's view (src/stages/<type>/ui.ts,
 * gathered by the build: scripts/build.ts, `keystage:stage-views`).
 */
import './executor.js';
import './views.js';
import 'keystage:stage-views';
