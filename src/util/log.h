/*
 * JSON logs: one object per line on stdout (or the stream set with
 * ylog_set_output): {"timestamp","level","message", ...fields}.
 *
 * Fields are given as a jansson json_pack() format and its arguments, e.g.
 *   LOG_INFO("request", "{s:s, s:i}", "method", m, "status", 200);
 * or NULL for none. The macros do not evaluate their arguments when the
 * level is filtered out. Never log keys or message bodies above debug.
 * Strings that are not valid UTF-8 are logged with U+FFFD in place of each
 * invalid sequence; reals print with 15 significant digits.
 * Safe to call from several threads.
 */
#ifndef YESAPP_LOG_H
#define YESAPP_LOG_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

enum ylog_level { YLOG_DEBUG = 0, YLOG_INFO = 1, YLOG_WARN = 2, YLOG_ERROR = 3, YLOG_OFF = 4 };

/* The lowest level written. Atomic so that any thread may change it; the
 * macros read it relaxed (a level change shows up "soon", never torn). */
extern _Atomic enum ylog_level ylog_min;

/* 1 if lines of level lvl are written. */
static inline int ylog_on(enum ylog_level lvl)
{
	return lvl >= atomic_load_explicit(&ylog_min, memory_order_relaxed);
}

/* Parses "debug|info|warn|error" (also "warning", "off"). 0 or Y_EINVAL. */
int ylog_parse_level(const char *s, enum ylog_level *out);
const char *ylog_level_name(enum ylog_level lvl);
/* Borrows f; it must outlive logging. NULL restores stdout (written with
 * write(2) on file descriptor 1, not through stdio). */
void ylog_set_output(FILE *f);
void ylog_write(enum ylog_level lvl, const char *msg, const char *fields_fmt, ...);
/* The session this thread works for now, added as "session" to every line
 * it writes until changed; NULL clears. The string is borrowed: it must stay
 * valid while set. Thread-local, so the WhatsApp loop sets it on entering a
 * client's callback and log calls need not pass it. */
void ylog_set_session(const char *id);
const char *ylog_session(void);
/* As ylog_set_session, returning the session set before: a dispatch point
 * that may run inside another (a connection's callback inside a client's
 * timer, a client call inside an engine command) restores it on the way
 * out with ylog_set_session(previous), so the outer one keeps its id. */
const char *ylog_swap_session(const char *id);

/* A copy of s (caller frees) with every invalid UTF-8 sequence (a bad lead
 * byte and the continuation bytes after it) replaced by U+FFFD; NULL if out
 * of memory. */
char *ylog_utf8_repair(const char *s);

#define YLOG(lvl, msg, ...) \
	do { \
		if (ylog_on(lvl)) \
			ylog_write((lvl), (msg), __VA_ARGS__); \
	} while (0)
#define LOG_DEBUG(msg, ...) YLOG(YLOG_DEBUG, (msg), __VA_ARGS__)
#define LOG_INFO(msg, ...) YLOG(YLOG_INFO, (msg), __VA_ARGS__)
#define LOG_WARN(msg, ...) YLOG(YLOG_WARN, (msg), __VA_ARGS__)
#define LOG_ERROR(msg, ...) YLOG(YLOG_ERROR, (msg), __VA_ARGS__)

/*
 * The ring of recent lines (GET /api/v1/logs): every line written (at
 * ylog_min or above) is also copied into a fixed array of YLOG_RING_SLOTS
 * slots of YLOG_RING_LINE bytes (2 MiB, static: it never grows), the oldest
 * overwritten first. A line longer than a slot is kept shortened: its
 * timestamp, level, the start of its message, "session" and
 * "truncated":true. Each slot remembers the line's level and session (the
 * thread's ylog_set_session, else the first "sessionId" field). One mutex,
 * held only to copy a line in or out: any thread may write or read.
 */
#define YLOG_RING_SLOTS 1024
#define YLOG_RING_LINE 2048
#define YLOG_SESSION_MAX 40
struct ylog_ring_line {
	uint64_t seq;                      /* 1, 2, 3, ... in write order */
	enum ylog_level level;
	char session[YLOG_SESSION_MAX];    /* "" : none */
	char text[YLOG_RING_LINE];         /* the JSON object, no newline, NUL-terminated */
};
/* Copies into out (oldest first) the newest max lines of level min or above
 * and, when session is not NULL, of that session; returns how many. */
size_t ylog_ring_read(enum ylog_level min, const char *session, struct ylog_ring_line *out,
		      size_t max);
/* Empties the ring (tests). */
void ylog_ring_clear(void);

/* Writes an ISO-8601 UTC timestamp with milliseconds ("2026-01-02T03:04:05.678Z")
 * into out (at least 25 bytes). */
void ylog_timestamp(char out[32]);
/* The same for ms since the epoch (years 1970..9999; outside that, the
 * epoch), without libc's time-zone lock. */
void ylog_format_ms(int64_t ms, char out[32]);

#endif
