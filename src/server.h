/*
 * `yesapp serve`: opens the store (applying migrations), makes sure an API
 * key exists (apikey_bootstrap), starts the HTTP server, runs until SIGTERM
 * or SIGINT, then stops accepting, lets in-flight requests finish, closes
 * the database and returns the process exit code (0 on a clean stop).
 */
#ifndef YESAPP_SERVER_H
#define YESAPP_SERVER_H

#include "util/config.h"

int server_run(const struct config *cfg);

#endif
