/* Online backups and restores: see backup.h. */
#include "service/backup.h"

#include "store/store.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "version.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST "yesapp-backup.json"
#define DB_NAME "db.sqlite"
#define MAX_DEPTH 8

/* ---- writing ---- */

struct writer {
	struct archive *a;
	const char *skip[6];   /* top-level names never archived (the live database files) */
	char out_abs[PATH_MAX];/* the backup being written and its temporaries */
	struct backup_stats *stats;
};

static int add_file(struct writer *w, const char *path, const char *name, const struct stat *sb)
{
	struct archive_entry *e = archive_entry_new();
	char buf[64 * 1024];
	ssize_t n;
	int fd, rc = Y_OK;

	if (!e)
		return Y_ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		archive_entry_free(e);
		if (errno == ENOENT)
			return Y_OK; /* went away while we walked: not ours to keep */
		LOG_ERROR("backup: cannot read a file", "{s:s, s:s}", "path", path, "error",
			  strerror(errno));
		return Y_EIO;
	}
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, sb->st_size);
	archive_entry_set_mtime(e, sb->st_mtime, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		rc = Y_EIO;
	/* a file that grows while we copy is cut at the size in the header */
	for (off_t left = sb->st_size; rc == Y_OK && left > 0; left -= n) {
		n = read(fd, buf, (size_t)(left < (off_t)sizeof(buf) ? left : (off_t)sizeof(buf)));
		if (n <= 0) {
			memset(buf, 0, sizeof(buf)); /* it shrank: pad to the announced size */
			n = left < (off_t)sizeof(buf) ? (ssize_t)left : (ssize_t)sizeof(buf);
		}
		if (archive_write_data(w->a, buf, (size_t)n) != n)
			rc = Y_EIO;
	}
	close(fd);
	archive_entry_free(e);
	if (rc == Y_OK) {
		w->stats->files++;
		w->stats->bytes += (unsigned long long)sb->st_size;
	} else {
		LOG_ERROR("backup: cannot write to the archive", "{s:s, s:s}", "entry", name, "error",
			  archive_error_string(w->a) ? archive_error_string(w->a) : "?");
	}
	return rc;
}

static int skipped(const struct writer *w, const char *path, const char *name, int top)
{
	char abs[PATH_MAX];

	if (top) {
		for (int i = 0; w->skip[i]; i++)
			if (!strcmp(name, w->skip[i]))
				return 1;
		if (!strncmp(name, ".ready-", 7) || !strncmp(name, ".restore-", 9))
			return 1;
	}
	return realpath(path, abs) && !strncmp(abs, w->out_abs, strlen(w->out_abs));
}

/* Archives dir (its path `path`, its name in the archive `prefix`). */
static int add_dir(struct writer *w, const char *path, const char *prefix, int depth)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int rc = Y_OK;

	if (!d) {
		LOG_ERROR("backup: cannot list a directory", "{s:s, s:s}", "path", path, "error",
			  strerror(errno));
		return Y_EIO;
	}
	while (rc == Y_OK && (de = readdir(d))) {
		char p[PATH_MAX], name[PATH_MAX];
		struct stat sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", path, de->d_name) >= (int)sizeof(p) ||
		    snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) >=
			    (int)sizeof(name))
			continue;
		if (lstat(p, &sb) || skipped(w, p, de->d_name, depth == 0))
			continue;
		if (S_ISREG(sb.st_mode))
			rc = add_file(w, p, name, &sb);
		else if (S_ISDIR(sb.st_mode) && depth < MAX_DEPTH)
			rc = add_dir(w, p, name, depth + 1);
		/* links, sockets, fifos: not data of ours */
	}
	closedir(d);
	return rc;
}

static int add_manifest(struct writer *w, const char *db_url)
{
	struct archive_entry *e = archive_entry_new();
	json_t *m = json_pack("{s:s, s:s, s:I, s:s}", "format", "yesapp-backup-1", "version",
			      YESAPP_VERSION, "createdAt", (json_int_t)clock_now_ms(), "database",
			      DB_NAME);
	char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	int rc = Y_OK;

	(void)db_url;
	json_decref(m);
	if (!e || !text) {
		archive_entry_free(e);
		free(text);
		return Y_ENOMEM;
	}
	archive_entry_set_pathname(e, MANIFEST);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, (la_int64_t)strlen(text));
	archive_entry_set_mtime(e, (time_t)(clock_now_ms() / 1000), 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK ||
	    archive_write_data(w->a, text, strlen(text)) != (la_ssize_t)strlen(text))
		rc = Y_EIO;
	archive_entry_free(e);
	free(text);
	return rc;
}

/* The absolute form of a path that may not exist yet (its directory must). */
static int abs_path(const char *path, char out[PATH_MAX])
{
	char a[PATH_MAX], b[PATH_MAX], dir[PATH_MAX];

	snprintf(a, sizeof(a), "%s", path);
	snprintf(b, sizeof(b), "%s", path);
	if (!realpath(dirname(a), dir))
		return Y_EINVAL;
	return snprintf(out, PATH_MAX, "%s/%s", dir, basename(b)) < PATH_MAX ? Y_OK : Y_EINVAL;
}

int backup_create(const char *data_dir, const char *db_url, const char *out,
		  struct backup_stats *stats)
{
	struct backup_stats dummy;
	struct writer w;
	const char *db = store_url_path(db_url);
	char tmp[PATH_MAX], snap[PATH_MAX], dbbase[PATH_MAX], names[4][PATH_MAX + 16];
	struct stat sb;
	int rc;

	memset(&w, 0, sizeof(w));
	w.stats = stats ? stats : &dummy;
	memset(w.stats, 0, sizeof(*w.stats));
	if (!db || !out || !*out || abs_path(out, w.out_abs))
		return Y_EINVAL;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= (int)sizeof(tmp) ||
	    snprintf(snap, sizeof(snap), "%s.db.tmp", out) >= (int)sizeof(snap))
		return Y_EINVAL;
	/* the live database files are replaced by the snapshot */
	snprintf(dbbase, sizeof(dbbase), "%s", db);
	const char *base = basename(dbbase);
	snprintf(names[0], sizeof(names[0]), "%s", base);
	snprintf(names[1], sizeof(names[1]), "%s-wal", base);
	snprintf(names[2], sizeof(names[2]), "%s-shm", base);
	snprintf(names[3], sizeof(names[3]), "%s-journal", base);
	for (int i = 0; i < 4; i++)
		w.skip[i] = names[i];
	w.skip[4] = MANIFEST;

	unlink(snap);
	rc = store_snapshot(db_url, snap);
	if (rc)
		goto out;
	w.a = archive_write_new();
	if (!w.a) {
		rc = Y_ENOMEM;
		goto out;
	}
	if (archive_write_add_filter_gzip(w.a) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    archive_write_open_filename(w.a, tmp) != ARCHIVE_OK) {
		LOG_ERROR("backup: cannot create the archive", "{s:s, s:s}", "path", tmp, "error",
			  archive_error_string(w.a) ? archive_error_string(w.a) : "?");
		rc = Y_EIO;
		goto out;
	}
	rc = add_manifest(&w, db_url);
	if (rc == Y_OK && stat(snap, &sb) == 0)
		rc = add_file(&w, snap, DB_NAME, &sb);
	else if (rc == Y_OK)
		rc = Y_EIO;
	if (rc == Y_OK)
		rc = add_dir(&w, data_dir, "", 0);
	if (archive_write_close(w.a) != ARCHIVE_OK && rc == Y_OK)
		rc = Y_EIO;
	if (rc == Y_OK && rename(tmp, out)) {
		LOG_ERROR("backup: cannot rename", "{s:s, s:s}", "path", out, "error", strerror(errno));
		rc = Y_EIO;
	}
out:
	if (w.a)
		archive_write_free(w.a);
	unlink(snap);
	if (rc)
		unlink(tmp);
	return rc;
}

/* ---- restoring ---- */

/* A relative path of plain components: no "", ".", ".." and no leading '/'. */
static int safe_name(const char *name)
{
	const char *p = name;

	if (!name || !*name || *name == '/' || strlen(name) >= PATH_MAX - 64)
		return 0;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/' && !*++p)
			return 1; /* a trailing slash (directories) */
	}
	return 1;
}

/* mkdir -p of name's directories under root. */
static int make_parents(const char *root, const char *name)
{
	char p[PATH_MAX];
	size_t rl = strlen(root);

	if (snprintf(p, sizeof(p), "%s/%s", root, name) >= (int)sizeof(p))
		return Y_EINVAL;
	for (char *s = p + rl + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST)
			return Y_EIO;
		*s = '/';
	}
	return Y_OK;
}

static int extract_one(struct archive *a, struct archive_entry *e, const char *root,
		       struct backup_stats *st, int *saw_db, int *saw_manifest)
{
	const char *name = archive_entry_pathname(e);
	char p[PATH_MAX];
	const void *blk;
	size_t len;
	la_int64_t off;
	int fd, r, rc = Y_OK;

	if (!safe_name(name)) {
		LOG_ERROR("restore: an unsafe entry", "{s:s}", "entry", name ? name : "(none)");
		return Y_EINVAL;
	}
	if (make_parents(root, name) || snprintf(p, sizeof(p), "%s/%s", root, name) >= (int)sizeof(p))
		return Y_EIO;
	if (archive_entry_filetype(e) == AE_IFDIR)
		return mkdir(p, 0700) && errno != EEXIST ? Y_EIO : Y_OK;
	if (archive_entry_filetype(e) != AE_IFREG) {
		LOG_ERROR("restore: not a regular file or directory", "{s:s}", "entry", name);
		return Y_EINVAL;
	}
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		LOG_ERROR("restore: cannot create", "{s:s, s:s}", "entry", name, "error",
			  strerror(errno));
		return errno == EEXIST ? Y_EINVAL : Y_EIO; /* the same name twice */
	}
	while (rc == Y_OK && (r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK) {
		if (pwrite(fd, blk, len, (off_t)off) != (ssize_t)len)
			rc = Y_EIO;
		st->bytes += len;
	}
	if (rc == Y_OK && r != ARCHIVE_EOF)
		rc = Y_EINVAL; /* a damaged archive */
	if (fsync(fd) && rc == Y_OK)
		rc = Y_EIO;
	close(fd);
	st->files++;
	if (!strcmp(name, DB_NAME))
		*saw_db = 1;
	if (!strcmp(name, MANIFEST))
		*saw_manifest = 1;
	return rc;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(p) : unlink(p)) ? -1 : 0;
}

static void rm_rf(const char *p)
{
	nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* 1 if dir has entries, 0 if empty or missing, -1 if unreadable. */
static int dir_has_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int any = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while (!any && (de = readdir(d)))
		any = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return any;
}

int backup_restore(const char *file, const char *data_dir, int force, struct backup_stats *stats)
{
	struct backup_stats dummy;
	struct backup_stats *st = stats ? stats : &dummy;
	struct archive *a = NULL;
	struct archive_entry *e;
	char stage[PATH_MAX], parent[PATH_MAX], p[PATH_MAX];
	int rc = Y_OK, r, saw_db = 0, saw_manifest = 0, has;
	DIR *d;
	struct dirent *de;

	memset(st, 0, sizeof(*st));
	has = dir_has_entries(data_dir);
	if (has < 0)
		return Y_EIO;
	if (has && !force)
		return Y_EEXIST;
	/* stage beside data_dir, so the final renames stay on one file system */
	snprintf(p, sizeof(p), "%s", data_dir);
	snprintf(parent, sizeof(parent), "%s", dirname(p));
	if (snprintf(stage, sizeof(stage), "%s/.restore-XXXXXX", parent) >= (int)sizeof(stage) ||
	    !mkdtemp(stage))
		return Y_EIO;

	a = archive_read_new();
	if (!a) {
		rc = Y_ENOMEM;
		goto out;
	}
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, file, 64 * 1024) != ARCHIVE_OK) {
		LOG_ERROR("restore: cannot open the backup", "{s:s, s:s}", "path", file, "error",
			  archive_error_string(a) ? archive_error_string(a) : "?");
		rc = Y_EINVAL;
		goto out;
	}
	while (rc == Y_OK && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		rc = extract_one(a, e, stage, st, &saw_db, &saw_manifest);
	if (rc == Y_OK && r != ARCHIVE_EOF) {
		LOG_ERROR("restore: a damaged backup", "{s:s}", "error",
			  archive_error_string(a) ? archive_error_string(a) : "?");
		rc = Y_EINVAL;
	}
	if (rc == Y_OK && (!saw_db || !saw_manifest)) {
		LOG_ERROR("restore: not a YesApp backup (no database or manifest)", NULL);
		rc = Y_EINVAL;
	}
	if (rc == Y_OK)
		rc = snprintf(p, sizeof(p), "%s/%s", stage, DB_NAME) < (int)sizeof(p) ?
			     store_check_file(p) :
			     Y_EINVAL;
	if (rc)
		goto out;

	if (mkdir(data_dir, 0700) && errno != EEXIST) {
		rc = Y_EIO;
		goto out;
	}
	if (force) { /* a stale WAL beside the restored database would corrupt it */
		static const char *const stale[] = { "-wal", "-shm", "-journal" };

		for (size_t i = 0; i < 3; i++)
			if (snprintf(p, sizeof(p), "%s/%s%s", data_dir, DB_NAME, stale[i]) <
			    (int)sizeof(p))
				unlink(p);
	}
	d = opendir(stage);
	if (!d) {
		rc = Y_EIO;
		goto out;
	}
	while (rc == Y_OK && (de = readdir(d))) {
		char from[PATH_MAX], to[PATH_MAX];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, MANIFEST) || !strcmp(de->d_name, DB_NAME "-wal") ||
		    !strcmp(de->d_name, DB_NAME "-shm"))
			continue; /* the last two: left by the check of an old WAL-mode copy */
		if (snprintf(from, sizeof(from), "%s/%s", stage, de->d_name) >= (int)sizeof(from) ||
		    snprintf(to, sizeof(to), "%s/%s", data_dir, de->d_name) >= (int)sizeof(to)) {
			rc = Y_EINVAL;
			break;
		}
		if (force)
			rm_rf(to);
		if (rename(from, to)) {
			LOG_ERROR("restore: cannot move into DATA_DIR", "{s:s, s:s}", "path", to,
				  "error", strerror(errno));
			rc = Y_EIO;
		}
	}
	closedir(d);
out:
	if (a)
		archive_read_free(a);
	rm_rf(stage);
	return rc;
}
