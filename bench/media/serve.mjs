// Serves one file at any path on 127.0.0.1 (a stand-in media host for
// bench/media/run.sh); prints the port, runs until killed.
import fs from 'node:fs';
import http from 'node:http';

const file = process.argv[2];
const size = fs.statSync(file).size;
const srv = http.createServer((req, res) => {
	res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
	fs.createReadStream(file).pipe(res);
});
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
