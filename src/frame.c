/* frame.c: refcounted outgoing frames (see frame.h). */
#include "wsgate/frame.h"

#include "wsgate/xmalloc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_FIN_TEXT 0x81 /* FIN, opcode 1 (text) */
#define FRAME_RSV1     0x40 /* permessage-deflate: the payload is compressed */

/* Write the header of a final, unmasked text frame of f->len bytes at the
 * end of f's headroom (the bytes lws_write would put there); first is its
 * first byte (FIN, RSV bits, opcode). */
static void frame_header(wsg_frame *f, unsigned char first)
{
    unsigned char h[10] = {first};
    size_t len = f->len, n;
    if (len < 126) {
        h[1] = (unsigned char)len;
        n = 2;
    } else if (len < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        n = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        n = 10;
    }
    f->hdr = (uint8_t)n;
    memcpy(f->mem + FRAME_PRE - n, h, n);
}

wsg_frame *frame_from_sbuf(sbuf *b)
{
    assert(b->head == FRAME_PRE); /* the header goes into that headroom */
    wsg_frame *f = xcalloc(1, sizeof(*f));
    f->refs = 1;
    f->stored_age_ns = -1;
    f->len = b->len;
    f->mem = sbuf_release(b);
    frame_header(f, FRAME_FIN_TEXT);
    return f;
}

wsg_frame *frame_create(const void *data, size_t len)
{
    wsg_frame *f = xcalloc(1, sizeof(*f));
    f->refs = 1;
    f->stored_age_ns = -1;
    f->len = len;
    f->mem = xmalloc(FRAME_PRE + len + 1);
    memcpy(f->mem + FRAME_PRE, data, len);
    f->mem[FRAME_PRE + len] = '\0';
    frame_header(f, FRAME_FIN_TEXT);
    return f;
}

wsg_frame *frame_compressed(wsg_frame *src, unsigned char *mem, size_t len, bool chained)
{
    wsg_frame *f = xcalloc(1, sizeof(*f));
    f->refs = 1;
    f->lastvalue = src->lastvalue;
    f->seq = src->seq;
    f->recv_ns = src->recv_ns;
    f->stored_ns = src->stored_ns;
    f->stored_age_ns = src->stored_age_ns;
    f->len = len;
    f->chained = chained;
    f->src = frame_ref(src);
    f->mem = mem;
    frame_header(f, FRAME_FIN_TEXT | FRAME_RSV1);
    return f;
}

wsg_frame *frame_ref(wsg_frame *f)
{
    f->refs++;
    return f;
}

void frame_unref(wsg_frame *f)
{
    if (!f || --f->refs > 0)
        return;
    frame_unref(f->src);
    free(f->subject);
    free(f->mem);
    free(f);
}
