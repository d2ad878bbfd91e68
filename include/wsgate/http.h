/* http.h: the plain HTTP endpoints: dashboard assets, /healthz, /readyz, /metrics, /api. */
#ifndef WSGATE_HTTP_H
#define WSGATE_HTTP_H

#include "wsgate/sbuf.h"

#include <stdbool.h>
#include <stddef.h>

struct hub;

/* One embedded file of web/ (generated at build time by cmake/embed.cmake). */
struct http_asset {
    const char *path; /* "/index.html" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted */
};
extern const struct http_asset http_assets[]; /* ends with a NULL path */

#define HTTP_HEADERS_MAX 4

/* One GET (or HEAD) request, as server.c read it. */
typedef struct http_request {
    const char *path;          /* no query string */
    const char *query;         /* percent-decoded arguments "a=1&b=2", or NULL */
    const char *if_none_match; /* NULL when absent */
    const char *token;         /* bearer token (Authorization or ?token=); NULL when absent */
    bool token_too_long;       /* an Authorization header too long to read */
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
    sbuf body;                    /* the body, unless `data` is set */
    const unsigned char *data;    /* a static body (embedded asset) */
    size_t len;
} http_response;

/* Answer a GET. Fills resp, which the caller frees with http_response_free.
 * With auth on, /api/ (and /metrics with --metrics-auth) need a valid token
 * (401 otherwise), and /api/ shows only what the token's `subs` allow. */
void http_handle(struct hub *h, const http_request *req, http_response *resp);
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
