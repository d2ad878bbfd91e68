/* admit.h: who may upgrade to a WebSocket: path, Origin policy, JWT, connection limits. */
#ifndef WSGATE_ADMIT_H
#define WSGATE_ADMIT_H

#include "wsgate/auth.h"

#include <stddef.h>

struct hub;
struct lws;
typedef struct admit admit;

admit *admit_create(void);
void admit_destroy(admit *a);

/* Decide on an upgrade request. Returns 0 to accept, or the HTTP status to
 * refuse with (401, 403, 404, 503) and a short reason in *why. With claims
 * NULL it only checks (at HTTP_CONFIRM_UPGRADE, before lws has per-session
 * memory); with claims non-NULL (at ESTABLISHED) an accepted peer also gets
 * *claims (NULL when auth is off; the caller owns them) and ip, and is
 * counted against the per-IP limit until admit_release. */
int admit_check(struct hub *h, struct lws *wsi, auth_claims **claims, char *ip, size_t iplen,
                const char **why);
/* A connection accepted by admit_check has closed. */
void admit_release(struct hub *h, const char *ip);

/* The Origin policy alone (exposed for unit tests): allowed origins list, or
 * when count == 0 the default: same host as `host`, or any loopback origin. */
int admit_origin_allowed(const char *origin, const char *host, char *const *allowed, size_t count);

#endif
