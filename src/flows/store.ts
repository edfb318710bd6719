/** Flow and binding reads and writes shared by the flow API, stage `flow_set` handling and the browser entry points. */
import type { DB } from '../db/index.js';
import type { FlowsTable } from '../db/types.js';
import { newPk } from '../rest/requested-pk.js';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Tx } from '../rest/resource.js';
import { apiToRow } from '../rest/serialize.js';
import { bindingProps, flowProps } from './rest/schema.js';

export async function insertFlow(tx: Tx, data: Record<string, unknown>): Promise<string> {
  const flow_uuid = newPk();
  await tx
    .insertInto('flows')
    .values({ flow_uuid, pbm_uuid: randomUUID(), ...(apiToRow(flowProps, data) as object) } as never)
    .execute();
  return flow_uuid;
}

export async function insertBinding(tx: Tx, data: Record<string, unknown>): Promise<string> {
  const fsb_uuid = newPk();
  await tx
    .insertInto('flow_bindings')
    .values({ fsb_uuid, pbm_uuid: randomUUID(), ...(apiToRow(bindingProps, data) as object) } as never)
    .execute();
  return fsb_uuid;
}

/** a binding's fields as authentik defaults them */
export const bindingDefaults = (target: string, stage: string, order: number) => ({
  target,
  stage,
  order,
  evaluate_on_plan: false,
  re_evaluate_policies: true,
  policy_engine_mode: 'any',
  invalid_response_action: 'retry',
});

/** Binds `stage` to `flow` after the flow's last binding, unless it is bound there already. */
export async function appendBinding(tx: Tx, flow: string, stage: string): Promise<void> {
  const existing = await tx
    .selectFrom('flow_bindings')
    .select('fsb_uuid')
    .where('target', '=', flow)
    .where('stage', '=', stage)
    .executeTakeFirst();
  if (existing) return;
  const last = await tx
    .selectFrom('flow_bindings')
    .select(sql<number | null>`max(${sql.ref('order')})`.as('m'))
    .where('target', '=', flow)
    .executeTakeFirst();
  const order = last?.m === null || last?.m === undefined ? 10 : Number(last.m) + 10;
  await insertBinding(tx, bindingDefaults(flow, stage, order));
}

/** a flow by its uuid (none for none) */
export const flowByUuid = (svc: { db: DB }, uuid: string | null | undefined) =>
  uuid
    ? (svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', uuid).executeTakeFirst() as Promise<FlowsTable | undefined>)
    : Promise.resolve(undefined);
