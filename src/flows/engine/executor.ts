/**
 * The flow executor, `/api/v3/flows/executor/{slug}/`, as a short pipeline of named steps:
 * load the flow and session → check CSRF → restore or make the plan → run the current stage → turn its outcome into
 * authentik's wire answer (200 challenge, 302 to advance, redirect at the end) → save the session.
 * Keystage's own page takes a shorter path through the same steps: its first challenge is this GET run while the page
 * is served (`firstChallenge`), and its POSTs opt in (`INLINE_HEADER`) to having the 302's GET followed here.
 */
import { systemSettings } from '../../instance/system-settings/store.js';
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiRouter } from '../../rest/routes.js';
import { identify, isSuperuser } from '../../rest/auth.js';
import { isDbConnectionError, parseErrorLogFields } from '../../rest/errors.js';
import { followedHops } from '../../rest/http.js';
import type { FlowsTable, UsersTable } from '../../db/types.js';
import { hot, perDatabase } from '../../db/hot.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import { CSRF_HEADER, SessionBusyError, type Session } from '../../sessions/sessions.js';
import { userById } from '../../users/by-id.js';
import { can } from '../../rbac/check.js';
import { brandBackgroundUrl } from '../../brands/match.js';
import type { Attempt } from '../../auth/lockout.js';
import { isPlaceholder, type FlowContext } from './context.js';
import { displayUser, flowError, flowInfo, isRelative, redirectChallenge } from './challenge.js';
import { planFlow, stillApplies, type Requester } from './planner.js';
import { failureChallenge } from './flow-error.js';
import { takePlanRedirects } from './plan-redirect.js';
import { QS_KEY_TOKEN, restoreFlowToken } from './tokens.js';
import type { Plan } from './plan.js';
import type { Challenge, Outcome, ResponseErrors, Services, StageCall } from './runtime.js';
import {
  sharedChallenges,
  sharedParts,
  type AccessDeniedChallenge,
  type ChallengeDef,
  type StageChallenge,
  type WireSchema,
} from './challenge-types.js';

/** GETs that pass stages without a challenge are followed on the server; this bounds that walk. */
const MAX_STEPS = 32;

interface Run {
  /** the plan as it was made in this request, before any stage ran (a new session holding only that is not kept) */
  planned?: string;
  svc: Services;
  req: FastifyRequest;
  reply: FastifyReply;
  flow: FlowsTable;
  session: Session;
  requester: Requester;
  /** the flow page's query (`next`, …) */
  query: Record<string, string>;
  /** the request's brand's default flow background (a flow without its own shows it) */
  brandBackground: string;
  /** the system settings' avatar modes (the person a challenge shows) */
  avatars: string;
  /** the person the stages act for, as last looked up in this request (personOf) */
  person?: PersonMemo;
  /** reservations of secret checks that passed in this request, given back when it ends (StageCall.releaseLater) */
  releases: Attempt[];
  /** a write committed asynchronously that must be durable before the answer (StageCall.durableLater) */
  owesFlush?: boolean;
}

type PersonMemo = {
  pending: FlowContext['pendingUser'];
  requester: UsersTable | undefined;
  user: Promise<UsersTable | undefined>;
};

type Answer = { status: 200; body: Record<string, unknown> } | { status: 302; location: string };

const answer = (body: Record<string, unknown>): Answer => ({ status: 200, body });

export function parseInnerQuery(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof raw !== 'string' || raw.length > 4096) return out;
  for (const [k, v] of new URLSearchParams(raw)) out[k] = v;
  return out;
}

function csrfOk(req: FastifyRequest, session: Session): boolean {
  const sent = req.headers[CSRF_HEADER];
  const want = session.data.csrf;
  if (typeof sent !== 'string' || !want) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

function envelope(run: Run, ctx: FlowContext | undefined, withUser: boolean, challenge: Record<string, unknown>) {
  const user = displayUser(ctx, run.requester.user, run.avatars);
  return {
    ...challenge,
    flow_info: flowInfo(run.flow, run.query, user.name, run.brandBackground, ctx?.application?.name),
    ...(withUser ? { pending_user: user.name, pending_user_avatar: user.avatar } : {}),
  };
}

function accessDenied(run: Run, ctx: FlowContext | undefined, message?: string): Answer {
  const denied: StageChallenge<typeof AccessDeniedChallenge> = {
    component: 'ak-stage-access-denied',
    error_message: message || 'Unknown error',
  };
  return answer(envelope(run, ctx, true, denied));
}

function endFlow(run: Run): void {
  run.session.data.plan = undefined;
  run.session.data.query = undefined;
  run.session.dirty = true;
}

/** The plan is exhausted: redirect to the context's redirect, else the relative `next`, else `/`. */
function flowDone(run: Run, ctx: FlowContext | undefined): Answer {
  endFlow(run);
  if (ctx?.redirect) return answer(redirectChallenge(ctx.redirect, true));
  const next = run.query.next;
  if (next !== undefined && next !== '' && !isRelative(next)) return accessDenied(run, ctx, 'Invalid next URL');
  return answer(redirectChallenge(next || '/', true));
}

/** authentik's `denied_action` when the flow does not apply (2.12). */
function notApplicable(run: Run, messages: string[]): Answer {
  if (run.flow.designation === 'authentication' && run.requester.user) return flowDone(run, undefined);
  const ownNext = (run.req.query as Record<string, unknown>).next;
  const action = run.flow.denied_action;
  if ((action === 'continue' || action === 'message_continue') && typeof ownNext === 'string' && isRelative(ownNext))
    return answer(redirectChallenge(ownNext));
  if (action === 'continue') return answer(redirectChallenge('/'));
  return accessDenied(run, undefined, messages.join('\n') || 'Flow does not apply to current user.');
}

async function newPlan(run: Run, context: FlowContext = {}): Promise<Plan | Answer> {
  const r = await planFlow(run.svc, run.flow, run.requester, context, { req: run.req });
  if (r.type === 'not_applicable') return notApplicable(run, r.messages);
  if (r.type === 'empty') return flowDone(run, context);
  run.session.data.plan = r.plan;
  // a new plan starts the inspector's history afresh (authentik), for a person who may inspect this flow
  run.session.data.inspector = (await mayInspect(run)) ? { flow: run.flow.flow_uuid, plans: [] } : undefined;
  run.session.dirty = true;
  run.planned = JSON.stringify(r.plan);
  return r.plan;
}

/** authentik's `inspect_flow` (on the flow or on every flow); nobody logged in may not inspect */
async function mayInspect(run: Run): Promise<boolean> {
  const user = run.requester.user;
  if (!user) return false;
  return can(run.svc.db, { user, superuser: run.requester.superuser }, 'authentik_flows.inspect_flow', run.flow.flow_uuid);
}

/** the inspector's history gains the plan as it is before a stage that passed leaves it (authentik's stage_ok) */
function recordHistory(run: Run, plan: Plan): void {
  const history = run.session.data.inspector;
  if (!history || history.flow !== plan.flow_uuid) return;
  history.plans.push(structuredClone(plan));
  if (history.plans.length > MAX_HISTORY) history.plans.shift();
}

/** how many passed stages the inspector's history keeps (the latest) */
const MAX_HISTORY = 50;

const isAnswer = <T extends object>(x: T | Answer): x is Answer => 'status' in x;

/** advance 302: back to the executor with the request's own URL (path + raw query, re-sent verbatim) */
const advance = (run: Run): Answer => ({ status: 302, location: run.req.url });

/**
 * StageCall's `state`, made on first use so that a stage that keeps nothing leaves the plan as it was: a getter on a
 * prototype every call shares. (A getter in the call's object literal gives every call a hidden class of its own in
 * V8, allocated in the old generation; dead, those kept each request's objects alive through scavenges until a full
 * collection — bench/RESULTS.md, eighteenth session.)
 */
const lazyState = {
  get state(): object {
    const c = this as unknown as StageCall<unknown>;
    const stages = (c.plan.context.stages ??= {});
    return (stages[c.stage.uuid] ??= {});
  },
};

async function runStage(run: Run, plan: Plan, method: 'GET' | 'POST', body: unknown): Promise<Answer> {
  let posted = method === 'POST';
  // the person the stages act for, looked up once for their policies and their own use (again if it changes)
  const person = personOf(run, plan.context);
  for (let step = 0; step < MAX_STEPS; step++) {
    const binding = plan.bindings[0];
    if (!binding) return flowDone(run, plan.context);
    // a binding re-evaluated at run time whose policies no longer pass is skipped (authentik's ReevaluateMarker)
    if (binding.re_evaluate_policies) {
      const applies = await stillApplies(run.svc, run.flow, plan, binding.fsb_uuid, person, run.req);
      // a policy's flow_plan.redirect(url): a redirect stage after this one, or in its place (plan-redirect.ts)
      const redirects = takePlanRedirects(plan.context);
      if (redirects.length) {
        plan.bindings.splice(1, 0, ...redirects);
        run.session.dirty = true;
      }
      if (!applies) {
        plan.bindings.shift();
        run.session.dirty = true;
        continue;
      }
    }
    const runtime = run.svc.stageType(binding.kind)?.runtime;
    const config = runtime ? await run.svc.stageConfig(binding.kind, binding.stage_uuid) : undefined;
    if (!runtime || !config) {
      // the stage was deleted (or has no runtime) while the plan was in flight: skip it
      plan.bindings.shift();
      run.session.dirty = true;
      continue;
    }
    const fields: Omit<StageCall<unknown>, 'state'> = {
      svc: run.svc,
      stage: { uuid: binding.stage_uuid, name: String((config as { name: string }).name), kind: binding.kind },
      config,
      flow: run.flow,
      plan,
      ctx: plan.context,
      session: run.session,
      req: run.req,
      reply: run.reply,
      clientIp: run.req.ip,
      query: run.query,
      requestUser: run.requester.user,
      pendingUser: person,
      setPendingUser: (user) => {
        const pending = { id: user.id, username: user.username, email: user.email, name: user.name };
        plan.context.pendingUser = pending;
        run.person = { pending, requester: run.requester.user, user: Promise.resolve(user) };
      },
      releaseLater: (attempt) => {
        run.releases.push(attempt);
      },
      takeReleases: (keep) => {
        const taken = run.releases.filter(keep);
        run.releases = run.releases.filter((a) => !taken.includes(a));
        return taken;
      },
      durableLater: () => {
        if (run.svc.dialect !== 'postgres') return false;
        run.owesFlush = true;
        return true;
      },
      durableNow: () => {
        run.owesFlush = false;
      },
      insertNext: (stage_uuid, kind) =>
        plan.bindings.splice(1, 0, {
          fsb_uuid: binding.fsb_uuid,
          stage_uuid,
          kind,
          invalid_response_action: 'retry',
          re_evaluate_policies: false,
        }),
    };
    const call: StageCall<unknown> = Object.assign(Object.create(lazyState) as Pick<StageCall<unknown>, 'state'>, fields);
    const outcome: Outcome = posted
      ? await runtime.respond(
          call,
          body && typeof body === 'object' ? (body as Record<string, unknown>) : ((body ?? {}) as Record<string, unknown>),
        )
      : await runtime.challenge(call);
    keepStageState(plan, binding.stage_uuid, outcome.type === 'ok');
    run.session.dirty = true;
    switch (outcome.type) {
      case 'challenge':
        return answer(envelope(run, plan.context, runtime.withUserInfo, outcome.challenge));
      case 'ok':
        recordHistory(run, plan);
        plan.bindings.shift();
        if (posted) return plan.bindings.length ? advance(run) : flowDone(run, plan.context);
        posted = false;
        continue;
      case 'invalid':
        return invalidResponse(run, plan, binding.invalid_response_action, outcome.challenge, outcome.errors, runtime.withUserInfo);
      case 'deny':
        return stageInvalid(run, plan, binding.invalid_response_action, outcome.message);
    }
  }
  return answer(flowError(run.req.id, 'Too many stages were skipped in one request.'));
}

/**
 * StageCall.pendingUser for the stages of one request (the inline path's hops included): the pending user (a real
 * one), else the logged-in user — looked up at most once while the context holds the same pending-user value and
 * the same user is logged in. A stage that changes the user's row sets a new value (user_write, email's
 * activation), so the next stage reads the row again; a stage that has just read the row hands it over
 * (setPendingUser).
 */
function personOf(run: Run, ctx: FlowContext): () => Promise<UsersTable | undefined> {
  return () => {
    const pending = ctx.pendingUser;
    const requester = run.requester.user;
    const memo = run.person;
    if (memo && memo.pending === pending && memo.requester === requester) return memo.user;
    const user = pendingOrLoggedIn(run, ctx);
    run.person = { pending, requester, user };
    return user;
  };
}

async function pendingOrLoggedIn(run: Run, ctx: FlowContext): Promise<UsersTable | undefined> {
  const p = ctx.pendingUser;
  if (p && !isPlaceholder(p)) return userById(run.svc.db, p.id!);
  if (p) return undefined;
  return run.requester.user;
}

/** a stage's state is dropped when it passes, or when it holds nothing */
function keepStageState(plan: Plan, stageUuid: string, passed: boolean) {
  const states = plan.context.stages;
  if (!states) return;
  const mine = states[stageUuid];
  if (mine && (passed || Object.values(mine).every((v) => v === undefined))) delete states[stageUuid];
  if (Object.keys(states).length === 0) delete plan.context.stages;
}

async function restart(run: Run, plan: Plan, withContext: boolean): Promise<Answer> {
  const next = await newPlan(run, withContext ? plan.context : {});
  return isAnswer(next) ? next : advance(run);
}

async function invalidResponse(
  run: Run,
  plan: Plan,
  action: Plan['bindings'][number]['invalid_response_action'],
  challenge: Challenge,
  errors: ResponseErrors,
  withUser: boolean,
): Promise<Answer> {
  if (action === 'restart' || action === 'restart_with_context') return restart(run, plan, action === 'restart_with_context');
  return answer({ ...envelope(run, plan.context, withUser, challenge), response_errors: errors });
}

async function stageInvalid(
  run: Run,
  plan: Plan,
  action: Plan['bindings'][number]['invalid_response_action'],
  message?: string,
): Promise<Answer> {
  if (action === 'restart' || action === 'restart_with_context') return restart(run, plan, action === 'restart_with_context');
  endFlow(run);
  return accessDenied(run, plan.context, message);
}

/** the executor's per-request lookups */
const lookups = perDatabase((db) => ({
  flow: hot<{ slug: string }, FlowsTable>(db, ['slug'], (p) => db.selectFrom('flows').selectAll().where('slug', '=', p.slug)),
}));

async function requesterOf(svc: Services, session: Session): Promise<Requester> {
  if (session.userId === null) return { user: undefined, superuser: false };
  const user = await userById(svc.db, session.userId);
  if (!user || !user.is_active) return { user: undefined, superuser: false };
  return { user, superuser: await isSuperuser(svc.db, user.id) };
}

/**
 * Whether a session that has no row yet holds anything worth a row: nobody logged in and at most a plan exactly as
 * planning makes it (which the next request makes again) is not kept, so cookie-less requests store nothing.
 */
function worthKeeping(run: Run): boolean {
  const s = run.session;
  if (s.key || s.userId !== null || s.replaces) return true;
  const plan = s.data.plan;
  return plan !== undefined && JSON.stringify(plan) !== run.planned;
}

/**
 * Keystage's own page opts in to the short path with this request header: a passed stage's 302 back to the executor
 * is followed in the same request, so a POST is answered with the next challenge. It changes only the answer's
 * shape (the same steps run, the same session is saved); a custom header cannot be sent cross-site without a CORS
 * preflight, which the executor does not answer. Every other client gets authentik's protocol, 302 included.
 */
export const INLINE_HEADER = 'x-keystage-inline';

const wantsInline = (req: FastifyRequest) => req.headers[INLINE_HEADER] === '1';

/** what the inline path follows in one request, as a browser follows redirects (fetch stops at 20) */
const MAX_FOLLOWS = 20;

/** the challenge a page shows for a slug no flow has (the page's own wording for the executor's 404) */
/** the first challenge of a flow page whose slug names no flow (the page answers 404, as authentik's FlowInterfaceView) */
export const NO_SUCH_FLOW = { component: 'ak-stage-access-denied', error_message: 'This flow does not exist.' };

/**
 * The session, loaded for this request. A POST (the only request that checks a secret or counts a failure) holds it
 * alone until it is saved, so a login's concurrent POSTs run one at a time; a GET writes back only over what it read
 * and never while a POST holds it (sessions.ts). With PostgreSQL this statement also brings the configuration epoch.
 */
async function openSession(svc: Services, req: FastifyRequest, method: 'GET' | 'POST'): Promise<Session | Answer> {
  try {
    return await svc.sessions.load(req, { exclusive: method === 'POST' });
  } catch (e) {
    if (!(e instanceof SessionBusyError)) throw e;
    return answer(flowError(req.id, 'Another request of this login is still running. Please try again.'));
  }
}

/** each executor request's run, for its error handler (who asks, as the failure found them) */
const runs = new WeakMap<FastifyRequest, Run>();

/** the flow and who asks, for the executor request `req` (undefined: no flow has the slug) */
async function prepareRun(
  svc: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  session: Session,
  slug: string,
): Promise<Run | undefined> {
  const flow = await cachedAdminData(svc.db, `flow:${slug}`, async () => (await lookups(svc.db).flow({ slug }))[0]);
  if (!flow) return undefined;
  const requester = await requesterOf(svc, session);
  const query = parseInnerQuery((req.query as Record<string, unknown>).query);
  const brandBackground = brandBackgroundUrl(await svc.brand(req.host));
  const { avatars } = await systemSettings(svc.db);
  const run: Run = { svc, req, reply, flow, session, requester, query, brandBackground, avatars, releases: [] };
  runs.set(req, run);
  return run;
}

/** one executor request's decision: CSRF → the plan (restored or made) → the current stage's turn */
async function decide(run: Run, method: 'GET' | 'POST', body: unknown): Promise<Answer> {
  const { session, flow, req } = run;
  if (method === 'POST' && run.requester.user && !csrfOk(req, session))
    return answer(flowError(req.id, 'CSRF Failed: CSRF token missing or incorrect.'));
  if (session.data.plan && session.data.plan.flow_uuid !== flow.flow_uuid) session.data.plan = undefined;
  session.data.query = run.query;
  // a link's flow token (e-mail verification, recovery) brings its saved plan into this session
  const token = run.query[QS_KEY_TOKEN];
  const restored = token ? await restoreFlowToken(run.svc.db, flow.flow_uuid, token, session.data.plan) : undefined;
  if (restored) session.data.plan = restored;
  const existing = session.data.plan;
  const plan = existing ?? (await newPlan(run));
  if (!existing) session.dirty = true;
  return isAnswer(plan) ? plan : runStage(run, plan, method, body);
}

/**
 * The inline path: each 302 back to the executor is the GET the client would send next, run here on the same
 * session, as that GET would see it (whoever a stage just logged in asks it). Should that GET fail, the answer is the
 * flow error it would have got and the session is kept as the POST left it, as when the GET is a request of its own.
 */
async function followAdvances(run: Run, result: Answer): Promise<Answer> {
  if (result.status !== 302) return result;
  const before = snapshot(run.session);
  // the hops are the GETs authentik's protocol would send: policies and events see a GET (rest/http.ts requestMethod)
  followedHops.add(run.req);
  try {
    for (let hop = 0; result.status === 302 && hop < MAX_FOLLOWS; hop++) {
      if (run.session.userId !== (run.requester.user?.id ?? null)) run.requester = await requesterOf(run.svc, run.session);
      result = await decide(run, 'GET', undefined);
    }
    return result;
  } catch (err) {
    if (isDbConnectionError(err)) throw err;
    logFailure(run.req, err as Error);
    restore(run.session, before);
    return answer(await failureChallenge(run.svc, run.req, run.requester, err as Error));
  } finally {
    followedHops.delete(run.req);
  }
}

/**
 * the session's fields as they stand, its data as text (a failed follow puts them back): only a failure reads the
 * text back, so a follow that succeeds pays one JSON.stringify, not a deep copy
 */
const snapshot = (s: Session) => ({ fields: { ...s }, data: JSON.stringify(s.data) });

function restore(s: Session, before: ReturnType<typeof snapshot>) {
  for (const k of Object.keys(s)) if (!(k in before.fields)) delete (s as unknown as Record<string, unknown>)[k];
  Object.assign(s, before.fields, { data: JSON.parse(before.data) as Session['data'] });
}

/** a parser's message can quote the body (a password): only the class and position of those are logged */
function logFailure(req: FastifyRequest, err: Error) {
  req.log.warn({ err: parseErrorLogFields(err) ?? { message: err.message, code: (err as { code?: string }).code } }, 'flow executor error');
}

/**
 * keeps the session (if it holds anything worth a row) and lets the next request of it start; the reservations of
 * this request's passed checks that no login took are given back first, in the save's statement where it can carry
 * them (PostgreSQL)
 */
async function closeSession(run: Run, method: 'GET' | 'POST'): Promise<void> {
  const carry = run.svc.lockout.carryReleases(takeDue(run));
  // (a write owed durability: the save commits synchronously, and writes even if nothing changed — StageCall.durableLater)
  if (worthKeeping(run)) {
    await run.svc.sessions.save(run.session, run.req, run.reply, { ifUnchanged: method === 'GET', carry, durable: run.owesFlush });
    run.owesFlush = false;
  } else {
    await carry?.run();
    await payFlush(run);
  }
  await run.svc.sessions.unlock(run.session);
}

/**
 * a write the request owes durability (StageCall.durableLater) made durable by a synchronous no-change write to its
 * session's row, which a request owing one always has: when it keeps no session, and when it failed before its save
 */
async function payFlush(run: Run | undefined): Promise<void> {
  if (!run?.owesFlush) return;
  run.owesFlush = false;
  await run.svc.sessions.flush(run.session);
}

/**
 * the reservations of this request's passed checks that no login took (StageCall.releaseLater); also when the request
 * failed (`finally`), where a release that fails leaves the check counted (closed)
 */
async function giveBackReservations(run: Run | undefined): Promise<void> {
  if (!run?.releases.length) return;
  for (const a of takeDue(run)) await a.release();
}

/** the reservations still to give back, taken from the run (so none is given back twice) */
function takeDue(run: Run): Attempt[] {
  const due = run.releases;
  run.releases = [];
  return due;
}

function send(reply: FastifyReply, result: Answer) {
  reply.header('cache-control', 'no-store');
  if (result.status === 302) return reply.code(302).header('location', result.location).send();
  return reply.code(200).send(result.body);
}

async function execute(svc: Services, req: FastifyRequest, reply: FastifyReply, method: 'GET' | 'POST') {
  const slug = (req.params as { flow_slug: string }).flow_slug;
  const session = await openSession(svc, req, method);
  if (isAnswer(session)) return send(reply, session);
  let run: Run | undefined;
  try {
    run = await prepareRun(svc, req, reply, session, slug);
    if (!run) return reply.code(404).send({ detail: 'No Flow matches the given query.' });
    let result = await decide(run, method, req.body);
    if (wantsInline(req)) result = await followAdvances(run, result);
    // the next request of this session may start as soon as this answer is out
    await closeSession(run, method);
    return send(reply, result);
  } finally {
    await payFlush(run).catch((e) => req.log.error({ err: e }, 'making a write durable failed'));
    await giveBackReservations(run).catch(() => undefined);
    await svc.sessions.unlock(session);
  }
}

/**
 * The flow page's first challenge (src/ui/): the executor GET the page would send after loading
 * (`/api/v3/flows/executor/{slug}/?query=<the page's query>`), run while the page is served, its session's cookies
 * set on the page's response. A failure is thrown (the page is then served without it and sends that GET itself).
 */
export async function firstChallenge(
  svc: Services,
  page: FastifyRequest,
  reply: FastifyReply,
  slug: string,
): Promise<Record<string, unknown>> {
  const req = asExecutorGet(page, slug);
  const session = await openSession(svc, req, 'GET');
  if (isAnswer(session)) return answerBody(session, req.id);
  let run: Run | undefined;
  try {
    run = await prepareRun(svc, req, reply, session, slug);
    if (!run) return NO_SUCH_FLOW;
    const result = await followAdvances(run, await decide(run, 'GET', undefined));
    await closeSession(run, 'GET');
    return answerBody(result, req.id);
  } finally {
    await payFlush(run).catch((e) => req.log.error({ err: e }, 'making a write durable failed'));
    await giveBackReservations(run).catch(() => undefined);
    await svc.sessions.unlock(session);
  }
}

/** (a GET's answer after following is a challenge; the bound on following is reported as a flow error) */
const answerBody = (a: Answer, requestId: string): Record<string, unknown> =>
  a.status === 200 ? a.body : flowError(requestId, 'Too many redirects in one request.');

/**
 * The page request seen as the executor GET it stands for: its URL, method and query are that GET's, so stages and
 * policies (`request.http_request`) see what they see when the page sends it; the rest (client, headers) is the page's.
 */
function asExecutorGet(page: FastifyRequest, slug: string): FastifyRequest {
  const search = page.url.includes('?') ? page.url.slice(page.url.indexOf('?') + 1) : '';
  const url = `/api/v3/flows/executor/${encodeURIComponent(slug)}/?query=${encodeURIComponent(search)}`;
  return Object.create(page, {
    url: { value: url },
    method: { value: 'GET' },
    query: { value: { query: search } },
    body: { value: undefined },
  }) as FastifyRequest;
}

/**
 * `ChallengeTypes` and `FlowChallengeResponseRequest` as authentik publishes them: a `oneOf` of every challenge
 * (response) component, discriminated by `component`; the stage types' come from the registry (src/server.ts).
 */
export function challengeComponents(stageChallenges: ChallengeDef[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  const all = [...sharedChallenges, ...stageChallenges];
  const parts: WireSchema[] = [...sharedParts];
  const union = (pick: (d: ChallengeDef) => WireSchema | undefined) => {
    const mapping: Record<string, string> = {};
    for (const d of all) {
      const w = pick(d);
      if (!w) continue;
      const ref = `#/components/schemas/${w.name}`;
      if (mapping[d.component] && mapping[d.component] !== ref) throw new Error(`challenge component ${d.component} has two schemas`);
      mapping[d.component] = ref;
      out[w.name] = w.schema;
    }
    const refs = [...new Set(Object.values(mapping))].sort();
    return { oneOf: refs.map(($ref) => ({ $ref })), discriminator: { propertyName: 'component', mapping } };
  };
  out.ChallengeTypes = union((d) => d.challenge);
  out.FlowChallengeResponseRequest = union((d) => d.response);
  for (const d of all) parts.push(...(d.parts ?? []));
  for (const p of parts) out[p.name] = p.schema;
  return out;
}

export function mountExecutor(router: ApiRouter, svc: Services, stageChallenges: ChallengeDef[]) {
  // an encapsulated plugin: the executor reads its session itself (and with it the configuration epoch), applies
  // authentik's CSRF rule itself (a flow error, for logged-in sessions only) and answers failures as flow errors;
  // the app-wide hooks see `ownSession` and leave all that to it. A bearer token is resolved here.
  router.app.register(async (scope) => {
    scope.addHook('preHandler', async (req) => {
      if (req.headers.authorization) req.caller = await identify(svc.db, req);
    });
    mountRoute(router.within(scope), svc);
  });
  for (const [name, schema] of Object.entries(challengeComponents(stageChallenges))) router.component(name, schema);
}

function mountRoute(router: ApiRouter, svc: Services) {
  const doc = (operationId: string) => ({
    operationId,
    tag: 'flows',
    query: [{ name: 'query', schema: { type: 'string' } }],
    response: 'ChallengeTypes',
  });
  router.route(
    '/flows/executor/{flow_slug}',
    {
      get: { doc: doc('flows_executor_get'), handler: (req, reply) => execute(svc, req, reply, 'GET') },
      post: {
        doc: { ...doc('flows_executor_solve'), body: 'FlowChallengeResponseRequest' },
        handler: (req, reply) => execute(svc, req, reply, 'POST'),
      },
    },
    [{ name: 'flow_slug', schema: { type: 'string' } }],
    {
      config: { ownSession: true },
      // malformed bodies, unsupported media types, oversized requests, unexpected failures: a flow error, never a 4xx/5xx
      errorHandler: async (err, req, reply) => {
        logFailure(req, err);
        // the database is unreachable: a retryable 503, as for the rest of the API
        if (isDbConnectionError(err)) return reply.code(503).send({ detail: 'The database is unavailable; try again shortly.' });
        // (a body that could not be read is the client's mistake, not a failure to record)
        const run = runs.get(req);
        if (!run) return reply.code(200).send(flowError(req.id));
        return reply.code(200).send(await failureChallenge(svc, req, run.requester, err));
      },
    },
  );
}
