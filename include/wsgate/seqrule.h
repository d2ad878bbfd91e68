/* seqrule.h: the sequence rule of a live JetStream consumer, as a pure function.
 *
 * Within one consumer's life the stream sequence goes up by exactly one, or
 * skips only what the stream had deleted when the consumer was made (stream
 * limits, deletes); its consumer sequence goes up by exactly one. Anything
 * else (a consumer that skipped messages still in the stream, redelivered or
 * went back) is broken: the bridge drops what is ahead and reads again from
 * the last sequence taken + 1 with a new consumer. */
#ifndef WSGATE_SEQRULE_H
#define WSGATE_SEQRULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a consumer was made with, and where it is. */
typedef struct seqrule {
    uint64_t start;      /* the stream sequence it was made from */
    uint64_t floor;      /* the stream's first sequence then: every one below was deleted */
    const uint64_t *del; /* the stream's deleted sequences then, sorted, distinct */
    size_t ndel;
    uint64_t cseq;     /* its last consumer sequence (0: nothing taken yet) */
    uint64_t last_seq; /* the last stream sequence taken from it */
} seqrule;

/* May the consumer's next message, stream sequence seq and consumer sequence
 * cseq, be taken? true: taken (cseq and last_seq move); false: the consumer
 * is broken, *expected is the stream sequence that was due, r is unchanged. */
bool seqrule_take(seqrule *r, uint64_t seq, uint64_t cseq, uint64_t *expected);
/* Had the stream deleted every sequence in [from, to) when the consumer was made? */
bool seqrule_deleted(const seqrule *r, uint64_t from, uint64_t to);

#endif
