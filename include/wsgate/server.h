/* server.h: the libwebsockets context, its callbacks, the service loop and signals. */
#ifndef WSGATE_SERVER_H
#define WSGATE_SERVER_H

#include "wsgate/config.h"

/* Serve until SIGTERM/SIGINT, then shut down gracefully. Returns the process
 * exit code, not an errno: 0 after a clean shutdown, 2 when it cannot start. */
int server_run(const wsg_config *cfg);

#endif
