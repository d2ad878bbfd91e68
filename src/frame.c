/* frame.c: refcounted outgoing frames (see frame.h). */
#include "wsgate/frame.h"

#include "wsgate/xmalloc.h"

#include <stdlib.h>
#include <string.h>

wsg_frame *frame_from_sbuf(sbuf *b)
{
    wsg_frame *f = xcalloc(1, sizeof(*f));
    f->refs = 1;
    f->len = b->len;
    f->mem = sbuf_release(b);
    return f;
}

wsg_frame *frame_create(const void *data, size_t len)
{
    wsg_frame *f = xcalloc(1, sizeof(*f));
    f->refs = 1;
    f->len = len;
    f->mem = xmalloc(FRAME_PRE + len + 1);
    memcpy(f->mem + FRAME_PRE, data, len);
    f->mem[FRAME_PRE + len] = '\0';
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
    free(f->subject);
    free(f->mem);
    free(f);
}
