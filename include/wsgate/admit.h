/* admit.h: who may upgrade to a WebSocket: path, Origin policy, JWT, connection limits. */
#ifndef WSGATE_ADMIT_H
#define WSGATE_ADMIT_H

#include "wsgate/auth.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wsg_config;
typedef struct admit admit;

/* One upgrade request, as server.c read it (like http_request). */
typedef struct admit_request {
    const char *path;       /* the request path ("/ws"), NULL when absent */
    const char *origin;     /* the Origin header, NULL when absent */
    bool origin_unreadable; /* an Origin too long to read: refused */
    const char *token;      /* bearer token (Authorization or ?token=), NULL when absent */
    bool token_too_long;    /* an Authorization header too long to read */
    const char *ip;         /* the peer's address */
    const char *local;      /* the address it connected to, as an Origin spells a host
                               ("10.0.0.5", "[2001:db8::1]"); "" when unknown */
} admit_request;

/* The gateway's side of the decision, at the moment of the request. */
typedef struct admit_gate {
    bool started, draining; /* clients are welcome once started, until draining */
    int64_t connections;    /* open WebSocket connections ... */
    int64_t max_conns;      /* ... and the limit (--max-conns, or the open-file limit) */
    struct auth *auth;      /* the JWT keys; NULL when authentication is off */
    int64_t now_s;          /* the time tokens are checked against */
} admit_gate;

/* Admission with the settings of cfg (kept: it must outlive the admit). */
admit *admit_create(const struct wsg_config *cfg);
void admit_destroy(admit *a);

/* Decide on an upgrade request. Returns 0 to accept, or the HTTP status to
 * refuse with (401, 403, 404, 503; a status for server_refuse, not an errno)
 * and a short reason in *why. With claims NULL it only checks (at
 * HTTP_CONFIRM_UPGRADE, before lws has per-session memory); with claims
 * non-NULL (at ESTABLISHED) an accepted peer also gets *claims (NULL when
 * auth is off; the caller owns them) and is counted against the per-address
 * limit until admit_release. */
int admit_check(admit *a, const admit_request *req, const admit_gate *gate, auth_claims **claims,
                const char **why);

/* May a page from `origin` (an Origin header's value) open a WebSocket here,
 * or read the gateway's CORS resources (http.c)? admit_origin_allowed with
 * --allowed-origins, or by default with the gateway's own hosts:
 * --public-host, the --listen host and `local`, the address the request came
 * in on (spelled as in admit_request). */
bool admit_origin_ok(const admit *a, const char *origin, const char *local);

/* A connection accepted by admit_check has closed. */
void admit_release(admit *a, const char *ip);

/* The Origin policy alone (exposed for unit tests). With an allow-list
 * (count > 0): exactly one of `allowed` (or "*"). Otherwise the default: the
 * Origin's host is loopback (localhost, 127.x.y.z, [::1]) or one of `hosts`,
 * the gateway's own names and addresses (spelled as in a URL: "[::1]"); the
 * request's Host header plays no part (DNS rebinding). */
bool admit_origin_allowed(const char *origin, char *const *hosts, size_t nhosts,
                          char *const *allowed, size_t count);

#endif
