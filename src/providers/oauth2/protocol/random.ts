/** authentik's generators (authentik/lib/generators.py), from the system's CSPRNG. */
import { randomInt } from 'node:crypto';

const ID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `generate_id(length=40)`: ASCII letters and digits (client ids, the access token's `uid`) */
export function generateId(length = 40): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ID_CHARS[randomInt(ID_CHARS.length)];
  return out;
}

/** `generate_client_secret()`: 128 characters (client secrets, refresh tokens) */
export const generateClientSecret = () => generateId(128);
