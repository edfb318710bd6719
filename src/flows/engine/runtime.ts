/**
 * How the executor talks to a stage type (the only thing it knows about stages): render a challenge for GET,
 * judge a response for POST, and say what happens next.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FlowsTable, UsersTable } from '../../db/types.js';
import type { Services as AppServices } from '../../services.js';
import type { Session } from '../../sessions/sessions.js';
import type { Attempt } from '../../auth/lockout.js';
import type { FlowContext } from './context.js';
import type { Plan } from './plan.js';

/** the services a stage call receives (src/services.ts), with the registry's stage types */
export type Services = AppServices<StageType>;

/** What the engine (and a stage that offers other stages, e.g. the MFA setup choice) knows of a stage type. */
export interface StageType {
  /** lowercase model name, stored in stages.kind: `identificationstage` */
  kind: string;
  /** Django app label: `authentik_stages_identification` */
  app: string;
  verboseName: string;
  /** how the stage runs inside a flow (absent: the stage is skipped) */
  runtime?: StageRuntime;
}

/** `{field: [{string, code}]}` as the executor reports invalid responses */
export type ResponseErrors = Record<string, { string: string; code: string }[]>;

export type Challenge = Record<string, unknown> & { component: string };

export type Outcome =
  /** show this challenge (the executor adds flow_info and, when asked, the pending user) */
  | { type: 'challenge'; challenge: Challenge }
  /** the stage passed: advance */
  | { type: 'ok' }
  /** the response was invalid: re-render `challenge` with the errors (or restart, per the binding) */
  | { type: 'invalid'; errors: ResponseErrors; challenge: Challenge }
  /** abort the flow with an access-denied message */
  | { type: 'deny'; message?: string };

export interface StageCall<C, S extends object = object> {
  svc: Services;
  stage: { uuid: string; name: string; kind: string };
  config: C;
  flow: FlowsTable;
  plan: Plan;
  ctx: FlowContext;
  session: Session;
  req: FastifyRequest;
  reply: FastifyReply;
  clientIp: string;
  /** the query string of the flow page (`next`, …) */
  query: Record<string, string>;
  /** the user logged in on this session, if any */
  requestUser: UsersTable | undefined;
  /** run another stage right after this one */
  insertNext(stageUuid: string, kind: string): void;
  /**
   * the user the stage acts for (authentik's `get_pending_user`): the pending user, else whoever is logged in;
   * undefined when the pending user is a placeholder (an identifier that matched nobody). The flow's display of the
   * person (challenge.ts `displayUser`) follows the same order.
   */
  pendingUser(): Promise<UsersTable | undefined>;
  /**
   * makes `user` (a row this stage has just read, e.g. the one whose password it checked) the pending user: the
   * context's `pendingUser` becomes theirs, and `pendingUser()` answers with this row for the rest of the request
   * (no second read of the same row)
   */
  setPendingUser(user: UsersTable): void;
  /**
   * a reserved secret check (src/auth/lockout.ts) that passed: its reservation is given back when this request ends,
   * or earlier by a login stage of the same request, inside the login's transaction (`takeReleases`)
   */
  releaseLater(attempt: Attempt): void;
  /** the reservations `releaseLater` holds in this request that `keep` picks, handed over (no longer released at the end) */
  takeReleases(keep: (attempt: Attempt) => boolean): Attempt[];
  /**
   * PostgreSQL: whether a write this stage is about to make, which must survive a crash once the request has answered
   * (a TOTP step taken), may commit without waiting for the disk (src/db/async-commit.ts). If so (true), the request
   * makes it durable before it answers: at its next synchronous commit (`durableNow`: a login's transaction) or, at
   * the latest, with its session's save, which is then synchronous. False (SQLite): write as usual.
   */
  durableLater(): boolean;
  /** this request has just committed synchronously: every write before it is durable (pays what `durableLater` owed) */
  durableNow(): void;
  /**
   * this stage's own state in the plan (its shape is the stage's business: `S`), kept with the plan from one request
   * to the next until the stage passes; what several stages share belongs in `ctx`
   */
  readonly state: S;
}

export interface StageRuntime<C = any, S extends object = any> {
  /** challenge component this stage renders, e.g. `ak-stage-password` */
  readonly component: string;
  /** whether challenges carry `pending_user` / `pending_user_avatar` */
  readonly withUserInfo: boolean;
  challenge(call: StageCall<C, S>): Promise<Outcome>;
  respond(call: StageCall<C, S>, body: Record<string, unknown>): Promise<Outcome>;
}

/** the running stage as an event names a model (authentik's model_to_dict: app label, model name, pk, name) */
export const stageRefOf = (c: Pick<StageCall<unknown>, 'svc' | 'stage'>) => ({
  app: c.svc.stageType(c.stage.kind)?.app ?? '',
  model_name: c.stage.kind,
  pk: c.stage.uuid,
  name: c.stage.name,
});

export const ok = (): Outcome => ({ type: 'ok' });
export const deny = (message?: string): Outcome => ({ type: 'deny', message });
export const show = (challenge: Challenge): Outcome => ({ type: 'challenge', challenge });
export const invalid = (challenge: Challenge, errors: ResponseErrors): Outcome => ({ type: 'invalid', errors, challenge });

/** one error message in the executor's shape (code defaults to `invalid`) */
export const fieldError = (field: string, message: string, code = 'invalid'): ResponseErrors => ({ [field]: [{ string: message, code }] });
