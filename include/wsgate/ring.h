/* ring.h: the most recent msg frames of the stream, in sequence order, for resume.
 *
 * Bounded by a frame count and by payload bytes; the oldest frames leave
 * first. Frames are shared (referenced), never copied. The hub keeps the
 * sequences inside contiguous (it clears the ring on a gap), so a ring that
 * reaches back to since + 1 holds every message after since. */
#ifndef WSGATE_RING_H
#define WSGATE_RING_H

#include "wsgate/frame.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ring ring;

ring *ring_create(size_t max_frames, size_t max_bytes);
void ring_destroy(ring *r);
/* Append a frame whose seq is greater than every seq inside (takes a reference). */
void ring_push(ring *r, wsg_frame *f);
/* Drop everything (the stream was recreated). */
void ring_clear(ring *r);
/* Lowest seq held, or 0 when empty. */
uint64_t ring_first_seq(const ring *r);
size_t ring_count(const ring *r);
/* Position of the first frame with seq > since (== ring_count when none). */
size_t ring_find_after(const ring *r, uint64_t since);
/* The frame at position i (0 = oldest); valid until the next push or clear. */
wsg_frame *ring_at(const ring *r, size_t i);

#endif
