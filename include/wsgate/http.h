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

typedef struct http_response {
    int status;
    const char *content_type;
    const char *cache_control;
    const char *etag;          /* NULL: no ETag header */
    sbuf body;                 /* the body, unless `data` is set */
    const unsigned char *data; /* a static body (embedded asset) */
    size_t len;
} http_response;

/* Answer GET `path` (no query string). `if_none_match` may be NULL. Fills
 * resp, which the caller frees with http_response_free. */
void http_handle(struct hub *h, const char *path, const char *if_none_match, http_response *resp);
/* A response with a small JSON error body, e.g. for 405. */
void http_error(http_response *resp, int status, const char *message);
void http_response_free(http_response *resp);
/* Body pointer and length, whichever kind it is. */
const unsigned char *http_body(const http_response *resp, size_t *len);
/* Content type from a file name's extension. */
const char *http_content_type(const char *path);

#endif
