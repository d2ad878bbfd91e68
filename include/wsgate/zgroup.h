/* zgroup.h: shared permessage-deflate compressors: the connections that receive the same live
 * stream share one compressor with context takeover, so an event is compressed once for all.
 *
 * A group is a set of subscription patterns (and a window size). Connections
 * with exactly that set receive exactly the same live frames, so while each
 * of them has been given every frame the group compressed (it is "in step"),
 * they can all be given the same compressed bytes: one compression per
 * event, one shared frame, the ratio of a compressor per connection. A
 * connection that is not in step (it just came, or missed a frame: a replay,
 * conflation) gets the event compressed alone ("solo", also made once per
 * event and shared) until the group's next sync point: a reset of the
 * compressor at a message boundary, after which no frame refers to earlier
 * ones, so every waiting member joins there. Resets happen only when someone
 * waits, at most once per ZGROUP_SYNC_FRAMES frames or ZGROUP_SYNC_NS.
 *
 * Whether a member is in step is decided by one comparison per delivery (its
 * position against the group's), so a member that missed a frame for any
 * reason falls out by itself; the caller only says so when it drops a frame
 * the member was given (zmember_diverge). Frames sent uncompressed (RSV1
 * clear: replies, replays, last values) do not enter the client's window and
 * do not disturb the step.
 *
 * Security (RFC 7692 section 8): a context is shared only by connections that
 * receive the same bytes, so a compressed size tells a client nothing about
 * another client's stream. Service thread only; counted in metrics.deflate_*. */
#ifndef WSGATE_ZGROUP_H
#define WSGATE_ZGROUP_H

#include "wsgate/frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZGROUP_SYNC_FRAMES 32           /* a group resets for a newcomer at most this often ... */
#define ZGROUP_SYNC_NS     1000000000LL /* ... or once this long has passed (1 s) */

typedef struct zgroups zgroups;
typedef struct zgroup zgroup;

/* A connection's compression state, a few words inside the connection: no
 * compressor of its own. All zero: compression not negotiated. */
typedef struct zmember {
    zgroup *group; /* the group of its subscription set, or NULL */
    uint64_t pos;  /* the group position of the last group frame it was given; 0: out of step */
    uint8_t bits;  /* window of the frames we send it, 9..15; 0: not negotiated */
    bool alone;    /* server_no_context_takeover: only frames compressed alone */
} zmember;

/* Limits of the compressors (from the --compression-* flags). */
typedef struct zgroups_limits {
    size_t min_bytes; /* frames smaller than this are sent as they are */
    int max_groups;   /* compressors at once (each ~128 KiB + 2^(9+mem_level) bytes) */
    int level;        /* zlib level, 1..9 */
    int mem_level;    /* zlib memLevel, 1..9 */
} zgroups_limits;

zgroups *zgroups_create(const zgroups_limits *lim);
/* Free everything; every member must have been cleared. */
void zgroups_destroy(zgroups *zs);

/* A connection negotiated permessage-deflate with a window of bits (9..15);
 * alone: it asked for server_no_context_takeover. */
void zmember_init(zmember *m, uint8_t bits, bool alone);
/* m's subscription patterns are now these n (any order; n 0: none): m is
 * attached to their group (made when missing), out of step until its next
 * sync point. Nothing happens when the set is unchanged. */
void zmember_set(zgroups *zs, zmember *m, const char *const *patterns, size_t n);
/* Detach m (its connection goes). */
void zmember_clear(zgroups *zs, zmember *m);
/* The frame to queue for m for the live event frame f (borrowed: valid
 * while f is, until the next event is compressed; the queue takes its own
 * reference):
 * the group's compressed frame when m is in step, else f compressed alone,
 * else f itself (compression not negotiated, f below min_bytes, f too big
 * for m's window when alone, or compressing did not pay). All fan-out
 * deliveries of one event must come before the next event's. */
wsg_frame *zmember_frame(zgroups *zs, zmember *m, wsg_frame *f);
/* A frame m was given (f->chained) will not reach the client: m is out of
 * step until the next sync point. */
void zmember_diverge(zgroups *zs, zmember *m);

#endif
