/** Placeholder for the stage runtime interface (executor issue). */
export interface StageRuntime {
  readonly challengeComponent: string;
}
