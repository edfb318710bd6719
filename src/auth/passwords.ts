/**
 * Password hashing: argon2id (OWASP parameters by default, computed on libuv's thread pool, off the event loop).
 * Verifies authentik/Django hashes (`pbkdf2_sha256$…`, `argon2$argon2id$…`) so an authentik user table can be
 * imported; `needsRehash` tells the caller to store a fresh argon2id hash after a successful login.
 */
import { pbkdf2, timingSafeEqual, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import type { Argon2Params } from '../config.js';

const pbkdf2Async = promisify(pbkdf2);

/** Django's marker for "no usable password" */
export const UNUSABLE_PREFIX = '!';
export const unusablePassword = () => UNUSABLE_PREFIX + randomBytes(20).toString('base64url');

type HashObserver = (op: 'hash' | 'verify', seconds: number) => void;
let observer: HashObserver | undefined;
/** metrics hook: told how long each hash or verification took */
export function observeHashing(fn: HashObserver | undefined) {
  observer = fn;
}

/**
 * At most `concurrency` argon2id computations at once; the rest queue here (not in libuv's pool, which file and DNS
 * work share). Two hashes sharing one core finish later than two in a row: on one core, 93 against 102
 * verifications per second (19 MiB each, so they also evict each other's cache lines).
 */
let running = 0;
const waiting: (() => void)[] = [];
/** argon2id computations running now and waiting for their turn */
export const hashingQueue = () => ({ running, waiting: waiting.length });

async function gated<T>(concurrency: number, work: () => Promise<T>): Promise<T> {
  if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

async function timed<T>(op: 'hash' | 'verify', p: Argon2Params, work: () => Promise<T>): Promise<T> {
  return gated(p.concurrency, async () => {
    const start = process.hrtime.bigint();
    try {
      return await work();
    } finally {
      observer?.(op, Number(process.hrtime.bigint() - start) / 1e9);
    }
  });
}

export async function hashPassword(password: string, p: Argon2Params): Promise<string> {
  return timed('hash', p, () =>
    hash(password, { algorithm: Algorithm.Argon2id, memoryCost: p.memoryCost, timeCost: p.timeCost, parallelism: p.parallelism }),
  );
}

export interface VerifyResult {
  ok: boolean;
  needsRehash: boolean;
}

function argon2Params(encoded: string): { m: number; t: number; p: number } | undefined {
  const m = /\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(encoded);
  return m ? { m: Number(m[1]), t: Number(m[2]), p: Number(m[3]) } : undefined;
}

const PHC_ARGON2 = /^\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;
const DJANGO_PBKDF2 = /^pbkdf2_sha256\$(\d+)\$[^$]+\$[A-Za-z0-9+/]+={0,2}$/;

/** whether `encoded` is a hash `verifyPassword` can check (what `set_password_hash` accepts) */
export function isPasswordHash(encoded: string): boolean {
  if (encoded.startsWith('argon2$')) return PHC_ARGON2.test(encoded.slice('argon2'.length));
  if (PHC_ARGON2.test(encoded)) return true;
  const m = DJANGO_PBKDF2.exec(encoded);
  return !!m && Number(m[1]) >= 1 && Number(m[1]) <= 10_000_000;
}

export function verifyPassword(encoded: string, password: string, p: Argon2Params): Promise<VerifyResult> {
  return timed('verify', p, () => verifyEncoded(encoded, password, p));
}

async function verifyEncoded(encoded: string, password: string, p: Argon2Params): Promise<VerifyResult> {
  if (!encoded || encoded.startsWith(UNUSABLE_PREFIX)) return { ok: false, needsRehash: false };
  if (encoded.startsWith('$argon2')) {
    const ok = await verify(encoded, password).catch(() => false);
    const cur = argon2Params(encoded);
    const stale = !encoded.startsWith('$argon2id$') || !cur || cur.m !== p.memoryCost || cur.t !== p.timeCost || cur.p !== p.parallelism;
    return { ok, needsRehash: ok && stale };
  }
  if (encoded.startsWith('argon2$')) {
    // Django's Argon2PasswordHasher: "argon2" + the PHC string without its leading "$"
    const ok = await verify(encoded.slice('argon2'.length), password).catch(() => false);
    return { ok, needsRehash: ok };
  }
  if (encoded.startsWith('pbkdf2_sha256$')) {
    const [, iterStr, salt, expected] = encoded.split('$');
    const iterations = Number(iterStr);
    if (!salt || !expected || !Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000)
      return { ok: false, needsRehash: false };
    const want = Buffer.from(expected, 'base64');
    const got = await pbkdf2Async(password, salt, iterations, want.length || 32, 'sha256');
    const ok = want.length === got.length && timingSafeEqual(want, got);
    return { ok, needsRehash: ok };
  }
  return { ok: false, needsRehash: false };
}

let dummy: Promise<string> | undefined;
/** A real hash to verify against when the user does not exist, so unknown users cost the same time. */
export function dummyHash(p: Argon2Params): Promise<string> {
  dummy ??= hashPassword(randomBytes(16).toString('hex'), p);
  return dummy;
}
