/** A blueprint applied through the API's upload (`POST /managed/blueprints/import/`): its outcome and logs. */
import type { TestServer } from './server.js';

export async function importBlueprint(srv: TestServer, yaml: string): Promise<{ success: boolean; logs: { event: string }[] }> {
  const form = new FormData();
  form.set('file', new Blob([yaml]), 'b.yaml');
  const res = await fetch(`${srv.api}/managed/blueprints/import/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}` },
    body: form,
  });
  return (await res.json()) as { success: boolean; logs: { event: string }[] };
}
