// Helpers for the engine suites: a `yesapp serve` pointed at a running
// `yesapp sim`, and waiting for a session to reach a state.
import { startServer, req } from './lib.mjs';
import { sleep } from '../interop/sim-lib.mjs';

// Starts a server whose sessions connect to sim (root: its rootPublicKey)
// with API key `key`.
export async function serveOnSim(sim, root, key, env = {}) {
  const srv = await startServer({ env: { WA_WS_URL: sim.wsUrl, WA_ROOT_KEY: root, API_KEY: key, ...env } });
  srv.key = key;
  return srv;
}

// Resolves with the session once check(session) is true; rejects with the
// last answer after ms.
export async function waitSession(srv, id, check, what, ms = 15000) {
  const end = Date.now() + ms;
  let r = null;
  for (;;) {
    r = await req(srv, 'GET', `/api/v1/sessions/${id}`);
    if (r.status === 200 && check(r.body)) return r.body;
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms; last: ${r.status} ${r.text}`);
    await sleep(40);
  }
}
