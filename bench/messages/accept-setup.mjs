// Makes the data directory bench/messages/run.sh measures accepting in:
//   node bench/messages/accept-setup.mjs DATA_DIR API_KEY
// starts `yesapp sim` and `yesapp serve` on DATA_DIR, links one session by
// QR (so it has a device and is "linked"), stops both cleanly and prints the
// session's id. Served again with nothing to connect to, the session is
// linked but reconnecting: a send is accepted (stored pending, 202) and
// waits in its queue, which is what messages-accept measures.
import { startSim } from '../../tests/interop/sim-lib.mjs';
import { messaging } from '../../tests/http/msg-lib.mjs';
import { stopServer } from '../../tests/http/lib.mjs';

const [dataDir, key] = process.argv.slice(2);
const sim = await startSim();
let srv = null;
try {
  const h = await messaging(sim, { key, prefix: '1563' });
  srv = await h.serve(dataDir);
  const id = await h.link(srv, h.newPhone());
  await stopServer(srv, { removeData: false });
  srv = null;
  console.log(id);
} finally {
  if (srv) await stopServer(srv, { removeData: false });
  await sim.stop();
}
process.exit(0);
