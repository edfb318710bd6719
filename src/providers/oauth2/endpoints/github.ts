/**
 * authentik's GitHub-compatible endpoints (views/github.py, urls_root.py), for software that only speaks GitHub's
 * OAuth: `/login/oauth/authorize` (the authorization endpoint, keeping GitHub's scopes), `/login/oauth/access_token`
 * (the token endpoint), `/user` (the access token's user as GitHub's user object; the token must hold `user:email`)
 * and `/user/teams` (the user's groups as GitHub teams of an organisation named after the brand; `read:org`). The
 * access token comes as `Authorization: Bearer …` or GitHub's `token …`, or as `access_token` in the query.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { slugify } from '../../../rest/slugify.js';
import type { Services } from '../../../services.js';
import { userById } from '../../../users/by-id.js';
import { BearerTokenError } from '../protocol/errors.js';
import type { AccessTokenRow } from '../tokens/store.js';
import { sendBearerError, sendToken } from './http.js';
import { protectedResource } from './userinfo.js';

const SCOPE_GITHUB_USER_EMAIL = 'user:email';
const SCOPE_GITHUB_ORG_READ = 'read:org';

/** GitHub's own header form (`token …`) read as the bearer form */
function githubHeader(req: FastifyRequest) {
  const h = req.headers.authorization;
  if (h && /^[Tt]oken\s.+$/.test(h)) req.headers.authorization = `Bearer ${h.split(/\s+/)[1]}`;
}

async function tokenFor(svc: Services, req: FastifyRequest, reply: FastifyReply, scope: string): Promise<AccessTokenRow | undefined> {
  githubHeader(req);
  try {
    return await protectedResource(svc, req, [scope]);
  } catch (e) {
    if (e instanceof BearerTokenError) {
      sendBearerError(reply, e);
      return undefined;
    }
    throw e;
  }
}

/** GET /user: GitHub's user object, authentik's fields */
export async function githubUserEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const token = await tokenFor(svc, req, reply, SCOPE_GITHUB_USER_EMAIL);
  if (!token) return reply;
  const user = await userById(svc.db, token.user_id);
  if (!user) return sendBearerError(reply, new BearerTokenError('invalid_token'));
  const blank = (...keys: string[]) => Object.fromEntries(keys.map((k) => [k, '']));
  return sendToken(reply, {
    login: user.username,
    id: user.id,
    ...blank('node_id', 'avatar_url', 'gravatar_id', 'url', 'html_url', 'followers_url', 'following_url', 'gists_url'),
    ...blank('starred_url', 'subscriptions_url', 'organizations_url', 'repos_url', 'events_url', 'received_events_url'),
    type: 'User',
    site_admin: false,
    name: user.name,
    company: '',
    blog: '',
    location: '',
    email: user.email,
    hireable: false,
    bio: '',
    public_repos: 0,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: user.date_joined,
    updated_at: user.date_joined,
    private_gists: 0,
    total_private_repos: 0,
    owned_private_repos: 0,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: true,
    plan: { name: 'None', space: 0, private_repos: 0, collaborators: 0 },
  });
}

/** GET /user/teams: each of the user's own groups as a team of the brand's "organisation" */
export async function githubTeamsEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const token = await tokenFor(svc, req, reply, SCOPE_GITHUB_ORG_READ);
  if (!token) return reply;
  const title = (await svc.brand(req.host)).branding_title;
  const groups = await svc.db
    .selectFrom('user_groups')
    .innerJoin('groups', 'groups.group_uuid', 'user_groups.group_uuid')
    .select(['groups.num_pk', 'groups.name'])
    .where('user_groups.user_id', '=', token.user_id)
    .orderBy('groups.name')
    .execute();
  const blank = (...keys: string[]) => Object.fromEntries(keys.map((k) => [k, '']));
  const organization = {
    login: slugify(title),
    id: 1,
    ...blank('node_id', 'url', 'repos_url', 'events_url', 'hooks_url', 'issues_url', 'members_url', 'public_members_url', 'avatar_url'),
    description: '',
    name: title,
    company: '',
    blog: '',
    location: '',
    email: '',
    is_verified: true,
    has_organization_projects: true,
    has_repository_projects: true,
    public_repos: 0,
    public_gists: 0,
    followers: 0,
    following: 0,
    html_url: '',
    created_at: '',
    updated_at: '',
    type: 'Organization',
  };
  return sendToken(
    reply,
    groups.map((g) => ({
      id: Number(g.num_pk),
      ...blank('node_id', 'url', 'html_url'),
      name: g.name,
      slug: slugify(g.name),
      ...blank('description', 'privacy', 'permission', 'members_url', 'repositories_url'),
      parent: null,
      members_count: 0,
      repos_count: 0,
      created_at: '',
      updated_at: '',
      organization,
    })),
  );
}
