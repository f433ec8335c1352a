/*
 * Fuzz target for the simulator's state file loader (sim_state_load):
 * arbitrary bytes as the file's text. Checks: no crash, over-read or leak
 * (ASan); anything not loaded is refused with Y_EINVAL/Y_ETOOBIG/Y_ENOMEM
 * and what was loaded before the fault is freed by sim_free.
 */
#include <stdint.h>
#include <stdlib.h>

#include "sim/sim_int.h"
#include "util/err.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim *s = calloc(1, sizeof(*s));
	int rc;

	ylog_min = YLOG_OFF;
	if (!s)
		return 0;
	rc = sim_state_load(s, (const char *)data, size);
	if (rc != Y_OK && rc != Y_EINVAL && rc != Y_ETOOBIG && rc != Y_ENOMEM && rc != Y_ETRUNC)
		abort();
	sim_free(s);
	return 0;
}
