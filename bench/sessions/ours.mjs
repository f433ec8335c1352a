// Our figures for bench sessions-*: one `yesapp serve` (YESAPP_BUILD) whose
// sessions link over wss:// to `yesapp sim --tls` at SIM_BASE, by QR through
// the REST API and /sim/scan.
//   node bench/sessions/ours.mjs SIM_BASE N1 N2
// Prints "link <seconds to link N2>", "rss1 <server KiB at N1 connected>",
// "rss2 <at N2>", "rss <(rss2 - rss1) / (N2 - N1) KiB>", then restarts the
// server on the same data directory: "restore <seconds from spawn until all
// N2 sessions are connected again>" and "rss3 <server KiB then>".
// SESSIONS_KEEP=DIR (run.sh passes it on): our data directory lives in DIR and
// is kept; when DIR/linked says N2 sessions were linked there before (against
// the simulator's state kept beside it), linking is skipped and only the
// restore is measured (prints "restore" and "rss3").
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, stopServer, req, tempDir, removeDir } from '../../tests/http/lib.mjs';
import { sleep } from '../../tests/interop/sim-lib.mjs';
import { linkAll, rssKiB, settle, simApi } from './lib.mjs';

const [base, n1Arg, n2Arg] = process.argv.slice(2);
const n1 = Number(n1Arg);
const n2 = Number(n2Arg);
const KEY = 'bench-sessions-key-0123456789';
const api = simApi(base);
const info = (await api('GET', '/sim/info')).json;
const keep = process.env.SESSIONS_KEEP || '';
const dir = keep || tempDir();
if (keep) mkdirSync(keep, { recursive: true });
const linkedFile = join(dir, 'linked');
const linkedBefore = keep && existsSync(linkedFile) && Number(readFileSync(linkedFile, 'utf8')) === n2;
const ca = join(dir, 'sim-ca.pem');
writeFileSync(ca, info.caCert);
const env = {
	WA_WS_URL: info.wssUrl,
	WA_ROOT_KEY: info.rootPublicKey,
	WA_CA_FILE: ca,
	API_KEY: KEY,
	RATE_LIMIT_GLOBAL: '1000000',
	// SESSIONS_GLIBC_TUNABLES: malloc settings for the server, to compare
	...(process.env.SESSIONS_GLIBC_TUNABLES ? { GLIBC_TUNABLES: process.env.SESSIONS_GLIBC_TUNABLES } : {}),
};
const serve = async () => {
	const srv = await startServer({ dataDir: join(dir, 'data'), env, timeoutMs: 60000, openapiCheck: false });
	srv.key = KEY;
	return srv;
};

async function waitSession(srv, id, pred, what, ms = 120000) {
	const end = Date.now() + ms;
	for (;;) {
		const r = await req(srv, 'GET', `/api/v1/sessions/${id}`);
		if (r.status === 200 && pred(r.body)) return r.body;
		if (Date.now() > end) throw new Error(`session ${id}: no ${what} in ${ms} ms: ${r.text}`);
		await sleep(100);
	}
}

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

// The registry's count of connected sessions (GET /metrics: one cheap
// answer, where paging GET /sessions through 10,000 rows every 200 ms cost
// the server a quarter of its CPU during a restore).
async function connectedGauge(srv) {
	const r = await req(srv, 'GET', '/metrics');
	if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.text}`);
	const m = /^yesapp_sessions_active (\d+)$/m.exec(r.text);
	if (!m) throw new Error('GET /metrics: no yesapp_sessions_active');
	return Number(m[1]);
}

const phone = (i) => `1888${String(process.pid % 1000).padStart(3, '0')}${String(i).padStart(5, '0')}`;
let srv = null;
try {
	if (!linkedBefore) await linkPhase();
	const tr = performance.now();
	srv = await serve();
	const curve = [];
	let lastMark = 0;
	for (;;) {
		const n = await connectedGauge(srv);
		const t = (performance.now() - tr) / 1000;
		if (t - lastMark >= 1) {
			curve.push(`${t.toFixed(0)}s:${n}`);
			lastMark = t;
		}
		if (n >= n2) break;
		if (t > 600) throw new Error('restore took over 10 minutes');
		await sleep(100);
	}
	const restore = (performance.now() - tr) / 1000;
	if ((await connectedCount(srv)) < n2) throw new Error('GET /metrics and GET /sessions disagree');
	console.error(`restore curve (connected by time): ${curve.join(' ')}`);
	console.log(`restore ${restore.toFixed(2)}`);
	await settle();
	console.log(`rss3 ${rssKiB(srv.proc.pid)}`);
} finally {
	if (srv) await stopServer(srv, { removeData: false });
	if (!keep) removeDir(dir);
}

// Links n2 sessions and prints the link time and RSS figures; the server is
// stopped at the end, its data kept for the restore.
async function linkPhase() {
	srv = await serve();
	const linkOne = async (i) => {
		await api('POST', '/sim/accounts', { phone: phone(i) });
		const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: `s${i}` } });
		if (c.status !== 201) throw new Error(`create: ${c.status} ${c.text}`);
		const s = c.body.qrCode ? c.body : await waitSession(srv, c.body.id, (x) => x.qrCode, 'QR');
		const scan = await api('POST', '/sim/scan', { phone: phone(i), qr: s.qrCode });
		if (scan.status !== 200) throw new Error(`scan: ${scan.status} ${scan.text}`);
		await waitSession(srv, c.body.id, (x) => x.status === 'connected', 'connected');
	};
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
	if (keep) writeFileSync(linkedFile, String(n2));
}
