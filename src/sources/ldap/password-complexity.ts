/**
 * Active Directory's password complexity, asked before a password chosen in a prompt stage is taken (authentik's
 * `ldap_password_validate` receiver and LDAPPasswordChanger): when the enabled LDAP source that keeps passwords
 * (`sync_users_password`, at most one) is a domain whose root says DOMAIN_PASSWORD_COMPLEX in `pwdProperties`, the
 * password must hold three of the five kinds of character Microsoft counts (lower case, upper case, other letters,
 * digits, symbols) and, for a person imported from the directory, neither their `sAMAccountName` nor a part of
 * their `displayName` of three characters or more. A person not from the directory (a pending user without a DN) is
 * not asked; a new one (no pending user) is asked the kinds only. The directory is asked as the source's service
 * account; when it cannot be asked, the password is refused (fail closed).
 *
 * Two differences from authentik, both as Active Directory itself decides (so the directory would refuse the
 * password at the write anyway): the account name is looked for inside the password (authentik looks for the
 * password inside the account name), and the display name is split at each of Microsoft's delimiters (authentik's
 * pattern only splits at the whole sequence of them).
 */
import type { UsersTable } from '../../db/types.js';
import type { Services } from '../../services.js';
import { flatten, textOf, withConnection, type Bound } from './connect.js';
import { dnOf } from './password.js';
import { enabledLdapSources, type LdapSourceRow } from './sync.js';

export const AD_COMPLEXITY_MESSAGE = 'Password does not match Active Directory Complexity.';
const NOT_ASKED = 'The password could not be checked against the directory.';

/** pwdProperties' DOMAIN_PASSWORD_COMPLEX */
const DOMAIN_PASSWORD_COMPLEX = 1;
/** authentik's NON_ALPHA: the symbols Microsoft counts */
const SYMBOLS = '~!@#$%^&*_-+=`|\\(){}[]:;"\'<>,.?/';
/** Microsoft's display name delimiters: commas, periods, dashes, hyphens, underscores, spaces, pound signs, tabs */
const DISPLAY_NAME_DELIMITERS = /[,.\u2013\u2014\-_\s#]/u;

/** the kinds of character in `password` (each counted once; one kind per character, in authentik's order) */
export function characterKinds(password: string): number {
  const kinds = new Set<string>();
  for (const ch of password) {
    if (/\p{Ll}/u.test(ch)) kinds.add('lower');
    else if (/\p{Lu}/u.test(ch)) kinds.add('upper');
    else if (ch.codePointAt(0)! > 0x7f && /\p{L}/u.test(ch)) kinds.add('other letter');
    else if (/\p{N}/u.test(ch)) kinds.add('digit');
    else if (SYMBOLS.includes(ch)) kinds.add('symbol');
  }
  return kinds.size;
}

/** whether the password holds the account name or a part of the display name (each when three characters or more) */
export function holdsName(password: string, accountName: string, displayName: string): boolean {
  const lower = password.toLowerCase();
  if (accountName.length >= 3 && lower.includes(accountName.toLowerCase())) return true;
  return displayName.split(DISPLAY_NAME_DELIMITERS).some((part) => part.length >= 3 && lower.includes(part.toLowerCase()));
}

const text = (v: unknown): string => {
  const one = flatten(v === undefined ? undefined : textOf(v as string));
  return one === undefined || one === null ? '' : String(one);
};

/** the domain's root: the root DSE's rootDomainNamingContext, else its shortest naming context */
async function domainRoot(b: Bound): Promise<string | undefined> {
  const { searchEntries } = await b.client.search('', {
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: ['rootDomainNamingContext', 'namingContexts'],
  });
  const dse = searchEntries[0];
  if (!dse) return undefined;
  const root = text(dse.rootDomainNamingContext);
  if (root) return root;
  const contexts = dse.namingContexts === undefined ? [] : [textOf(dse.namingContexts as string)].flat();
  return contexts.sort((a, b) => a.length - b.length)[0];
}

async function complexityRequired(b: Bound): Promise<boolean> {
  const root = await domainRoot(b);
  if (root === undefined) return false;
  const { searchEntries } = await b.client.search(root, { scope: 'base', filter: '(objectClass=*)', attributes: ['pwdProperties'] });
  const properties = Number.parseInt(text(searchEntries[0]?.pwdProperties), 10);
  return Number.isInteger(properties) && (properties & DOMAIN_PASSWORD_COMPLEX) !== 0;
}

/** the reason `password` is refused for `user`, or undefined */
async function checkAgainst(
  svc: Services,
  source: LdapSourceRow,
  password: string,
  user: UsersTable | undefined,
): Promise<string | undefined> {
  const dn = user ? dnOf(user) : undefined;
  return withConnection(svc.db, source, async (b) => {
    if (!(await complexityRequired(b))) return undefined;
    if (dn) {
      const { searchEntries } = await b.client.search(dn, {
        scope: 'base',
        filter: source.user_object_filter,
        attributes: ['displayName', 'sAMAccountName'],
      });
      const entry = searchEntries.length === 1 ? searchEntries[0]! : undefined;
      if (!entry) return NOT_ASKED;
      if (holdsName(password, text(entry.sAMAccountName), text(entry.displayName))) return AD_COMPLEXITY_MESSAGE;
    }
    return characterKinds(password) >= 3 ? undefined : AD_COMPLEXITY_MESSAGE;
  }).catch(() => NOT_ASKED);
}

/** registers the check: asked for every password a prompt stage is sent */
export function checkPasswordComplexity(svc: Services): void {
  svc.signals.onPasswordValidate(async (password, user) => {
    const source = (await enabledLdapSources(svc.db).where('l.sync_users_password', '=', 1).executeTakeFirst()) as
      | LdapSourceRow
      | undefined;
    if (!source) return undefined;
    // (a person who is not from the directory keeps their password here only)
    if (user && !dnOf(user)) return undefined;
    return checkAgainst(svc, source, password, user);
  });
}
