/*
 * Temporary directories for unit tests: tmpdir_make() creates a fresh
 * directory under $TMPDIR (or /tmp) with mkdtemp; tmpdir_remove() deletes it
 * and everything inside. Test-only helper.
 */
#ifndef YESAPP_TEST_TMPDIR_H
#define YESAPP_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int tmpdir_rm_entry(const char *path, const struct stat *sb, int flag,
				  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Fills dir (at least 256 bytes) with a new empty directory's path; 0 or -1. */
static inline int tmpdir_make(char *dir, size_t len)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, len, "%s/yesapp-test-XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static inline void tmpdir_remove(const char *dir)
{
	nftw(dir, tmpdir_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
