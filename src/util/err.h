/*
 * One error space for the whole program. 0 is success, every error is a
 * negative number from this table; y_strerror() names it. Incremental
 * parsers return Y_EAGAIN when their input runs short.
 */
#ifndef YESAPP_ERR_H
#define YESAPP_ERR_H

enum yerr {
	Y_OK = 0,
	Y_EAGAIN = -1,       /* need more input; call again with more bytes */
	Y_ENOMEM = -2,       /* allocation failed */
	Y_EINVAL = -3,       /* malformed input or bad argument */
	Y_ETOOBIG = -4,      /* input exceeds a hard limit */
	Y_ECRYPTO = -5,      /* a cryptographic check or operation failed */
	Y_EIO = -6,          /* I/O error (socket, file) */
	Y_ENOTFOUND = -7,    /* no such object */
	Y_EEXIST = -8,       /* object already exists */
	Y_ESTATE = -9,       /* call not valid in the current state */
	Y_EUNSUPPORTED = -10,/* well-formed but not supported */
	Y_ECLOSED = -11,     /* connection or object is closed */
	Y_ETIMEOUT = -12,    /* a deadline passed */
	Y_EDB = -13,         /* database error */
	Y_EBUSY = -14,       /* resource temporarily full (backpressure) */
	Y_ETRUNC = -15,      /* input ended inside a structure (complete input expected) */
	Y_EVERSION = -16,    /* incompatible version (e.g. database newer than binary) */
	Y_ERR_MIN = -17
};

/* A static, human-readable name for an error code. Never NULL. */
const char *y_strerror(int err);

/* A programmer error: print file:line and abort. Never for peer input. */
#define BUG(msg) y_bug(__FILE__, __LINE__, (msg))
void y_bug(const char *file, int line, const char *msg) __attribute__((noreturn));

#endif
