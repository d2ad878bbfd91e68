/* frame.h: refcounted outgoing WebSocket frames, encoded once and shared by every recipient.
 *
 * A frame's bytes sit after LWS_PRE bytes of headroom whose last 2 to 10
 * bytes hold its WebSocket header (final, text, unmasked), written once when
 * the frame is made: a plain socket gets a frame's wire bytes straight from
 * the shared frame (one iovec each, no copy per recipient), and lws_write()
 * on TLS writes the same header bytes in the same place. Frames are referenced only
 * on the lws service thread once published (no atomics); a frame built on
 * another thread is handed over with its single reference. */
#ifndef WSGATE_FRAME_H
#define WSGATE_FRAME_H

#include "wsgate/sbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsg_frame {
    int refs;
    bool lastvalue;        /* msg frame on a last-value subject: may be conflated */
    uint64_t seq;          /* stream sequence of a msg frame, 0 for control frames */
    int64_t recv_ns;       /* CLOCK_MONOTONIC ns when NATS delivered it (msg frames), else 0 */
    int64_t stored_ns;     /* CLOCK_REALTIME ns JetStream stored it (live msg frames), else 0 */
    int64_t stored_age_ns; /* how old it was at recv_ns (metrics_stored_age), -1 unknown */
    char *subject;         /* msg frames: the event subject (owned); NULL otherwise */
    size_t len;            /* payload bytes */
    uint8_t hdr;           /* WebSocket header bytes in front of the payload */
    bool chained;          /* compressed with a shared context: needs the frames before it */
    struct wsg_frame *src; /* a compressed frame (RSV1 set): the frame it compresses (a
                              reference; subject and the rest are src's), else NULL */
    unsigned char *mem;    /* allocation: FRAME_PRE headroom, then len payload bytes */
} wsg_frame;

#define FRAME_PRE 16 /* == LWS_PRE in libwebsockets 4.1 (checked by a static assert in conn.c) */

/* Take the content of b (which must have been sbuf_init'ed with FRAME_PRE
 * headroom) as a new frame with one reference; b is left empty. */
wsg_frame *frame_from_sbuf(sbuf *b);
/* Copy len bytes into a new frame with one reference. */
wsg_frame *frame_create(const void *data, size_t len);
/* A permessage-deflate frame of src: mem holds FRAME_PRE headroom, then
 * len bytes of deflated payload (the caller's allocation, now the frame's).
 * The header says FIN, RSV1, text; seq, lastvalue and the timings are src's,
 * and the frame keeps a reference to src. One reference. */
wsg_frame *frame_compressed(wsg_frame *src, unsigned char *mem, size_t len, bool chained);
/* The uncompressed frame f stands for: f->src, or f itself. */
static inline const wsg_frame *frame_origin(const wsg_frame *f)
{
    return f->src ? f->src : f;
}
/* Payload pointer (headroom in front of it). */
static inline unsigned char *frame_data(const wsg_frame *f)
{
    return f->mem + FRAME_PRE;
}
/* The frame on the wire: its WebSocket header, then the payload. */
static inline const unsigned char *frame_wire(const wsg_frame *f)
{
    return f->mem + FRAME_PRE - f->hdr;
}
static inline size_t frame_wire_len(const wsg_frame *f)
{
    return f->hdr + f->len;
}
/* Add a reference; returns f. */
wsg_frame *frame_ref(wsg_frame *f);
/* Drop a reference; the last one frees the frame. NULL is ignored. */
void frame_unref(wsg_frame *f);

#endif
