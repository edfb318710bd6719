/** Constant-time comparison of two texts (states, tokens, MACs): their UTF-8 bytes, false when the lengths differ. */
import { timingSafeEqual } from 'node:crypto';

export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
