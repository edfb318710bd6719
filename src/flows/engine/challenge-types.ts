/**
 * The wire shape of challenges and responses, as TypeBox schemas named like authentik's OpenAPI components.
 * Each stage folder's challenge.ts declares its own with these helpers; the executor serves them all as the
 * `ChallengeTypes` / `FlowChallengeResponseRequest` unions (discriminated by `component`), and the server runtime
 * and the browser views share the `Static<>` types.
 *
 * Imported by browser code (types only) and by the server: nothing Node-only here.
 */
import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { S, type Props } from '../../rest/schema.js';

/** `$ref` to another component, typed as that component's schema */
/** a flow's designations and layouts, as authentik 2026.8.3 declares them (the flow model, its REST API and challenges) */
export const DESIGNATIONS = [
  'authentication',
  'authorization',
  'invalidation',
  'enrollment',
  'unenrollment',
  'recovery',
  'stage_configuration',
] as const;
export const LAYOUTS = [
  'stacked',
  'content_left',
  'content_right',
  'sidebar_left',
  'sidebar_right',
  'sidebar_left_frame_background',
  'sidebar_right_frame_background',
] as const;

export const ref = <T extends TSchema>(name: string, _schema?: T) => Type.Unsafe<Static<T>>({ $ref: `#/components/schemas/${name}` });
/** nullable `$ref` (OpenAPI 3.0: `allOf` + `nullable`, as authentik publishes it) */
export const nullableRef = <T extends TSchema>(name: string, _schema?: T) =>
  Type.Unsafe<Static<T> | null>({ allOf: [{ $ref: `#/components/schemas/${name}` }], nullable: true });

export const ErrorDetail = Type.Object(
  { string: Type.String(), code: Type.String() },
  { description: "Serializer for rest_framework's error messages" },
);
export type ErrorDetail = Static<typeof ErrorDetail>;

/** `{field: [{string, code}]}` as the executor reports invalid responses */
export const ResponseErrors = Type.Unsafe<Record<string, ErrorDetail[]>>({
  type: 'object',
  additionalProperties: { type: 'array', items: { $ref: '#/components/schemas/ErrorDetail' } },
});
export type ResponseErrors = Static<typeof ResponseErrors>;

const ThemedUrls = Type.Object({ light: Type.String(), dark: Type.String() });

export const ContextualFlowInfo = Type.Object(
  {
    title: Type.Optional(Type.String()),
    background: Type.Optional(Type.String()),
    background_themed_urls: Type.Optional(nullableRef('ThemedUrls', ThemedUrls)),
    cancel_url: Type.String(),
    layout: S.enumOf(LAYOUTS),
  },
  { description: 'Contextual flow information for a challenge' },
);
export type ContextualFlowInfo = Static<typeof ContextualFlowInfo>;

/** the discriminator: always sent, one value per component */
const componentField = <C extends string>(component: C) => Type.Unsafe<C>({ type: 'string', enum: [component], default: component });

const base = <C extends string>(component: C) => ({
  flow_info: Type.Optional(ref('ContextualFlowInfo', ContextualFlowInfo)),
  component: componentField(component),
  response_errors: Type.Optional(ResponseErrors),
});

/** authentik's `Challenge`: component, flow_info, response_errors and the component's own fields */
export const challengeSchema = <C extends string, P extends TProperties>(component: C, props: P, description?: string) =>
  Type.Object({ ...base(component), ...props }, description ? { description } : {});

/** authentik's `WithUserInfoChallenge`: also pending_user and pending_user_avatar (added by the executor) */
export const userChallengeSchema = <C extends string, P extends TProperties>(component: C, props: P, description?: string) =>
  Type.Object(
    { ...base(component), pending_user: Type.String(), pending_user_avatar: Type.String(), ...props },
    description ? { description } : {},
  );

/** what a stage's runtime builds: the challenge without the parts the executor adds */
export type StageChallenge<T extends TSchema> = Omit<Static<T>, 'flow_info' | 'response_errors' | 'pending_user' | 'pending_user_avatar'>;

/** DRF's required rule (as src/api/validate.ts applies it) */
const requiredField = (s: TSchema) => !s.readOnly && s.default === undefined && !s.nullable && !s['x-optional'];

/**
 * authentik's `ChallengeResponse`: an optional `component` and the stage's fields. The fields keep the keywords
 * the DRF-style validator uses; the runtime validates with `responseFields(schema)`.
 */
export function responseSchema(component: string, fields: Props, description?: string): TObject {
  const props: TProperties = { component: Type.Optional(S.str({ default: component })) };
  for (const [k, s] of Object.entries(fields)) props[k] = requiredField(s) ? s : Type.Optional(s);
  return Type.Object(props, description ? { description } : {});
}

/** the fields a stage validates (everything but `component`, which the executor does not check) */
export function responseFields(schema: TObject): Props {
  const { component: _component, ...fields } = schema.properties;
  return fields;
}

/** a named OpenAPI component */
export interface WireSchema {
  name: string;
  schema: TSchema;
}

/** one challenge component a stage serves, with its response body and the components they refer to */
export interface ChallengeDef {
  /** `ak-stage-password` */
  component: string;
  challenge: WireSchema;
  /** absent when the component takes no response (access denied, flow error) */
  response?: WireSchema;
  /** other components the schemas refer to by `$ref` */
  parts?: WireSchema[];
}

export const AccessDeniedChallenge = userChallengeSchema(
  'ak-stage-access-denied',
  { error_message: Type.Optional(Type.String()) },
  "Challenge when a flow's active stage calls `stage_invalid()`.",
);
export type AccessDeniedChallenge = Static<typeof AccessDeniedChallenge>;

export const FlowErrorChallenge = challengeSchema(
  'ak-stage-flow-error',
  { request_id: Type.String(), error: Type.Optional(Type.String()), traceback: Type.Optional(Type.String()) },
  'Challenge class when an unhandled error occurs during a stage.',
);
export type FlowErrorChallenge = Static<typeof FlowErrorChallenge>;

export const RedirectChallenge = challengeSchema(
  'xak-flow-redirect',
  { to: Type.String(), final_redirect: Type.Optional(Type.Boolean({ default: false })) },
  'Challenge type to redirect the client',
);
export type RedirectChallenge = Static<typeof RedirectChallenge>;

/** the components the executor itself serves, whatever the stages */
export const sharedChallenges: ChallengeDef[] = [
  { component: 'ak-stage-access-denied', challenge: { name: 'AccessDeniedChallenge', schema: AccessDeniedChallenge } },
  { component: 'ak-stage-flow-error', challenge: { name: 'FlowErrorChallenge', schema: FlowErrorChallenge } },
  { component: 'xak-flow-redirect', challenge: { name: 'RedirectChallenge', schema: RedirectChallenge } },
];

/** the parts every challenge refers to */
export const sharedParts: WireSchema[] = [
  { name: 'ContextualFlowInfo', schema: ContextualFlowInfo },
  { name: 'ErrorDetail', schema: ErrorDetail },
];

/** any challenge as the browser receives it */
export type AnyChallenge = {
  component: string;
  flow_info?: ContextualFlowInfo;
  response_errors?: ResponseErrors;
  pending_user?: string;
  pending_user_avatar?: string;
};
