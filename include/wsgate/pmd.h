/* pmd.h: permessage-deflate (RFC 7692): the offer a client makes, our answer, and the
 * inflating of its compressed messages.
 *
 * What we send is compressed by zgroup.c (shared compressors). What clients
 * send is inflated here with one inflater for the whole process: our answer
 * always asks for client_no_context_takeover, so every client message is
 * a deflate stream of its own. Service thread only (the inflater is shared). */
#ifndef WSGATE_PMD_H
#define WSGATE_PMD_H

#include "wsgate/sbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PMD_RSV1 0x40 /* the RSV bit of a compressed message's first frame */

/* What was agreed with one client. */
typedef struct pmd_params {
    uint8_t server_bits;     /* window of what we send, 9..15 (RFC: server_max_window_bits) */
    bool server_bits_asked;  /* the offer named server_max_window_bits: the answer repeats it */
    bool server_no_takeover; /* the client asked each of our messages to be compressed alone */
} pmd_params;

/* Choose from a Sec-WebSocket-Extensions header value the first
 * permessage-deflate offer whose parameters are well-formed and that we can
 * honour (server_max_window_bits=8 cannot be: zlib's raw deflate needs 9).
 * Returns 0 with *out filled, or -ENOENT when there is none. */
int pmd_negotiate(const char *offer, pmd_params *out);
/* The parameters of our answer to p ("; client_no_context_takeover..."),
 * NUL-terminated in buf. Returns its length, or -ENOSPC. */
int pmd_answer(const pmd_params *p, char *buf, size_t size);
/* Inflate one compressed client message (its frames' payloads joined;
 * RFC 7692 7.2.2: the 00 00 ff ff tail is added here) into out, which is
 * reset first, at most max bytes. Returns 0, -EMSGSIZE when it inflates to
 * more than max (a decompression bomb stops there), or -EINVAL when it is
 * not a valid deflate stream. */
int pmd_inflate(const void *in, size_t len, size_t max, sbuf *out);
/* Free the shared inflater (at exit; the next pmd_inflate makes it again). */
void pmd_fini(void);

#endif
