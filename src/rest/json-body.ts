/**
 * A request's JSON body, as DRF's JSONParser reads it: a syntax error, or nesting deeper than Python's parser
 * follows (its recursion limit), is a 400 parse error. Without the depth limit, a body of a few kilobytes of `[[[…`
 * would overflow the stack of whatever walks the value later (validation, serialisation) and answer 500.
 */
import { JsonParseError } from './errors.js';

/** deeper than this many nested arrays and objects is refused (Python's json gives up near 1,000) */
export const MAX_JSON_DEPTH = 512;

/** the deepest nesting of `text` passes `limit` (strings skipped; only a text longer than `limit` can) */
function nestedDeeperThan(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** the body's value (`undefined` for an empty body); throws JsonParseError */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw JsonParseError.from(e, text);
  }
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) throw new JsonParseError('maximum recursion depth exceeded', undefined);
  return value;
}
