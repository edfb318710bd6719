/**
 * Expression policies: authentik's Python, run in the sandboxed Python runtime (src/expressions/), except
 * authentik's default-blueprint expressions, which run natively (native.ts). A result is truthy → passing; the
 * messages are what `ak_message` collected.
 */
import type { PolicyConfig, PolicyDef } from '../types.js';
import { expressionSchema } from './schema.js';
import { nativeOf } from './native.js';

type Config = PolicyConfig<typeof expressionSchema>;

export const expressionPolicy: PolicyDef = {
  ...expressionSchema,
  async evaluate({ config, request }: { config: Config; request: import('../types.js').PolicyRequest }) {
    const native = nativeOf(config.expression);
    if (native) return native(request);
    throw new Error('Python expressions are not available in this build');
  },
};
