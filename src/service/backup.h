/*
 * Online backups: `yesapp backup FILE` and `yesapp restore FILE`.
 *
 * A backup is one tar.gz (libarchive): db.sqlite, a consistent snapshot of
 * the database taken with SQLite's online backup while the server keeps
 * running and writing (store_snapshot); every other regular file of DATA_DIR
 * (the cursor key, the sandbox state, ...) and every regular file under its
 * subdirectories (media/), copied after the snapshot; and yesapp-backup.json
 * (version, time, schema). The database's -wal/-shm files are never
 * archived: the snapshot already holds what they had.
 *
 * Restoring extracts into a fresh directory beside DATA_DIR (only regular
 * files and directories, no absolute paths, no "..", no links), checks the
 * database with PRAGMA integrity_check, and only then moves the entries into
 * DATA_DIR, which must be empty unless `force` (then a stale -wal/-shm is
 * removed first). The server must not be running on DATA_DIR while restoring.
 *
 * Both run in the calling thread (the CLI), open no store of their own and
 * print nothing: errors go to the log and come back as Y_* codes.
 */
#ifndef YESAPP_SERVICE_BACKUP_H
#define YESAPP_SERVICE_BACKUP_H

#include <stddef.h>

struct backup_stats {
	size_t files;        /* entries archived or restored, the database included */
	unsigned long long bytes; /* their uncompressed size */
};

/* Writes the backup to out (atomically: a temporary file renamed at the
 * end). Y_EINVAL (bad url or out inside a directory we archive), Y_EIO,
 * Y_EDB, Y_ENOMEM. */
int backup_create(const char *data_dir, const char *db_url, const char *out,
		  struct backup_stats *stats);
/* Restores file into data_dir (created if missing). Y_EEXIST: data_dir is
 * not empty and !force; Y_EINVAL: not a backup of ours, or an unsafe entry;
 * Y_EDB: the database fails its check; Y_EIO. */
int backup_restore(const char *file, const char *data_dir, int force, struct backup_stats *stats);

#endif
