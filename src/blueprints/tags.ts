/**
 * authentik's blueprint YAML tags (authentik/blueprints/v1/common.py): `!KeyOf`, `!Find`, `!FindObject`,
 * `!Context`, `!Format`, `!Condition`, `!If`, `!Enumerate` with `!Index`/`!Value`, `!AtIndex`, `!ParseJSON`.
 * A tag is kept as an object by the YAML parser and resolved when its entry is applied (`resolveValue`), since
 * `!KeyOf` names objects earlier entries made and `!Find` reads the database.
 *
 * `!Env` and `!File` resolve only in blueprints read from the blueprints folder (the operator's own files: the
 * scope's `serverReads`); in an uploaded blueprint or an instance's `content` they refuse to, as that would read the
 * server's environment (`KEYSTAGE_SECRET_KEY`) or its files into an object an administrator can read back.
 */
import type { CollectionTag, ScalarTag, YAMLSeq } from 'yaml';
import type { FieldErrors } from '../rest/errors.js';

export class EntryInvalid extends Error {
  /** the resource's field errors, when its validation refused the entry */
  errors?: FieldErrors | string[];
}

/** what a tag may ask of the import that resolves it */
export interface TagScope {
  /** the pk (or, for a policy binding's entry, the policy binding model) of the object the entry `id` made */
  keyOf(id: string): unknown;
  /** the pk of the first object of `model` matching every [field, value] (undefined when none) */
  find(model: string, conditions: [string, unknown][]): Promise<{ pk: unknown; object: Record<string, unknown> } | undefined>;
  context: Record<string, unknown>;
  /** the items of the `!Enumerate` tags being resolved, innermost last */
  enumerating: [unknown, unknown][];
  /** the server's environment and files, for `!Env` and `!File`: only a blueprint file's import has them */
  serverReads?: { env(key: string): string | undefined; file(path: string): Promise<string | undefined> };
}

export abstract class Tag {
  abstract resolve(scope: TagScope): Promise<unknown>;
}

/** a YAML mapping (not a list, not a tag) */
export const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Tag);

export async function resolveValue(value: unknown, scope: TagScope): Promise<unknown> {
  if (value instanceof Tag) return value.resolve(scope);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const v of value) out.push(await resolveValue(v, scope));
    return out;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await resolveValue(v, scope);
    return out;
  }
  return value;
}

/** Python's repr() of a JSON value */
const pyRepr = (v: unknown): string => {
  if (typeof v === 'string') return `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  return String(v);
};
/** Python's str() */
const pyStr = (v: unknown): string => (typeof v === 'string' ? v : pyRepr(v));
/** Python's truth value */
export const truthy = (v: unknown): boolean =>
  Array.isArray(v) ? v.length > 0 : v && typeof v === 'object' ? Object.keys(v).length > 0 : !!v;

class KeyOf extends Tag {
  constructor(readonly id: string) {
    super();
  }
  resolve(scope: TagScope) {
    return Promise.resolve(scope.keyOf(this.id));
  }
}

class Find extends Tag {
  constructor(readonly args: unknown[]) {
    super();
  }
  protected async instance(scope: TagScope) {
    const model = String(await resolveValue(this.args[0], scope));
    const conditions: [string, unknown][] = [];
    for (const c of this.args.slice(1)) {
      if (!Array.isArray(c) || c.length !== 2) throw new EntryInvalid(`!Find: each condition is a [field, value] pair, got ${pyRepr(c)}`);
      conditions.push([String(await resolveValue(c[0], scope)), await resolveValue(c[1], scope)]);
    }
    return scope.find(model, conditions);
  }
  async resolve(scope: TagScope) {
    return (await this.instance(scope))?.pk ?? null;
  }
}

class FindObject extends Find {
  override async resolve(scope: TagScope) {
    return (await this.instance(scope))?.object ?? null;
  }
}

class WithDefault extends Tag {
  readonly key: unknown;
  readonly fallback: unknown;
  constructor(arg: unknown) {
    super();
    [this.key, this.fallback] = Array.isArray(arg) ? [arg[0], arg[1] ?? null] : [arg, null];
  }
  resolve(_scope: TagScope): Promise<unknown> {
    throw new EntryInvalid('unreachable');
  }
}

class Context extends WithDefault {
  override async resolve(scope: TagScope) {
    const key = String(await resolveValue(this.key, scope));
    return resolveValue(Object.hasOwn(scope.context, key) ? scope.context[key] : this.fallback, scope);
  }
}

/** `!Env key` / `!File path`: the environment variable or the file's text (stripped), else the default */
class ServerRead extends WithDefault {
  constructor(
    readonly tag: '!Env' | '!File',
    arg: unknown,
  ) {
    super(arg);
  }
  override async resolve(scope: TagScope): Promise<unknown> {
    const reads = scope.serverReads;
    if (!reads)
      throw new EntryInvalid(
        `${this.tag} is allowed only in blueprint files from the blueprints folder: it would read the server's ${this.tag === '!Env' ? 'environment' : 'files'}`,
      );
    const key = String(await resolveValue(this.key, scope));
    const found = this.tag === '!Env' ? reads.env(key) || undefined : (await reads.file(key))?.trim();
    return found ?? resolveValue(this.fallback, scope);
  }
}

/** Python's `format % args` for %s, %d, %i, %f, %r and %% */
export function pyFormat(format: string, args: unknown[]): string {
  let i = 0;
  const out = format.replace(/%([sdifr%])/g, (_m, c: string) => {
    if (c === '%') return '%';
    if (i >= args.length) throw new EntryInvalid('not enough arguments for format string');
    const a = args[i++];
    if (c === 's') return pyStr(a);
    if (c === 'r') return pyRepr(a);
    if (typeof a !== 'number' && typeof a !== 'boolean') throw new EntryInvalid(`%${c} format: a real number is required, not ${typeof a}`);
    return c === 'f' ? Number(a).toFixed(6) : String(Math.trunc(Number(a)));
  });
  if (i < args.length) throw new EntryInvalid('not all arguments converted during string formatting');
  return out;
}

class Format extends Tag {
  constructor(readonly args: unknown[]) {
    super();
  }
  async resolve(scope: TagScope) {
    const [format, ...rest] = (await resolveValue(this.args, scope)) as unknown[];
    return pyFormat(String(format), rest);
  }
}

const COMPARATORS: Record<string, (a: boolean[]) => boolean> = {
  AND: (a) => a.every(Boolean),
  NAND: (a) => !a.every(Boolean),
  OR: (a) => a.some(Boolean),
  NOR: (a) => !a.some(Boolean),
  XOR: (a) => a.reduce((x, y) => x !== y),
  XNOR: (a) => !a.reduce((x, y) => x !== y),
};

class Condition extends Tag {
  constructor(readonly args: unknown[]) {
    super();
  }
  async resolve(scope: TagScope) {
    const [mode, ...rest] = this.args;
    const args = ((await resolveValue(rest, scope)) as unknown[]).map(truthy);
    if (!args.length) throw new EntryInvalid('At least one value is required after mode selection.');
    const cmp = COMPARATORS[String(mode).toUpperCase()];
    if (!cmp) throw new EntryInvalid(`'${String(mode).toUpperCase()}'`);
    return cmp(args);
  }
}

class If extends Tag {
  constructor(readonly args: unknown[]) {
    super();
  }
  async resolve(scope: TagScope) {
    const cond = truthy(await resolveValue(this.args[0], scope));
    if (this.args.length === 1) return cond;
    return resolveValue(cond ? this.args[1] : this.args[2], scope);
  }
}

class Enumerate extends Tag {
  constructor(readonly args: unknown[]) {
    super();
  }
  async resolve(scope: TagScope) {
    const [iterable, output, body] = this.args;
    const items = await resolveValue(iterable, scope);
    if (!items || typeof items !== 'object')
      throw new EntryInvalid("Enumerate's iterable must be an iterable such as a sequence or a mapping");
    const pairs: [unknown, unknown][] = Array.isArray(items) ? items.map((v, i) => [i, v]) : Object.entries(items);
    const mode = String(output).toUpperCase();
    if (mode !== 'SEQ' && mode !== 'MAP') throw new EntryInvalid(`'${mode}'`);
    const seq: unknown[] = [];
    const map: Record<string, unknown> = {};
    for (const pair of pairs) {
      scope.enumerating.push(pair);
      try {
        const v = await resolveValue(body, scope);
        if (mode === 'SEQ') seq.push(v);
        else if (Array.isArray(v) && v.length === 2) map[String(v[0])] = v[1];
        else if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(map, v);
        else throw new EntryInvalid(`Invalid Enumerate item found: ${JSON.stringify(v)}`);
      } finally {
        scope.enumerating.pop();
      }
    }
    return mode === 'SEQ' ? seq : map;
  }
}

class EnumeratedItem extends Tag {
  constructor(
    readonly depth: number,
    readonly part: 0 | 1,
  ) {
    super();
  }
  resolve(scope: TagScope) {
    const name = this.part === 0 ? 'Index' : 'Value';
    if (!Number.isInteger(this.depth) || this.depth < 0) throw new EntryInvalid('depth must be a positive number or zero');
    const ctx = scope.enumerating[scope.enumerating.length - 1 - this.depth];
    if (!ctx)
      throw new EntryInvalid(
        this.depth === 0 ? `${name} tags are only usable inside an Enumerate tag` : `${name} tag: invalid depth: ${this.depth}`,
      );
    return Promise.resolve(ctx[this.part]);
  }
}

class AtIndex extends Tag {
  constructor(readonly args: unknown[]) {
    super();
  }
  async resolve(scope: TagScope) {
    const obj = await resolveValue(this.args[0], scope);
    const at = await resolveValue(this.args[1], scope);
    const hasDefault = this.args.length > 2;
    if (Array.isArray(obj)) {
      if (typeof at !== 'number' || !Number.isInteger(at)) throw new EntryInvalid(`Invalid index for list: ${String(at)}`);
      const i = at < 0 ? obj.length + at : at;
      if (i >= 0 && i < obj.length) return obj[i];
      if (!hasDefault) throw new EntryInvalid(`Index out of range: ${at}`);
      return resolveValue(this.args[2], scope);
    }
    if (obj && typeof obj === 'object' && Object.hasOwn(obj, String(at))) return (obj as Record<string, unknown>)[String(at)];
    if (!hasDefault) throw new EntryInvalid(`Key does not exist: ${String(at)}`);
    return resolveValue(this.args[2], scope);
  }
}

class ParseJSON extends Tag {
  constructor(readonly raw: string) {
    super();
  }
  resolve() {
    try {
      return Promise.resolve(JSON.parse(this.raw) as unknown);
    } catch (e) {
      throw new EntryInvalid((e as Error).message);
    }
  }
}

const scalar = (tag: string, make: (s: string) => Tag): ScalarTag => ({
  tag,
  identify: () => false,
  resolve: (s: string) => make(s),
});
const seq = (tag: string, make: (items: unknown[]) => Tag): CollectionTag => ({
  tag,
  collection: 'seq',
  identify: () => false,
  resolve: (value) => make((value as YAMLSeq).toJSON() as unknown[]) as never,
});
/** a tag written either way: `!Context key` or `!Context [key, default]` */
const either = (tag: string, make: (arg: unknown) => Tag): (ScalarTag | CollectionTag)[] => [scalar(tag, make), seq(tag, make)];

export const blueprintTags: (ScalarTag | CollectionTag)[] = [
  scalar('!KeyOf', (s) => new KeyOf(s)),
  seq('!Find', (a) => new Find(a)),
  seq('!FindObject', (a) => new FindObject(a)),
  ...either('!Context', (a) => new Context(a)),
  ...either('!Env', (a) => new ServerRead('!Env', a)),
  ...either('!File', (a) => new ServerRead('!File', a)),
  seq('!Format', (a) => new Format(a)),
  seq('!Condition', (a) => new Condition(a)),
  seq('!If', (a) => new If(a)),
  seq('!Enumerate', (a) => new Enumerate(a)),
  scalar('!Index', (s) => new EnumeratedItem(Number(s), 0)),
  scalar('!Value', (s) => new EnumeratedItem(Number(s), 1)),
  seq('!AtIndex', (a) => new AtIndex(a)),
  scalar('!ParseJSON', (s) => new ParseJSON(s)),
];

/** `!KeyOf id` made in code (a blueprint built from a request) */
export const keyOf = (id: string): Tag => new KeyOf(id);

/** `!KeyOf <id>` when writing a blueprint */
export class KeyOfRef {
  constructor(readonly id: string) {}
}
export const keyOfWriter: ScalarTag = {
  tag: '!KeyOf',
  identify: (v) => v instanceof KeyOfRef,
  resolve: (s: string) => new KeyOfRef(s),
  stringify: (item) => (item.value as KeyOfRef).id,
};
