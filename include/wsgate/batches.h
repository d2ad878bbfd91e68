/* batches.h: live batch and verification state built from the events of EVENTS.md. */
#ifndef WSGATE_BATCHES_H
#define WSGATE_BATCHES_H

#include "wsgate/events.h"
#include "wsgate/sbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct batches batches;

typedef struct batches_config {
    int64_t stall_ms;       /* a running batch with no event for this long is "stalled" */
    int64_t retention_ms;   /* completed batches are dropped this long after completion */
    int64_t rate_window_ms; /* sliding window of the rate (default 30000 when 0) */
    int64_t idle_ms;        /* a running batch with no event for this long is dropped; 0: never */
    size_t max_batches;     /* batches kept; the least recently updated go first (0: 10000) */
} batches_config;

/* Which batches a page lists (GET /api/batches). */
enum {
    BATCHES_RUNNING = 1,    /* state "running" */
    BATCHES_STALLED = 2,    /* state "stalled" */
    BATCHES_COMPLETED = 4,  /* state "completed" */
    BATCHES_FAILED = 8,     /* any state, with at least one failed assignment */
    BATCHES_CANCELLED = 16, /* state "cancelled" */
};

/* Which part of the state a view shows: called with a batch id (batch views)
 * or a two-letter country code (verifications); true shows it. A NULL filter
 * shows everything. */
typedef bool (*batches_filter)(void *arg, const char *id);

typedef struct batches_query {
    unsigned states;       /* BATCHES_* bits, or-ed; 0: every batch */
    const char *search;    /* only ids containing this (ASCII case-insensitive); NULL or "": all */
    const char *cursor;    /* continue after this cursor of a previous page; NULL: from the start */
    size_t limit;          /* batches on the page, at least 1 */
    batches_filter filter; /* NULL: every batch */
    void *filter_arg;
} batches_query;

/* Longest cursor batches_page_json writes, with its NUL. */
#define BATCHES_CURSOR_MAX 96

batches *batches_create(const batches_config *cfg);
void batches_destroy(batches *b);

/* Apply one decoded event (events_decode). `seq` is its stream sequence,
 * wall_ms the stream's timestamp of the message (ms since the epoch; 0 or
 * less: unknown, the event's own time stands in), which "stalled" and
 * idle_ms compare with the clock. A new batch beyond max_batches evicts the
 * least recently updated one. */
void batches_apply(batches *b, const events_event *ev, uint64_t seq, int64_t wall_ms);

/* Decode and apply one message (events_decode + batches_apply: tests, fuzzing).
 * `subject` is the NATS subject, data/len the payload, `seq` its stream
 * sequence, `ts_ms` the stream's timestamp of the message. Subjects that are
 * not three tokens under batch., license. or verification. are ignored.
 * Returns 0 when applied or ignored, -EINVAL when the payload is not what
 * EVENTS.md says or the subject is an unknown batch./license. event (state
 * unchanged). */
int batches_feed(batches *b, const char *subject, const void *data, size_t len, uint64_t seq,
                 int64_t ts_ms);

/* Age the state to wall-clock time now_ms: mark stalled batches, drop
 * completed and cancelled ones retention_ms after they ended and running
 * ones silent for idle_ms. Call about
 * once a second. */
void batches_tick(batches *b, int64_t now_ms);

/* Batches currently kept, and batches evicted by the max_batches cap so far. */
size_t batches_count(const batches *b);
uint64_t batches_evicted(const batches *b);

/* JSON views (appended to out). The order of lists: running and stalled
 * batches first, newest started first; then completed and cancelled ones,
 * newest ended first; then by id. */
void batches_list_json(batches *b, int64_t now_ms, batches_filter filter, void *arg,
                       sbuf *out); /* every batch it lets through: tests, small sets */
/* One page of the batches that match q: a JSON array of at most q->limit
 * batches. *total is the number of batches that match (all pages);
 * next_cursor (BATCHES_CURSOR_MAX bytes) is "" on the last page. Returns 0,
 * or -EINVAL when q->cursor is not a cursor (nothing appended). */
int batches_page_json(batches *b, const batches_query *q, int64_t now_ms, sbuf *out, size_t *total,
                      char *next_cursor);
/* The number of stalled batches at now_ms (running ones silent for
 * stall_ms: never a completed or cancelled one); *total gets the number of
 * batches. */
uint64_t batches_stalled(const batches *b, int64_t now_ms, uint64_t *total);

int batches_get_json(batches *b, const char *id, int64_t now_ms, batches_filter filter, void *arg,
                     sbuf *out); /* 0, or -ENOENT (also when filtered out) */
/* Counts over every batch kept that filter shows: by state, assignments,
 * aggregate rate, ETA. */
void batches_summary_json(batches *b, int64_t now_ms, batches_filter filter, void *arg, sbuf *out);
/* With a filter, the totals count only the countries it shows. */
void batches_verifications_json(batches *b, batches_filter filter, void *arg, sbuf *out);

/* Forget everything (the stream was recreated). */
void batches_reset(batches *b);

#endif
