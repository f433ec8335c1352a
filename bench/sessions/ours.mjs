// Our figures for bench sessions-*: one `yesapp serve` (YESAPP_BUILD) whose
// sessions link over wss:// to `yesapp sim --tls` at SIM_BASE, by QR through
// the REST API and /sim/scan.
//   node bench/sessions/ours.mjs SIM_BASE N1 N2
// Prints "link <seconds to link N2>", "rss1 <server KiB at N1 connected>",
// "rss2 <at N2>", "rss <(rss2 - rss1) / (N2 - N1) KiB>", then restarts the
// server on the same data directory: "restore <seconds from spawn until all
// N2 sessions are connected again>".
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, stopServer, req, tempDir, removeDir } from '../../tests/http/lib.mjs';
import { sleep } from '../../tests/interop/sim-lib.mjs';
import { linkAll, linkOurs, rssKiB, settle, simApi } from './lib.mjs';

const [base, n1Arg, n2Arg] = process.argv.slice(2);
const n1 = Number(n1Arg);
const n2 = Number(n2Arg);
const KEY = 'bench-sessions-key-0123456789';
const api = simApi(base);
const info = (await api('GET', '/sim/info')).json;
const dir = tempDir();
const ca = join(dir, 'sim-ca.pem');
writeFileSync(ca, info.caCert);
const env = {
	WA_WS_URL: info.wssUrl,
	WA_ROOT_KEY: info.rootPublicKey,
	WA_CA_FILE: ca,
	API_KEY: KEY,
	RATE_LIMIT_GLOBAL: '1000000',
};
const serve = async () => {
	const srv = await startServer({ dataDir: join(dir, 'data'), env, timeoutMs: 60000, openapiCheck: false });
	srv.key = KEY;
	return srv;
};

async function connectedCount(srv) {
	let n = 0;
	let cursor = null;
	do {
		const r = await req(srv, 'GET', `/api/v1/sessions?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
		if (r.status !== 200) throw new Error(`GET /sessions: ${r.status} ${r.text}`);
		n += r.body.data.filter((s) => s.status === 'connected').length;
		cursor = r.body.nextCursor;
	} while (cursor);
	return n;
}

const phone = (i) => `1888${String(process.pid % 1000).padStart(3, '0')}${String(i).padStart(5, '0')}`;
let srv = await serve();
try {
	const linkOne = (i) => linkOurs(srv, api, phone(i), `s${i}`);
	const tl = performance.now();
	await linkAll(0, n1, linkOne);
	await settle();
	const rss1 = rssKiB(srv.proc.pid);
	await linkAll(n1, n2, linkOne);
	const link = (performance.now() - tl) / 1000;
	await settle();
	const rss2 = rssKiB(srv.proc.pid);
	if ((await connectedCount(srv)) !== n2) throw new Error('not every session stayed connected');
	console.log(`link ${link.toFixed(2)}`);
	console.log(`rss1 ${rss1}`);
	console.log(`rss2 ${rss2}`);
	console.log(`rss ${((rss2 - rss1) / (n2 - n1)).toFixed(2)}`);

	await stopServer(srv, { removeData: false });
	srv = null;
	const tr = performance.now();
	srv = await serve();
	while ((await connectedCount(srv)) < n2) {
		if (performance.now() - tr > 600000) throw new Error('restore took over 10 minutes');
		await sleep(200);
	}
	console.log(`restore ${((performance.now() - tr) / 1000).toFixed(2)}`);
} finally {
	if (srv) await stopServer(srv, { removeData: false });
	removeDir(dir);
}
