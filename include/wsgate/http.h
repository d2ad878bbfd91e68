/* http.h: the plain HTTP endpoints: dashboard assets, /healthz, /readyz, /metrics, /api. */
#ifndef WSGATE_HTTP_H
#define WSGATE_HTTP_H

#include "wsgate/httpz.h"
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

#define HTTP_HEADERS_MAX  4
#define HTTP_COMPRESS_MIN 1024 /* smaller /api/ and /metrics bodies stay identity */

struct http_files; /* --web-root files in their codings, by path (http.c) */

/* One GET (or HEAD) request, as server.c read it. */
typedef struct http_request {
    const char *path;            /* no query string */
    const char *query;           /* percent-decoded arguments "a=1&b=2", or NULL */
    const char *if_none_match;   /* NULL when absent */
    const char *accept_encoding; /* NULL when absent (or too long to read) */
    const char *token;           /* bearer token (Authorization or ?token=); NULL when absent */
    bool token_too_long;         /* an Authorization header too long to read */
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
    const char *vary;             /* "Accept-Encoding" where a body may be compressed; or NULL */
    sbuf body;                    /* the body, unless `data` is set */
    const unsigned char *data;    /* a static body (embedded asset) */
    size_t len;
    char etag_buf[HTTPZ_ETAG_MAX]; /* where `etag` points when it is not static */
} http_response;

/* Answer a GET. Fills resp, which the caller frees with http_response_free.
 * With auth on, /api/ (and /metrics with --metrics-auth) need a valid token
 * (401 otherwise), and /api/ shows only what the token's `subs` allow.
 * Content coding: a dashboard file of a text type is served in the coding
 * httpz_choose picks from its variants (made once: http_prepare), with that
 * coding's ETag; a 200 of /api/ or /metrics over HTTP_COMPRESS_MIN bytes is
 * compressed for the response (HTTPZ_DYNAMIC); all of these say Vary. A 304
 * (If-None-Match, weak comparison, lists and `*`) carries the body of the
 * 200 it stands for: its length is announced, it is not sent. */
void http_handle(struct hub *h, const http_request *req, http_response *resp);
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
