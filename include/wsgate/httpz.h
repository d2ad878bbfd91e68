/* httpz.h: HTTP content codings (RFC 9110 §8.4, §12.5.3): gzip and br from Accept-Encoding,
 * compressed bodies. */
#ifndef WSGATE_HTTPZ_H
#define WSGATE_HTTPZ_H

#include "wsgate/sbuf.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum httpz_coding { HTTPZ_IDENTITY = 0, HTTPZ_GZIP, HTTPZ_BR } httpz_coding;
#define HTTPZ_CODINGS  3
#define HTTPZ_BIT(c)   (1u << (c))
#define HTTPZ_ETAG_MAX 64 /* a quoted ETag with its coding suffix, and the NUL */

/* How hard to compress. STATIC: once, served many times (gzip 9, br 11).
 * DYNAMIC: once per response, on the service thread (gzip 3, br 4: about
 * 300 MB/s on /api JSON, 0.1 ms for a 30 KB page). */
typedef enum httpz_effort { HTTPZ_STATIC, HTTPZ_DYNAMIC } httpz_effort;

/* httpz_set_init compresses a file this big or smaller at HTTPZ_STATIC,
 * a bigger one (--web-root only) at HTTPZ_DYNAMIC. */
#define HTTPZ_STATIC_MAX (1024 * 1024)

/* The coding to answer with, given Accept-Encoding (NULL: the header is
 * absent) and `offered`, the HTTPZ_BIT set of codings the body exists in
 * (identity is always possible). The offered coding with the highest weight
 * above 0 wins (br before gzip at equal weight; `*` weighs what the header
 * does not name; x-gzip is gzip), unless identity weighs more: identity
 * weighs what `identity` or `*` say, and when neither is listed it is
 * acceptable but loses to any coding listed. No header, an empty one, or
 * nothing acceptable gives HTTPZ_IDENTITY (never refused with 406). */
httpz_coding httpz_choose(const char *accept_encoding, unsigned offered);

/* The Content-Encoding value of c: "gzip", "br", or NULL for identity. */
const char *httpz_name(httpz_coding c);

/* Append in[0..len) compressed with c (HTTPZ_GZIP or HTTPZ_BR) to out.
 * Returns 0; -EINVAL when c is not one of them, -EFBIG when len is over
 * 1 GiB, -EIO when the library fails (out is then as it was). */
int httpz_compress(httpz_coding c, httpz_effort effort, const void *in, size_t len, sbuf *out);

/* The ETag of coding c of the representation whose identity ETag is etag
 * (quoted, weak or strong): the suffix "-gz" or "-br" inside the quotes
 * ("\"abc\"" -> "\"abc-gz\""), etag itself for identity. Returns 0, or
 * -EINVAL when etag does not end with a quote or the result does not fit. */
int httpz_etag(const char *etag, httpz_coding c, char out[HTTPZ_ETAG_MAX]);

/* A file in every coding worth serving, made once and served many times. */
typedef struct httpz_set {
    unsigned offered;                   /* HTTPZ_BIT of each coding present; identity always */
    unsigned char *data[HTTPZ_CODINGS]; /* owned; [HTTPZ_IDENTITY] stays NULL (the caller's) */
    size_t len[HTTPZ_CODINGS];          /* [HTTPZ_IDENTITY]: the file's length */
    char etag[HTTPZ_CODINGS][HTTPZ_ETAG_MAX]; /* quoted; "" for a coding not offered */
} httpz_set;

/* Fill s for data[0..len), whose identity ETag is etag (quoted). With
 * `compress`, gzip and br (HTTPZ_STATIC up to HTTPZ_STATIC_MAX bytes, else
 * HTTPZ_DYNAMIC), each kept only when smaller than the file; without, or
 * when etag is too long for a suffix, identity only. data is not kept.
 * Never fails (a coding that fails is left out). */
void httpz_set_init(httpz_set *s, const void *data, size_t len, const char *etag, bool compress);
/* Free what httpz_set_init made; s may be initialised again. */
void httpz_set_fini(httpz_set *s);

#endif
