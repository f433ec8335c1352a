/*
 * Fuzzes the configuration parser with arbitrary argument vectors: the
 * input is split at NUL bytes into up to 32 arguments. Any outcome is fine
 * except a crash, a leak, or an error without a message.
 */
#include "util/config.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *args[32], err[256];
	struct config cfg;
	int argc = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (size_t i = 0; i <= size && argc < 32;) {
		args[argc++] = copy + i;
		i += strlen(copy + i) + 1;
	}
	if (config_load(&cfg, argc, args, err, sizeof(err)) == Y_OK) {
		if (!cfg.database_url || !cfg.host || cfg.port < 0 || cfg.port > 65535)
			abort();
		config_release(&cfg);
	} else if (!err[0]) {
		abort();
	}
	free(copy);
	return 0;
}
