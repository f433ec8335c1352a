/*
 * The simulator's media host: HTTPS on its own port (real clients build
 * https:// upload URLs), with a CA and a certificate for 127.0.0.1 that the
 * simulator makes at start (GET /sim/info returns the CA as PEM so test
 * clients can trust it), or, with --certs DIR, loads from DIR (ca.pem,
 * cert.pem, key.pem; made there on first use, so the CA survives restarts). Announced through the media_conn iq.
 *
 *   POST /mms/<type>/<token>?auth=A&token=T  stores the body (an encrypted
 *        blob), answers {"url","direct_path"}
 *   GET  <direct_path>                        the stored bytes
 *
 * Blobs live in memory: at most SIM_MEDIA_BLOB_MAX (128 MiB) each and
 * SIM_MEDIA_TOTAL_MAX together (413 / 507 beyond).
 *
 * Two more hosts for host fallback (POST /sim/media/hosts): a dead one (a
 * port bound and never listened on: connections are refused) and a busy
 * one (HTTPS, the same certificate, 503 to everything).
 */
#include "sim/sim_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

#define CERT_DAYS 30

struct sim_blob {
	struct sim_blob *next;
	char path[64]; /* direct path without the query */
	bool expired;  /* answers 410 (tamper mode expired, lost, silent, reexpired) */
	bool lost;     /* gone from the phone too: never uploaded again (lost) */
	bool silent;   /* the phone never answers a retry of it (silent) */
	bool again;    /* its copies uploaded again expire too (reexpired) */
	size_t len;
	uint8_t data[];
};

static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *signer_key, X509 *issuer, const char *cn,
		       bool ca, long serial)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509_NAME *name;
	int ok = 0;

	if (!x)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)CERT_DAYS * 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"YesApp simulator",
				   -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
				  ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (!ext || !X509_add_ext(x, ext, -1))
		goto out;
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
				  ca ? "critical,keyCertSign,cRLSign"
				     : "critical,digitalSignature,keyEncipherment");
	if (!ext || !X509_add_ext(x, ext, -1))
		goto out;
	X509_EXTENSION_free(ext);
	ext = NULL;
	if (!ca) {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
					  "IP:127.0.0.1,DNS:localhost");
		if (!ext || !X509_add_ext(x, ext, -1))
			goto out;
		X509_EXTENSION_free(ext);
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, "serverAuth");
		if (!ext || !X509_add_ext(x, ext, -1))
			goto out;
		X509_EXTENSION_free(ext);
		ext = NULL;
	}
	ok = X509_sign(x, signer_key, EVP_sha256()) > 0;
out:
	X509_EXTENSION_free(ext);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, key ? 0600 : 0644);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int ok;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return Y_EIO;
	}
	ok = cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) || !ok)
		return Y_EIO;
	return Y_OK;
}

static int keep_ca_pem(struct sim *s, X509 *ca)
{
	BIO *mem = BIO_new(BIO_s_mem());
	BUF_MEM *bm;
	int rc = Y_ENOMEM;

	if (mem && PEM_write_bio_X509(mem, ca)) {
		BIO_get_mem_ptr(mem, &bm);
		s->ca_pem = strndup(bm->data, bm->length);
		if (s->ca_pem)
			rc = Y_OK;
	}
	BIO_free(mem);
	return rc;
}

/* Makes the CA and the 127.0.0.1 certificate and writes cert.pem and
 * key.pem (and ca.pem when with_ca) into dir; keeps the CA PEM. */
static int make_tls(struct sim *s, const char *dir, bool with_ca)
{
	EVP_PKEY *cak = EVP_EC_gen("P-256"), *srvk = EVP_EC_gen("P-256");
	X509 *ca = NULL, *srv = NULL;
	char path[300];
	int rc = Y_ECRYPTO;

	if (!cak || !srvk)
		goto out;
	ca = make_cert(cak, cak, NULL, "YesApp simulator CA", true, 1);
	srv = ca ? make_cert(srvk, cak, ca, "127.0.0.1", false, 2) : NULL;
	if (!srv)
		goto out;
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	rc = write_pem(path, NULL, srvk);
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	rc = rc ?: write_pem(path, srv, NULL);
	if (with_ca) {
		snprintf(path, sizeof(path), "%s/ca.pem", dir);
		rc = rc ?: write_pem(path, ca, NULL);
	}
	rc = rc ?: keep_ca_pem(s, ca);
out:
	X509_free(ca);
	X509_free(srv);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(srvk);
	return rc;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return x;
}

/* Loads ca.pem, cert.pem and key.pem from dir: each must parse, the key must
 * be the certificate's and the CA must have signed the certificate. */
static int load_tls(struct sim *s, const char *dir)
{
	char path[300];
	X509 *ca, *srv;
	EVP_PKEY *key = NULL;
	FILE *f;
	int rc = Y_EINVAL;

	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	ca = read_cert(path);
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	srv = read_cert(path);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	f = fopen(path, "r");
	if (f) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!ca || !srv || !key) {
		LOG_ERROR("sim certs: unreadable PEM", "{s:s, s:b, s:b, s:b}", "dir", dir,
			  "caOk", ca != NULL, "certOk", srv != NULL, "keyOk", key != NULL);
		goto out;
	}
	if (X509_check_private_key(srv, key) != 1) {
		LOG_ERROR("sim certs: key.pem is not cert.pem's key", "{s:s}", "dir", dir);
		goto out;
	}
	if (X509_verify(srv, X509_get0_pubkey(ca)) != 1) {
		LOG_ERROR("sim certs: cert.pem is not signed by ca.pem", "{s:s}", "dir", dir);
		goto out;
	}
	rc = keep_ca_pem(s, ca);
out:
	ERR_clear_error();
	X509_free(ca);
	X509_free(srv);
	EVP_PKEY_free(key);
	return rc;
}

/* --certs DIR: all three files present: load them; none: make them there
 * (creating DIR); some: refuse (a half-written directory is not trusted). */
static int certs_dir_tls(struct sim *s, const char *dir)
{
	static const char *const names[] = { "ca.pem", "cert.pem", "key.pem" };
	char path[300];
	int present = 0;

	if (strlen(dir) >= sizeof(s->media_dir) - 10) {
		LOG_ERROR("sim certs: directory name too long", "{s:s}", "dir", dir);
		return Y_EINVAL;
	}
	snprintf(s->media_dir, sizeof(s->media_dir), "%s", dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		LOG_ERROR("sim certs: cannot create directory", "{s:s, s:s}", "dir", dir, "error",
			  strerror(errno));
		return Y_EIO;
	}
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		present += access(path, F_OK) == 0;
	}
	if (present == 3) {
		LOG_INFO("sim certs loaded", "{s:s}", "dir", dir);
		return load_tls(s, dir);
	}
	if (present) {
		LOG_ERROR("sim certs: need all of ca.pem, cert.pem, key.pem or none", "{s:s}", "dir",
			  dir);
		return Y_EINVAL;
	}
	LOG_INFO("sim certs created", "{s:s}", "dir", dir);
	return make_tls(s, dir, true);
}

/* No --certs: a fresh CA and certificate in a temp dir removed at exit. */
static int temp_tls(struct sim *s)
{
	snprintf(s->media_dir, sizeof(s->media_dir), "/tmp/yesapp-sim-XXXXXX");
	if (!mkdtemp(s->media_dir)) {
		s->media_dir[0] = 0;
		return Y_EIO;
	}
	s->media_dir_tmp = true;
	return make_tls(s, s->media_dir, false);
}

static int json_error(struct ybuf *resp, int st, const char *msg)
{
	ybuf_printf(resp, "{\"error\":\"%s\"}", msg);
	return st;
}

/* Whether the query string q (after '?') has the parameter param
 * ("name=value") exactly, not merely as a substring of another one. */
static bool query_has(const char *q, const char *param)
{
	size_t pl = strlen(param);

	while (*q) {
		size_t n = strcspn(q, "&");

		if (n == pl && !memcmp(q, param, pl))
			return true;
		q += n;
		if (*q == '&')
			q++;
	}
	return false;
}

int sim_media_put(struct sim *s, const uint8_t *p, size_t n, const char *dir, const char *ext,
		  char path[64])
{
	struct sim_blob *b;
	uint8_t r[8];
	char hex[17];

	if (s->media_bytes + n > SIM_MEDIA_TOTAL_MAX)
		return Y_ETOOBIG;
	if (strlen(dir) + strlen(ext) + 18 > sizeof(b->path))
		return Y_EINVAL;
	b = malloc(sizeof(*b) + n);
	if (!b || wa_crypto_random(r, sizeof(r))) {
		free(b);
		return Y_ENOMEM;
	}
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	snprintf(b->path, sizeof(b->path), "%s/%s%s", dir, hex, ext);
	b->len = n;
	b->expired = false;
	b->lost = false;
	b->silent = false;
	b->again = false;
	memcpy(b->data, p, n);
	b->next = s->blobs;
	s->blobs = b;
	s->media_bytes += n;
	memcpy(path, b->path, strlen(b->path) + 1);
	return Y_OK;
}

void sim_media_drop(struct sim *s, const char *path)
{
	for (struct sim_blob **pp = &s->blobs; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->path, path)) {
			struct sim_blob *b = *pp;

			*pp = b->next;
			s->media_bytes -= b->len;
			free(b);
			return;
		}
}

int sim_media_rehost(struct sim *s, const char *path, char out[64])
{
	size_t n = strcspn(path, "?");
	char dir[64], ext[16];
	const char *slash, *dot;
	int rc;

	for (struct sim_blob *b = s->blobs; b; b = b->next) {
		if (strlen(b->path) != n || memcmp(b->path, path, n))
			continue;
		if (b->lost)
			return Y_ENOTFOUND; /* the phone no longer has it either */
		if (b->silent)
			return Y_EAGAIN; /* the phone does not answer */
		slash = strrchr(b->path, '/');
		dot = strrchr(b->path, '.');
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - b->path) : 0, b->path);
		snprintf(ext, sizeof(ext), "%s", dot && dot > slash ? dot : "");
		rc = sim_media_put(s, b->data, b->len, dir, ext, out);
		if (!rc && b->again) /* s->blobs: the copy just kept */
			s->blobs->expired = s->blobs->again = true;
		return rc;
	}
	return Y_ENOTFOUND;
}

const char *sim_media_host_of(const struct sim *s, int kind)
{
	return kind == SIM_HOST_DEAD ? s->media_dead_host : s->media_busy_host;
}

/* The busy host: 503 to everything. */
static int busy_http(void *ud, const char *method, const char *uri, const uint8_t *body,
		     size_t len, struct ybuf *resp, const char **ctype)
{
	(void)ud, (void)method, (void)uri, (void)body, (void)len, (void)ctype;
	return json_error(resp, 503, "media host busy");
}

int sim_media_http(void *ud, const char *method, const char *uri, const uint8_t *body,
		   size_t len, struct ybuf *resp, const char **ctype)
{
	struct sim *s = ud;
	char path[256], auth[64];
	size_t n = strcspn(uri, "?");
	const char *q = uri[n] ? uri + n + 1 : "";
	int st;

	if (n >= sizeof(path))
		return json_error(resp, 404, "not found");
	memcpy(path, uri, n);
	path[n] = 0;
	if (s->media_down)
		return json_error(resp, 503, "media host down");
	if (!strcmp(method, "POST") && !strncmp(path, "/mms/", 5)) {
		struct sim_blob *b;
		char bpath[64];

		snprintf(auth, sizeof(auth), "auth=%s", s->media_auth);
		if (!query_has(q, auth))
			return json_error(resp, 401, "bad auth");
		if (!body || !len)
			return json_error(resp, 400, "empty body");
		st = sim_media_put(s, body, len, "/v/t62.7119-24", ".enc", bpath);
		if (st == Y_ETOOBIG)
			return json_error(resp, 507, "media store full");
		if (st)
			return json_error(resp, 500, "out of memory");
		b = s->blobs; /* the one just kept */
		if (s->media_tamper && s->media_tamper_n > 0) {
			if (s->media_tamper == 1)
				b->data[len / 2] ^= 0x01;
			else if (s->media_tamper >= 4 && s->media_tamper <= 7)
				b->expired = true, b->lost = s->media_tamper == 5,
				b->silent = s->media_tamper == 6, b->again = s->media_tamper == 7;
			else if (len > 5)
				b->len -= 5;
			if (--s->media_tamper_n == 0)
				s->media_tamper = 0;
			LOG_INFO("sim media upload damaged on purpose", "{s:s}", "path", b->path);
		}
		st = 200;
		ybuf_printf(resp,
			    "{\"url\":\"https://%s%s?ccb=11-4&oh=sim&oe=0\","
			    "\"direct_path\":\"%s?ccb=11-4&oh=sim&oe=0\"}",
			    s->media_url_first && s->media_nbefore
				    ? sim_media_host_of(s, s->media_before[0]) : s->media_host,
			    b->path, b->path);
		LOG_INFO("sim media upload", "{s:s, s:i}", "path", b->path, "bytes", (int)len);
		return st;
	}
	if (!strcmp(method, "GET") && s->media_unavailable_n > 0) {
		s->media_unavailable_n--;
		return json_error(resp, 503, "media host unavailable");
	}
	if (!strcmp(method, "GET")) {
		for (struct sim_blob *b = s->blobs; b; b = b->next)
			if (!strcmp(b->path, path)) {
				size_t pl = strlen(b->path);

				if (b->expired)
					return json_error(resp, 410, "media expired");

				*ctype = pl > 4 && !strcmp(b->path + pl - 4, ".jpg") ? "image/jpeg"
										 : "application/octet-stream";
				if (ybuf_append(resp, b->data, b->len))
					return json_error(resp, 500, "out of memory");
				return 200;
			}
	}
	return json_error(resp, 404, "not found");
}

/* A listener of lo serving fn through h (SIM_MEDIA_BLOB_MAX both ways);
 * its "HOST:PORT" into name (80 bytes). */
static int https_host(struct sim *s, struct wa_listener_opts *lo, struct sim_http *h,
		      sim_http_cb fn, struct wa_listener **ls, char name[80])
{
	int rc;

	h->handle = fn;
	h->ud = s;
	h->body_max = SIM_MEDIA_BLOB_MAX;
	h->resp_max = SIM_MEDIA_BLOB_MAX;
	sim_http_attach(lo, h);
	rc = wa_listener_new(s->loop, lo, NULL, s, ls);
	if (!rc)
		snprintf(name, 80, "%s:%d", s->host, wa_listener_port(*ls));
	return rc;
}

/* The dead host: a port of s->host bound but never listened on, so that
 * a connection to it is refused (and the port stays ours). */
static int dead_host(struct sim *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || inet_pton(AF_INET, s->host, &a.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &al)) {
		if (fd >= 0)
			close(fd);
		/* a host that is not IPv4: no dead host; name the port 1 */
		snprintf(s->media_dead_host, sizeof(s->media_dead_host), "%s:1", s->host);
		return Y_OK;
	}
	s->media_dead_fd = fd;
	s->media_dead_open = true;
	snprintf(s->media_dead_host, sizeof(s->media_dead_host), "%s:%d", s->host,
		 ntohs(a.sin_port));
	return Y_OK;
}

int sim_media_start(struct sim *s)
{
	struct wa_listener_opts lo;
	char cert[300], key[300];
	uint8_t r[12];
	int rc;

	rc = s->certs_dir ? certs_dir_tls(s, s->certs_dir) : temp_tls(s);
	if (rc)
		return rc;
	rc = wa_crypto_random(r, sizeof(r));
	if (rc)
		return rc;
	for (int i = 0; i < 12; i++)
		snprintf(s->media_auth + 2 * i, 3, "%02x", r[i]);
	snprintf(cert, sizeof(cert), "%s/cert.pem", s->media_dir);
	snprintf(key, sizeof(key), "%s/key.pem", s->media_dir);
	memset(&lo, 0, sizeof(lo));
	lo.host = s->host;
	lo.port = 0;
	lo.path = "/ws/none";
	lo.cert_file = cert;
	lo.key_file = key;
	rc = https_host(s, &lo, &s->media_http, sim_media_http, &s->media_ls, s->media_host);
	rc = rc ?: https_host(s, &lo, &s->media_busy_http, busy_http, &s->media_busy_ls,
			      s->media_busy_host);
	return rc ?: dead_host(s);
}

void sim_media_free(struct sim *s)
{
	char path[300];

	while (s->blobs) {
		struct sim_blob *b = s->blobs;

		s->blobs = b->next;
		free(b);
	}
	free(s->ca_pem);
	s->ca_pem = NULL;
	if (s->media_dead_open) {
		close(s->media_dead_fd);
		s->media_dead_open = false;
	}
	if (s->media_dir[0] && s->media_dir_tmp) {
		snprintf(path, sizeof(path), "%s/cert.pem", s->media_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/key.pem", s->media_dir);
		unlink(path);
		rmdir(s->media_dir);
		s->media_dir[0] = 0;
	}
}
