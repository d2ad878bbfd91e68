/* batches.h: live batch and verification state built from the events of EVENTS.md. */
#ifndef WSGATE_BATCHES_H
#define WSGATE_BATCHES_H

#include "wsgate/sbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct batches batches;

typedef struct batches_config {
    int64_t stall_ms;       /* a running batch with no event for this long is "stalled" */
    int64_t retention_ms;   /* completed batches are dropped this long after completion */
    int64_t rate_window_ms; /* sliding window of the rate (default 30000 when 0) */
} batches_config;

batches *batches_create(const batches_config *cfg);
void batches_destroy(batches *b);

/* Apply one event. `subject` is the NATS subject, data/len the payload,
 * `seq` its stream sequence, `ts_ms` the stream's timestamp of the message
 * (ms since the epoch; used when the payload has no valid `ts`). Subjects
 * outside batch.*.{started,progress,completed}, license.*.{assigned,failed}
 * and verification.*.* are ignored. Returns 0 when applied or ignored,
 * -EINVAL when the payload is not what EVENTS.md says (state unchanged). */
int batches_feed(batches *b, const char *subject, const void *data, size_t len, uint64_t seq,
                 int64_t ts_ms);

/* Age the state to wall-clock time now_ms: mark stalled batches, drop
 * expired completed ones. Call about once a second. */
void batches_tick(batches *b, int64_t now_ms);

/* Which part of the state a view shows: called with a batch id (batch views)
 * or a two-letter country code (verifications); true shows it. A NULL filter
 * shows everything. */
typedef bool (*batches_filter)(void *arg, const char *id);

/* JSON views (appended to out), of what `filter` lets through. */
void batches_list_json(batches *b, int64_t now_ms, batches_filter filter, void *arg,
                       sbuf *out); /* array of batches */
int batches_get_json(batches *b, const char *id, int64_t now_ms, batches_filter filter, void *arg,
                     sbuf *out); /* 0, or -ENOENT (also when filtered out) */
/* With a filter, the totals count only the countries it shows. */
void batches_verifications_json(batches *b, batches_filter filter, void *arg, sbuf *out);

/* Forget everything (the stream was recreated). */
void batches_reset(batches *b);

#endif
