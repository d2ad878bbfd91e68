/* http.h: the plain HTTP endpoints: dashboard assets, /healthz, /readyz, /metrics, /api. */
#ifndef WSGATE_HTTP_H
#define WSGATE_HTTP_H

#include "wsgate/sbuf.h"

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

typedef struct http_response {
    int status;
    struct {
        const char *name;        /* "link:" */
        char *value;             /* owned */
    } headers[HTTP_HEADERS_MAX]; /* extra headers */
    size_t nheaders;
    const char *content_type;
    const char *cache_control;
    const char *etag;          /* NULL: no ETag header */
    sbuf body;                 /* the body, unless `data` is set */
    const unsigned char *data; /* a static body (embedded asset) */
    size_t len;
} http_response;

/* Answer GET `path`, which may end with a query string whose arguments are
 * already percent-decoded ("/api/batches?state=running&limit=10").
 * `if_none_match` may be NULL. Fills resp, which the caller frees with
 * http_response_free. */
void http_handle(struct hub *h, const char *path, const char *if_none_match, http_response *resp);
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
