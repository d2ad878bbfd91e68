/* http.h: the plain HTTP endpoints: dashboard assets, /healthz, /readyz, /metrics, /api. */
#ifndef WSGATE_HTTP_H
#define WSGATE_HTTP_H

#include "wsgate/httpz.h"
#include "wsgate/sbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hub;

/* One embedded file of web/ (generated at build time by cmake/embed.cmake). */
struct http_asset {
    const char *path; /* "/index.html" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted */
};
extern const struct http_asset http_assets[]; /* ends with a NULL path */

#define HTTP_HEADERS_MAX  8
#define HTTP_COMPRESS_MIN 1024  /* smaller /api/ and /metrics bodies stay identity */
#define HTTP_CORS_MAX_AGE "600" /* seconds a browser may keep a preflight's answer */

struct http_files; /* --web-root files in their codings, by path (http.c) */

/* One GET, HEAD or OPTIONS request, as server.c read it. */
typedef struct http_request {
    const char *path;            /* no query string */
    bool options;                /* an OPTIONS request (a CORS preflight when it has an Origin) */
    const char *origin;          /* the Origin header; NULL when absent (or too long to read) */
    bool origin_allowed;         /* origin passes the WebSocket's policy (admit_origin_ok) */
    const char *query;           /* percent-decoded arguments "a=1&b=2", or NULL */
    const char *if_none_match;   /* NULL when absent */
    const char *accept_encoding; /* NULL when absent (or too long to read) */
    const char *token;           /* bearer token (Authorization or ?token=); NULL when absent */
    bool token_too_long;         /* an Authorization header too long to read */
    void *sock;                  /* the socket (an lws wsi) for an answer given later, or NULL */
} http_request;

typedef struct http_response {
    int status;
    struct {
        const char *name;        /* "link:" */
        char *value;             /* owned */
    } headers[HTTP_HEADERS_MAX]; /* extra headers */
    size_t nheaders;
    const char *content_type;
    const char *cache_control;
    const char *etag;             /* NULL: no ETag header */
    const char *www_authenticate; /* NULL: no WWW-Authenticate header (401) */
    const char *content_encoding; /* "gzip", "br"; NULL: identity (and on a 304) */
    const char *vary; /* "Accept-Encoding" where a body may be compressed, with ", Origin" on
                         the CORS resources (http_handle); or NULL */
    sbuf body;        /* the body, unless `data` is set */
    const unsigned char *data; /* a static body (embedded asset) */
    size_t len;
    char etag_buf[HTTPZ_ETAG_MAX]; /* where `etag` points when it is not static */
    uint64_t pending; /* not 0: not answered yet; failures_take(pending) completes it */
} http_response;

/* Answer a GET, HEAD or OPTIONS. Fills resp, which the caller frees with
 * http_response_free.
 * With auth on, /api/ (and /metrics with --metrics-auth) need a valid token
 * (401 otherwise), and /api/ shows only what the token's `subs` allow.
 * Content coding: a dashboard file of a text type is served in the coding
 * httpz_choose picks from its variants (made once: http_prepare), with that
 * coding's ETag; a 200 of /api/ or /metrics over HTTP_COMPRESS_MIN bytes is
 * compressed for the response (HTTPZ_DYNAMIC); all of these say Vary. A 304
 * (If-None-Match, weak comparison, lists and `*`) carries the body of the
 * 200 it stands for: its length is announced, it is not sent.
 * CORS (docs/operations.md "Cross-origin pages"): the CORS resources are
 * /api/..., /wsgate.js and /metrics. Their responses say Vary: Origin; to a
 * request whose Origin is allowed (req->origin_allowed) they add
 * Access-Control-Allow-Origin: <that origin> (and, on /api/,
 * Access-Control-Expose-Headers for the paging headers), whatever the
 * status (a 401 is then readable). OPTIONS: 404 for a path that does not
 * exist; on a CORS resource with an allowed Origin, a preflight answer (204
 * with Access-Control-Allow-Origin, -Methods, -Headers: Authorization and
 * -Max-Age); with an Origin not allowed, 403 without CORS headers; without
 * an Origin or elsewhere, 204 with Allow only. */
void http_handle(struct hub *h, const http_request *req, http_response *resp);
/* A 200 of /api/ or /metrics: say Vary: Accept-Encoding (keeping Origin),
 * and compress the body for this response in the coding accept_encoding
 * (NULL: identity) prefers, when over HTTP_COMPRESS_MIN bytes and smaller so. */
void http_compress(const char *accept_encoding, http_response *resp);
/* Compress the embedded dashboard files (at start: about 0.15 s; http_handle
 * does it on first use otherwise). Idempotent and thread-safe. */
void http_prepare(void);
/* Free the --web-root variant cache a hub's http_handle built (NULL: none). */
void http_files_destroy(struct http_files *files);
/* A response with a small JSON error body, e.g. for 405. */
void http_error(http_response *resp, int status, const char *message);
void http_response_free(http_response *resp);
/* Add a header to send with resp (name with its colon: "link:"); value is copied. */
void http_add_header(http_response *resp, const char *name, const char *value);
/* Body pointer and length, whichever kind it is. */
const unsigned char *http_body(const http_response *resp, size_t *len);
/* Content type from a file name's extension. */
const char *http_content_type(const char *path);

#endif
