/* ring.c: a circular array of recent msg frames (see ring.h). */
#include "wsgate/ring.h"

#include "wsgate/xmalloc.h"

#include <stdlib.h>

struct ring {
    wsg_frame **slots;
    size_t cap;  /* allocated slots (grows up to max_frames) */
    size_t head; /* index of the oldest frame */
    size_t count;
    size_t bytes; /* payload bytes of the frames inside */
    size_t max_frames, max_bytes;
};

ring *ring_create(size_t max_frames, size_t max_bytes)
{
    ring *r = xcalloc(1, sizeof(*r));
    r->max_frames = max_frames ? max_frames : 1;
    r->max_bytes = max_bytes;
    return r;
}

static void ring_drop_oldest(ring *r)
{
    wsg_frame *f = r->slots[r->head];
    r->bytes -= f->len;
    frame_unref(f);
    r->head = (r->head + 1) % r->cap;
    r->count--;
}

void ring_clear(ring *r)
{
    while (r->count)
        ring_drop_oldest(r);
}

void ring_destroy(ring *r)
{
    if (!r)
        return;
    ring_clear(r);
    free(r->slots);
    free(r);
}

/* Double the slot array (up to max_frames), unrolling the circle. */
static void ring_grow(ring *r)
{
    size_t cap = r->cap ? r->cap * 2 : 1024;
    if (cap > r->max_frames)
        cap = r->max_frames;
    wsg_frame **slots = xmalloc(cap * sizeof(*slots));
    for (size_t i = 0; i < r->count; i++)
        slots[i] = r->slots[(r->head + i) % r->cap];
    free(r->slots);
    r->slots = slots;
    r->cap = cap;
    r->head = 0;
}

void ring_push(ring *r, wsg_frame *f)
{
    while (r->count && (r->count >= r->max_frames || r->bytes + f->len > r->max_bytes))
        ring_drop_oldest(r);
    if (r->count == r->cap)
        ring_grow(r);
    r->slots[(r->head + r->count) % r->cap] = frame_ref(f);
    r->count++;
    r->bytes += f->len;
}

uint64_t ring_first_seq(const ring *r)
{
    return r->count ? r->slots[r->head]->seq : 0;
}

size_t ring_count(const ring *r)
{
    return r->count;
}

wsg_frame *ring_at(const ring *r, size_t i)
{
    return r->slots[(r->head + i) % r->cap];
}

size_t ring_find_after(const ring *r, uint64_t since)
{
    size_t lo = 0, hi = r->count; /* binary search: seqs increase along the ring */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ring_at(r, mid)->seq <= since)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
