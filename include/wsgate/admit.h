/* admit.h: who may upgrade to a WebSocket: path, Origin policy, JWT, connection limits. */
#ifndef WSGATE_ADMIT_H
#define WSGATE_ADMIT_H

#include "wsgate/auth.h"

#include <stdbool.h>
#include <stddef.h>

struct hub;
struct lws;
typedef struct admit admit;

admit *admit_create(void);
void admit_destroy(admit *a);

/* Decide on an upgrade request. Returns 0 to accept, or the HTTP status to
 * refuse with (401, 403, 404, 503; a status for server_refuse, not an errno)
 * and a short reason in *why. With claims
 * NULL it only checks (at HTTP_CONFIRM_UPGRADE, before lws has per-session
 * memory); with claims non-NULL (at ESTABLISHED) an accepted peer also gets
 * *claims (NULL when auth is off; the caller owns them) and ip, and is
 * counted against the per-IP limit until admit_release. */
int admit_check(struct hub *h, struct lws *wsi, auth_claims **claims, char *ip, size_t iplen,
                const char **why);
/* The bearer token of a request into buf: the Authorization header first,
 * then ?token=. Returns its length, 0 when there is none, or -E2BIG when the
 * Authorization header is too long to read (buf is then ""). */
int admit_token(struct lws *wsi, char *buf, int len);

/* May a page from `origin` (an Origin header's value) open a WebSocket here,
 * or read the gateway's CORS resources (http.c)? admit_origin_allowed with
 * --allowed-origins, or by default with the gateway's own hosts:
 * --public-host, the --listen host and the address wsi came in on. */
bool admit_origin_ok(struct hub *h, struct lws *wsi, const char *origin);

/* A connection accepted by admit_check has closed. */
void admit_release(struct hub *h, const char *ip);

/* The Origin policy alone (exposed for unit tests). With an allow-list
 * (count > 0): exactly one of `allowed` (or "*"). Otherwise the default: the
 * Origin's host is loopback (localhost, 127.x.y.z, [::1]) or one of `hosts`,
 * the gateway's own names and addresses (spelled as in a URL: "[::1]"); the
 * request's Host header plays no part (DNS rebinding). */
bool admit_origin_allowed(const char *origin, char *const *hosts, size_t nhosts,
                          char *const *allowed, size_t count);

#endif
