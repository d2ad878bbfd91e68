/* batches.c: live batch and verification state from the events of EVENTS.md (see batches.h). */
#include "wsgate/batches.h"

#include "wsgate/events.h"
#include "wsgate/hmap.h"
#include "wsgate/subject.h"
#include "wsgate/timefmt.h"
#include "wsgate/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * How a batch is counted
 *
 * A publisher may send progress snapshots, per-license events, or both, so a
 * batch keeps two tallies and shows the larger of each:
 *
 *   snap_done, snap_failed  the latest progress snapshot. A snapshot that
 *                           would move done or processed backwards is late
 *                           and ignored; one that lowers failed while done
 *                           rises (retries) is taken. `completed` raises
 *                           both to its own counts.
 *   lic_done, lic_failed    distinct license ids, kept in a hash set with
 *                           their state. Assigned wins: a failed license
 *                           assigned later (retry) moves from failed to
 *                           done; a failure after the assignment is late; a
 *                           repeat is a duplicate. Beyond LICENSES_MAX ids a
 *                           batch (LICENSES_ALL over all batches) counts new
 *                           ids without remembering them.
 *
 *   done = max(snap_done, lic_done), failed = max(snap_failed, lic_failed).
 *
 * `completed` and `cancelled` are terminal, and the first of them wins: once
 * completed a batch stays completed, once cancelled it stays cancelled
 * (never "stalled"); later events may still raise its counts. Times shown and the rate use event
 * time (the payload `ts`, else the stream timestamp); "stalled" compares the stream timestamp of
 * the last event (its `ts` when there is none) with the wall clock now_ms, and expiry compares
 * completed_at (cancelled_at) with it.
 *
 * What bounds the state
 *
 * At most max_batches batches are kept: a new one evicts the least recently
 * updated (a list in update order). A completed or cancelled batch goes
 * retention_ms after it ended, a running one idle_ms after its last event (abandoned). Per
 * batch: workers 0..WORKERS_KEPT-1 are counted one by one, the others
 * together; FAILURES_MAX failures; RATE_SAMPLES samples; HISTORY_MAX
 * history points (one per HISTORY_STEP of event time; when full, the step
 * doubles and every other point goes).
 */

#define TOKEN_MAX    EVENTS_TOKEN_MAX /* bytes in a subject token (PROTOCOL.md) */
#define LICENSES_MAX 1000000          /* license ids remembered per batch (66 MB for 10-byte ids) */
#define LICENSES_ALL 2000000          /* ... and over all batches */
#define LICBLOCK_MIN 256              /* bytes in a batch's first block of license records */
#define LICBLOCK_MAX 65536            /* ... doubling up to this */
#define WORKERS_KEPT 64               /* workers counted one by one per batch; the rest together */
#define BATCHES_MAX  10000            /* default max_batches */
#define HISTORY_MAX  200              /* points of a batch's history */
#define HISTORY_STEP 5000             /* ms between history points, doubled as it fills */
#define FAILURES_MAX 20               /* failures kept per batch */
#define RATE_SAMPLES 64               /* (t, processed) samples: two rate windows */
#define TS_MAX       EVENTS_TS_MAX    /* 9999-12-31T23:59:59.999Z */
#define WINDOW_MS    30000            /* default rate window */

enum lic_state { LIC_ASSIGNED = 1, LIC_FAILED = 2 };
enum { ST_VERIFIED = EVENTS_VERIFIED, ST_REJECTED = EVENTS_REJECTED, ST_PENDING = EVENTS_PENDING };
#define ST_COUNT EVENTS_STATUSES

typedef struct license { /* one remembered license id, in a licblock */
    int32_t worker;      /* -1 when unknown */
    uint8_t state;       /* enum lic_state */
    char id[];           /* the key in batch.licenses */
} license;

/* License records packed one after another (each padded to the alignment of
 * a license): ids are never forgotten one by one, only with their batch, so
 * they need no allocation each. */
typedef struct licblock {
    struct licblock *next; /* the batch's older blocks */
    size_t used, cap;      /* bytes of data */
    char data[];
} licblock;
_Static_assert(offsetof(licblock, data) % _Alignof(license) == 0, "licblock data misaligned");

typedef struct worker_count {
    int64_t done, failed;
} worker_count;

typedef struct failure {
    char *license_id, *hcp_id, *error; /* hcp_id, error may be NULL */
    int32_t worker;                    /* -1 when unknown */
    int64_t ts;
} failure;

typedef struct sample {
    int64_t t, processed;
} sample;

typedef struct hpoint { /* done and failed at event time t */
    int64_t t;
    int32_t done, failed;
} hpoint;

typedef struct batch {
    struct batch *lru_prev, *lru_next; /* update order, least recent first */
    char id[TOKEN_MAX + 1];            /* the key in batches.map */
    char *kind;                        /* NULL until an event names it */
    char *cancel_reason;               /* `cancelled`'s reason, NULL when none */
    int64_t total;                     /* -1 when unknown */
    int64_t workers;                   /* from `started`; 0 when unknown */
    int64_t snap_done, snap_failed;
    int64_t lic_done, lic_failed;
    bool has_started, completed, cancelled, has_licenses;       /* completed, cancelled: terminal */
    int64_t started_at, updated_at, completed_at, cancelled_at; /* event time, ms */
    int64_t duration_ms; /* from `completed`; -1 when absent */
    int64_t seen_ms;     /* stream timestamp of the last event */
    uint64_t seq;
    hmap licenses;                  /* license id -> license (keyed by its own id) */
    licblock *licblocks;            /* where the licenses live, newest block first */
    worker_count *per_worker;       /* WORKERS_KEPT, indexed by worker, from the first license */
    worker_count others;            /* workers from WORKERS_KEPT on, together */
    int64_t workers_seen;           /* highest worker index seen + 1 */
    failure failures[FAILURES_MAX]; /* ring: failures_next is where the next one goes */
    size_t nfailures, failures_next;
    sample samples[RATE_SAMPLES]; /* ring, oldest at samples_first, in time order */
    size_t nsamples, samples_first;
    hpoint *history; /* one point per history_step of event time, in time order */
    size_t nhistory, history_cap;
    int64_t history_step;
} batch;

struct batches {
    batches_config cfg;
    hmap map;                   /* id -> batch (keyed by the batch's own id) */
    batch *lru_head, *lru_tail; /* least and most recently updated */
    uint64_t evicted;
    size_t licenses; /* license ids remembered over all batches */
    int64_t ver_total;
    int64_t ver_status[ST_COUNT];
    int64_t ver_country[26 * 26][ST_COUNT]; /* "AA".."ZZ" */
};

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t clamp_ms(int64_t t)
{
    return t < 0 ? 0 : t > TS_MAX ? TS_MAX : t;
}

/* ---- time ---- */

/* Append ms (0..TS_MAX) as a quoted RFC 3339 UTC time with milliseconds. */
static void ts_json(sbuf *out, int64_t ms)
{
    char ts[TIMEFMT_MAX];
    if (timefmt_ms(ms, ts) < 0)
        sbuf_puts(out, "null");
    else
        sbuf_printf(out, "\"%s\"", ts);
}

/* ---- one batch ---- */

static batch *batch_create(const char *id)
{
    batch *bt = xcalloc(1, sizeof(*bt));
    strcpy(bt->id, id);
    bt->total = -1;
    bt->duration_ms = -1;
    bt->started_at = TS_MAX;
    return bt;
}

static void batch_destroy(batch *bt)
{
    for (size_t i = 0; i < FAILURES_MAX; i++) {
        free(bt->failures[i].license_id);
        free(bt->failures[i].hcp_id);
        free(bt->failures[i].error);
    }
    hmap_fini(&bt->licenses);
    for (licblock *next, *blk = bt->licblocks; blk; blk = next) {
        next = blk->next;
        free(blk);
    }
    free(bt->per_worker);
    free(bt->history);
    free(bt->kind);
    free(bt->cancel_reason);
    free(bt);
}

/* Completed or cancelled: the batch will not move on. */
static bool batch_ended(const batch *bt)
{
    return bt->completed || bt->cancelled;
}

/* When a batch that batch_ended ended (event time). */
static int64_t batch_ended_at(const batch *bt)
{
    return bt->completed ? bt->completed_at : bt->cancelled_at;
}

static int64_t batch_done(const batch *bt)
{
    return max64(bt->snap_done, bt->lic_done);
}

static int64_t batch_failed(const batch *bt)
{
    return max64(bt->snap_failed, bt->lic_failed);
}

/* Duration of a completed batch: the payload's, else completed_at - started_at. */
static int64_t batch_duration(const batch *bt)
{
    return bt->duration_ms >= 0 ? bt->duration_ms : max64(0, bt->completed_at - bt->started_at);
}

/* Add to the counts of one worker (ignored when the worker is unknown): its
 * own below WORKERS_KEPT, else those of the others. */
static void batch_worker_add(batch *bt, int64_t worker, int64_t done, int64_t failed)
{
    if (worker < 0)
        return;
    bt->workers_seen = max64(bt->workers_seen, worker + 1);
    if (!bt->per_worker)
        bt->per_worker = xcalloc(WORKERS_KEPT, sizeof(worker_count));
    worker_count *c = worker < WORKERS_KEPT ? &bt->per_worker[worker] : &bt->others;
    c->done += done;
    c->failed += failed;
}

static void batch_failure_push(batch *bt, const events_event *ev)
{
    failure *f = &bt->failures[bt->failures_next];
    free(f->license_id);
    free(f->hcp_id);
    free(f->error);
    f->license_id = xstrdup(ev->license_id);
    f->hcp_id = ev->hcp_id ? xstrdup(ev->hcp_id) : NULL; /* clipped by events_decode */
    f->error = ev->error ? xstrdup(ev->error) : NULL;
    f->worker = (int32_t)ev->worker;
    f->ts = ev->ts;
    bt->failures_next = (bt->failures_next + 1) % FAILURES_MAX;
    if (bt->nfailures < FAILURES_MAX)
        bt->nfailures++;
}

/* A progress snapshot (or the counts of `completed` when `raise`). */
static void batch_snapshot(batch *bt, int64_t done, int64_t failed, bool raise)
{
    if (done < 0)
        done = bt->snap_done;
    if (failed < 0)
        failed = bt->snap_failed;
    if (raise) {
        bt->snap_done = max64(bt->snap_done, done);
        bt->snap_failed = max64(bt->snap_failed, failed);
    } else if (done >= bt->snap_done && done + failed >= bt->snap_done + bt->snap_failed) {
        bt->snap_done = done;
        bt->snap_failed = failed;
    } /* else: a late snapshot */
}

/* A new license record for id in bt's blocks (a new block when the newest is
 * full: twice its size, up to LICBLOCK_MAX). */
static license *batch_license_new(batch *bt, const char *id, int64_t worker, uint8_t state)
{
    size_t n = strlen(id) + 1, align = _Alignof(license);
    size_t size = (offsetof(license, id) + n + align - 1) / align * align;
    licblock *blk = bt->licblocks;
    if (!blk || blk->cap - blk->used < size) {
        size_t cap = blk ? blk->cap * 2 : LICBLOCK_MIN;
        cap = cap > LICBLOCK_MAX ? LICBLOCK_MAX : cap;
        cap = cap < size ? size : cap;
        licblock *nb = xmalloc(offsetof(licblock, data) + cap);
        *nb = (licblock){blk, 0, cap};
        bt->licblocks = blk = nb;
    }
    license *l = (license *)(blk->data + blk->used);
    blk->used += size;
    l->worker = (int32_t)worker;
    l->state = state;
    memcpy(l->id, id, n);
    return l;
}

/* A license.<batch>.assigned or .failed event. */
static void batch_license(batches *b, batch *bt, const events_event *ev)
{
    uint8_t state = ev->type == EVENTS_ASSIGNED ? LIC_ASSIGNED : LIC_FAILED;
    bt->has_licenses = true;
    license *l = hmap_get(&bt->licenses, ev->license_id);
    if (l) {
        if (l->state == LIC_ASSIGNED || state == LIC_FAILED)
            return;       /* a duplicate, or a failure reported after the assignment */
        bt->lic_failed--; /* a retry that succeeded */
        batch_worker_add(bt, l->worker, 0, -1);
        l->state = LIC_ASSIGNED;
        l->worker = (int32_t)ev->worker;
        bt->lic_done++;
        batch_worker_add(bt, ev->worker, 1, 0);
        return;
    }
    if (hmap_count(&bt->licenses) < LICENSES_MAX && b->licenses < LICENSES_ALL) {
        l = batch_license_new(bt, ev->license_id, ev->worker, state);
        hmap_put(&bt->licenses, l->id, l);
        b->licenses++;
    }
    if (state == LIC_ASSIGNED) {
        bt->lic_done++;
        batch_worker_add(bt, ev->worker, 1, 0);
    } else {
        bt->lic_failed++;
        batch_worker_add(bt, ev->worker, 0, 1);
        batch_failure_push(bt, ev);
    }
}

/* Remember (t, processed) for the rate; samples closer than bucket_ms share one slot. */
static void batch_sample(batch *bt, int64_t t, int64_t bucket_ms)
{
    int64_t processed = batch_done(bt) + batch_failed(bt);
    if (bt->nsamples > 0) {
        sample *last = &bt->samples[(bt->samples_first + bt->nsamples - 1) % RATE_SAMPLES];
        t = max64(t, last->t); /* a late event counts as happening at the latest time */
        if (t / bucket_ms == last->t / bucket_ms) {
            *last = (sample){t, processed};
            return;
        }
    }
    if (bt->nsamples == RATE_SAMPLES) {
        bt->samples_first = (bt->samples_first + 1) % RATE_SAMPLES;
        bt->nsamples--;
    }
    bt->samples[(bt->samples_first + bt->nsamples) % RATE_SAMPLES] = (sample){t, processed};
    bt->nsamples++;
}

/* Record done/failed at event time t in the history: the last point of a
 * step is kept; a full history halves (the step doubles). */
static void batch_history(batch *bt, int64_t t)
{
    if (bt->history_step == 0)
        bt->history_step = HISTORY_STEP;
    hpoint p = {t, (int32_t)batch_done(bt), (int32_t)batch_failed(bt)};
    if (bt->nhistory > 0) {
        hpoint *last = &bt->history[bt->nhistory - 1];
        p.t = max64(t, last->t); /* a late event counts as happening at the latest time */
        if (p.t / bt->history_step == last->t / bt->history_step) {
            *last = p;
            return;
        }
    }
    if (bt->nhistory == HISTORY_MAX) {
        bt->history_step *= 2;
        size_t n = 0;
        for (size_t i = 0; i < bt->nhistory; i++) {
            if (n > 0 &&
                bt->history[n - 1].t / bt->history_step == bt->history[i].t / bt->history_step)
                n--; /* same step: the later point wins */
            bt->history[n++] = bt->history[i];
        }
        bt->nhistory = n;
        if (n > 0 && p.t / bt->history_step == bt->history[n - 1].t / bt->history_step) {
            bt->history[n - 1] = p;
            return;
        }
    }
    if (bt->nhistory == bt->history_cap) {
        bt->history_cap = bt->history_cap ? bt->history_cap * 2 : 8;
        if (bt->history_cap > HISTORY_MAX)
            bt->history_cap = HISTORY_MAX;
        bt->history = xrealloc(bt->history, bt->history_cap * sizeof(hpoint));
    }
    bt->history[bt->nhistory++] = p;
}

/* Processed per second: over the last window of event time while running
 * (from the newest sample at least a window old, else the oldest), over the
 * whole batch once completed. 0 when unknown. */
static double batch_rate(const batch *bt, int64_t window_ms)
{
    int64_t processed = batch_done(bt) + batch_failed(bt);
    if (bt->completed) {
        int64_t d = batch_duration(bt);
        return d > 0 ? (double)processed * 1000.0 / (double)d : 0;
    }
    if (bt->nsamples < 2)
        return 0;
    const sample *last = &bt->samples[(bt->samples_first + bt->nsamples - 1) % RATE_SAMPLES];
    const sample *base = &bt->samples[bt->samples_first];
    for (size_t i = bt->nsamples - 1; i-- > 0;) {
        const sample *s = &bt->samples[(bt->samples_first + i) % RATE_SAMPLES];
        if (s->t <= last->t - window_ms) {
            base = s;
            break;
        }
    }
    if (last->t <= base->t || last->processed <= base->processed)
        return 0;
    return (double)(last->processed - base->processed) * 1000.0 / (double)(last->t - base->t);
}

static const char *batch_state(const batches *b, const batch *bt, int64_t now_ms)
{
    if (bt->completed)
        return "completed";
    if (bt->cancelled)
        return "cancelled";
    if (b->cfg.stall_ms > 0 && now_ms - bt->seen_ms >= b->cfg.stall_ms)
        return "stalled";
    return "running";
}

static void json_int_or_null(sbuf *out, const char *key, int64_t v)
{
    if (v < 0)
        sbuf_printf(out, ",\"%s\":null", key);
    else
        sbuf_printf(out, ",\"%s\":%" PRId64, key, v);
}

static void json_str_or_null(sbuf *out, const char *key, const char *s)
{
    sbuf_printf(out, ",\"%s\":", key);
    if (s)
        sbuf_json_str(out, s, strlen(s));
    else
        sbuf_puts(out, "null");
}

/* One batch; with its history when `history`. */
static void batch_json(const batches *b, const batch *bt, int64_t now_ms, bool history, sbuf *out)
{
    int64_t done = batch_done(bt), failed = batch_failed(bt), processed = done + failed;
    int64_t workers = max64(bt->workers, bt->workers_seen);
    const char *state = batch_state(b, bt, now_ms);
    /* a stalled or cancelled batch is not progressing: no rate, no ETA */
    double rate =
        strcmp(state, "stalled") == 0 || bt->cancelled ? 0 : batch_rate(bt, b->cfg.rate_window_ms);

    sbuf_puts(out, "{\"id\":");
    sbuf_json_str(out, bt->id, strlen(bt->id));
    json_str_or_null(out, "kind", bt->kind);
    sbuf_printf(out, ",\"state\":\"%s\"", state);
    json_int_or_null(out, "total", bt->total);
    sbuf_printf(out, ",\"done\":%" PRId64 ",\"failed\":%" PRId64 ",\"processed\":%" PRId64, done,
                failed, processed);
    if (bt->total < 0)
        sbuf_puts(out, ",\"percent\":null");
    else
        sbuf_printf(out, ",\"percent\":%.1f",
                    bt->total > 0 ? (double)processed * 100.0 / (double)bt->total : 100.0);
    sbuf_printf(out, ",\"workers\":%" PRId64 ",\"started_at\":", workers);
    ts_json(out, bt->started_at);
    sbuf_puts(out, ",\"updated_at\":");
    ts_json(out, bt->updated_at);
    sbuf_puts(out, ",\"completed_at\":");
    if (bt->completed)
        ts_json(out, bt->completed_at);
    else
        sbuf_puts(out, "null");
    json_int_or_null(out, "duration_ms", bt->completed ? batch_duration(bt) : -1);
    sbuf_puts(out, ",\"cancelled_at\":");
    if (bt->cancelled)
        ts_json(out, bt->cancelled_at);
    else
        sbuf_puts(out, "null");
    json_str_or_null(out, "cancel_reason", bt->cancel_reason);
    sbuf_printf(out, ",\"rate\":%.2f", rate);

    int64_t remaining = bt->total < 0 ? -1 : max64(0, bt->total - processed);
    if (bt->completed || remaining == 0)
        sbuf_puts(out, ",\"eta_s\":0.0");
    else if (remaining < 0 || rate <= 0 || bt->cancelled)
        sbuf_puts(out, ",\"eta_s\":null");
    else
        sbuf_printf(out, ",\"eta_s\":%.1f", (double)remaining / rate);
    sbuf_printf(out, ",\"seq\":%" PRIu64 ",\"per_worker\":[", bt->seq);

    int64_t nworkers = bt->has_licenses ? workers : 0;
    for (int64_t w = 0; w < nworkers && w < WORKERS_KEPT; w++) {
        worker_count c = bt->per_worker ? bt->per_worker[w] : (worker_count){0, 0};
        sbuf_printf(out, "%s{\"worker\":%" PRId64 ",\"done\":%" PRId64 ",\"failed\":%" PRId64 "}",
                    w ? "," : "", w, c.done, c.failed);
    }
    if (nworkers > WORKERS_KEPT)
        sbuf_printf(out,
                    "],\"per_worker_others\":{\"workers\":%" PRId64 ",\"done\":%" PRId64
                    ",\"failed\":%" PRId64 "}",
                    nworkers - WORKERS_KEPT, bt->others.done, bt->others.failed);
    else
        sbuf_puts(out, "],\"per_worker_others\":null");
    sbuf_puts(out, ",\"failures\":[");
    for (size_t i = 0; i < bt->nfailures; i++) { /* newest first */
        const failure *f = &bt->failures[(bt->failures_next + FAILURES_MAX - 1 - i) % FAILURES_MAX];
        sbuf_puts(out, i ? ",{\"license_id\":" : "{\"license_id\":");
        sbuf_json_str(out, f->license_id, strlen(f->license_id));
        json_str_or_null(out, "hcp_id", f->hcp_id);
        json_int_or_null(out, "worker", f->worker);
        json_str_or_null(out, "error", f->error);
        sbuf_puts(out, ",\"ts\":");
        ts_json(out, f->ts);
        sbuf_putc(out, '}');
    }
    sbuf_putc(out, ']');
    if (history) {
        sbuf_printf(out, ",\"history_step_ms\":%" PRId64 ",\"history\":[", bt->history_step);
        for (size_t i = 0; i < bt->nhistory; i++)
            sbuf_printf(out, "%s[%" PRId64 ",%d,%d]", i ? "," : "", bt->history[i].t,
                        (int)bt->history[i].done, (int)bt->history[i].failed);
        sbuf_putc(out, ']');
    }
    sbuf_putc(out, '}');
}

/* ---- the map of batches ---- */

static batch *batches_find(const batches *b, const char *id)
{
    return hmap_get(&b->map, id);
}

static void batches_lru_unlink(batches *b, batch *bt)
{
    *(bt->lru_prev ? &bt->lru_prev->lru_next : &b->lru_head) = bt->lru_next;
    *(bt->lru_next ? &bt->lru_next->lru_prev : &b->lru_tail) = bt->lru_prev;
    bt->lru_prev = bt->lru_next = NULL;
}

/* Make bt the most recently updated batch. */
static void batches_lru_touch(batches *b, batch *bt)
{
    if (b->lru_tail == bt)
        return;
    if (bt->lru_prev || bt->lru_next || b->lru_head == bt)
        batches_lru_unlink(b, bt);
    bt->lru_prev = b->lru_tail;
    *(b->lru_tail ? &b->lru_tail->lru_next : &b->lru_head) = bt;
    b->lru_tail = bt;
}

/* Take bt out of the map and free it. */
static void batches_remove(batches *b, batch *bt)
{
    hmap_del(&b->map, bt->id);
    batches_lru_unlink(b, bt);
    b->licenses -= hmap_count(&bt->licenses);
    batch_destroy(bt);
}

/* The batch of that id, created when it is new (at max_batches the least
 * recently updated batch makes room). */
static batch *batches_lookup(batches *b, const char *id)
{
    batch *bt = batches_find(b, id);
    if (bt)
        return bt;
    while (hmap_count(&b->map) >= b->cfg.max_batches && b->lru_head) {
        batches_remove(b, b->lru_head);
        b->evicted++;
    }
    bt = batch_create(id);
    hmap_put(&b->map, bt->id, bt);
    batches_lru_touch(b, bt);
    return bt;
}

batches *batches_create(const batches_config *cfg)
{
    batches *b = xcalloc(1, sizeof(*b));
    if (cfg)
        b->cfg = *cfg;
    if (b->cfg.rate_window_ms <= 0)
        b->cfg.rate_window_ms = WINDOW_MS;
    if (b->cfg.max_batches == 0)
        b->cfg.max_batches = BATCHES_MAX;
    hmap_init(&b->map);
    return b;
}

void batches_reset(batches *b)
{
    for (batch *next, *bt = b->lru_head; bt; bt = next) {
        next = bt->lru_next;
        batch_destroy(bt);
    }
    hmap_fini(&b->map);
    b->lru_head = b->lru_tail = NULL;
    b->licenses = 0;
    b->ver_total = 0;
    memset(b->ver_status, 0, sizeof(b->ver_status));
    memset(b->ver_country, 0, sizeof(b->ver_country));
}

void batches_destroy(batches *b)
{
    if (!b)
        return;
    batches_reset(b);
    free(b);
}

size_t batches_count(const batches *b)
{
    return hmap_count(&b->map);
}

uint64_t batches_evicted(const batches *b)
{
    return b->evicted;
}

/* ---- cursors ---- */

/* ---- applying events ---- */

void batches_apply(batches *b, const events_event *ev, uint64_t seq, int64_t wall_ms)
{
    if (ev->type == EVENTS_VERIFICATION) {
        b->ver_total++;
        b->ver_status[ev->status]++;
        b->ver_country[ev->country][ev->status]++;
        return;
    }
    /* wall clock of the event: the stream's, else the event's own time */
    wall_ms = wall_ms > 0 ? clamp_ms(wall_ms) : ev->ts;
    batch *bt = batches_lookup(b, ev->token);
    batches_lru_touch(b, bt);
    bt->seq = seq > bt->seq ? seq : bt->seq;
    bt->seen_ms = max64(bt->seen_ms, wall_ms);
    bt->updated_at = max64(bt->updated_at, ev->ts);
    if (!bt->has_started && ev->ts < bt->started_at)
        bt->started_at = ev->ts;
    bt->total = max64(bt->total, ev->total);

    switch (ev->type) {
    case EVENTS_STARTED:
        bt->workers = max64(bt->workers, ev->workers);
        if (ev->kind) {
            free(bt->kind);
            bt->kind = xstrdup(ev->kind); /* clipped by events_decode */
        }
        if (!bt->has_started)
            bt->started_at = ev->ts;
        bt->has_started = true;
        break;
    case EVENTS_PROGRESS:
        batch_snapshot(bt, ev->done, ev->failed, false);
        break;
    case EVENTS_COMPLETED:
        batch_snapshot(bt, ev->done, ev->failed, true);
        if (!batch_ended(bt)) {
            bt->completed = true;
            bt->completed_at = ev->ts;
            bt->duration_ms = ev->duration_ms;
        }
        break;
    case EVENTS_CANCELLED:
        batch_snapshot(bt, ev->done, ev->failed, false);
        if (!batch_ended(bt)) {
            bt->cancelled = true;
            bt->cancelled_at = ev->ts;
            bt->cancel_reason = ev->reason ? xstrdup(ev->reason) : NULL; /* clipped */
        }
        break;
    case EVENTS_ASSIGNED:
    case EVENTS_FAILED:
        batch_license(b, bt, ev);
        break;
    case EVENTS_VERIFICATION:
        break;
    }
    batch_sample(bt, ev->ts, max64(1, b->cfg.rate_window_ms / 32));
    batch_history(bt, ev->ts);
}

int batches_feed(batches *b, const char *subject, const void *data, size_t len, uint64_t seq,
                 int64_t ts_ms)
{
    events_event ev;
    int rc = events_decode(&ev, subject, data, len, ts_ms, NULL);
    if (rc == EVENTS_NOT_STATE)
        return 0;
    if (rc < 0)
        return rc;
    batches_apply(b, &ev, seq, ts_ms);
    events_clear(&ev);
    return 0;
}

void batches_tick(batches *b, int64_t now_ms)
{
    now_ms = clamp_ms(now_ms);
    for (batch *next, *bt = b->lru_head; bt; bt = next) {
        next = bt->lru_next;
        if (batch_ended(bt) ? now_ms - batch_ended_at(bt) >= b->cfg.retention_ms
                            : b->cfg.idle_ms > 0 && now_ms - bt->seen_ms >= b->cfg.idle_ms)
            batches_remove(b, bt);
    }
}

uint64_t batches_stalled(const batches *b, int64_t now_ms, uint64_t *total)
{
    uint64_t n = 0;
    now_ms = clamp_ms(now_ms);
    hmap_slot *s;
    for (size_t i = 0; (s = hmap_next(&b->map, &i));)
        n += strcmp(batch_state(b, s->value, now_ms), "stalled") == 0;
    *total = hmap_count(&b->map);
    return n;
}

/* ---- JSON views ---- */

/* Where a batch sorts in lists: running and stalled ones (group 0) newest
 * started first, then completed and cancelled ones (group 1) newest ended
 * first, then by id. A cursor is the key of the last batch of a page. */
typedef struct sort_key {
    int group;
    int64_t t;
    const char *id;
} sort_key;

static sort_key batch_key(const batch *bt)
{
    return batch_ended(bt) ? (sort_key){1, batch_ended_at(bt), bt->id}
                           : (sort_key){0, bt->started_at, bt->id};
}

/* Negative, 0 or positive as a sorts before, with or after b (not an error code). */
static int key_cmp(sort_key a, sort_key b)
{
    if (a.group != b.group)
        return a.group < b.group ? -1 : 1;
    if (a.t != b.t)
        return a.t > b.t ? -1 : 1;
    return strcmp(a.id, b.id);
}

/* qsort's comparator over batch pointers (see key_cmp). */
static int batch_cmp(const void *pa, const void *pb)
{
    return key_cmp(batch_key(*(const batch *const *)pa), batch_key(*(const batch *const *)pb));
}

/* "<group>.<t>.<id>": URL-safe; clients treat it as opaque. */
static void cursor_format(const batch *bt, char *out)
{
    sort_key k = batch_key(bt);
    snprintf(out, BATCHES_CURSOR_MAX, "%d.%" PRId64 ".%s", k.group, k.t, k.id);
}

/* Parse a cursor into *k (k->id points into id). */
static int cursor_parse(const char *s, sort_key *k, char id[TOKEN_MAX + 1])
{
    if ((s[0] != '0' && s[0] != '1') || s[1] != '.')
        return -EINVAL;
    k->group = s[0] - '0';
    s += 2;
    int64_t t = 0;
    int ndigits = 0;
    for (; *s >= '0' && *s <= '9'; s++, ndigits++) {
        if (ndigits == 15)
            return -EINVAL; /* past TS_MAX */
        t = t * 10 + (*s - '0');
    }
    if (ndigits == 0 || *s++ != '.')
        return -EINVAL;
    size_t n = 0;
    for (; subject_id_char(*s); s++) {
        if (n == TOKEN_MAX)
            return -EINVAL;
        id[n++] = *s;
    }
    id[n] = '\0';
    if (n == 0 || *s != '\0')
        return -EINVAL;
    k->t = t;
    k->id = id;
    return 0;
}

static unsigned batch_state_bit(const batches *b, const batch *bt, int64_t now_ms)
{
    const char *state = batch_state(b, bt, now_ms);
    return strcmp(state, "completed") == 0   ? BATCHES_COMPLETED
           : strcmp(state, "cancelled") == 0 ? BATCHES_CANCELLED
           : strcmp(state, "stalled") == 0   ? BATCHES_STALLED
                                             : BATCHES_RUNNING;
}

/* Whether id contains s, ignoring ASCII case. */
static bool id_contains(const char *id, const char *s)
{
    size_t n = strlen(s);
    for (; *id; id++) {
        size_t i = 0;
        while (i < n && id[i] && tolower((unsigned char)id[i]) == tolower((unsigned char)s[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

static bool batch_matches(const batches *b, const batch *bt, const batches_query *q, int64_t now_ms)
{
    if (q->filter && !q->filter(q->filter_arg, bt->id))
        return false;
    if (q->search && q->search[0] && !id_contains(bt->id, q->search))
        return false;
    if (q->states == 0)
        return true;
    return (q->states & batch_state_bit(b, bt, now_ms)) ||
           ((q->states & BATCHES_FAILED) && batch_failed(bt) > 0);
}

void batches_list_json(batches *b, int64_t now_ms, batches_filter filter, void *arg, sbuf *out)
{
    size_t count = hmap_count(&b->map);
    batches_query q = {.limit = count ? count : 1, .filter = filter, .filter_arg = arg};
    size_t total;
    char cursor[BATCHES_CURSOR_MAX];
    batches_page_json(b, &q, now_ms, out, &total, cursor);
}

int batches_page_json(batches *b, const batches_query *q, int64_t now_ms, sbuf *out, size_t *total,
                      char *next_cursor)
{
    char after_id[TOKEN_MAX + 1];
    sort_key after = {0, 0, NULL};
    bool has_after = q->cursor && q->cursor[0];
    if (has_after && cursor_parse(q->cursor, &after, after_id) < 0)
        return -EINVAL;
    now_ms = clamp_ms(now_ms);
    batch **page = xmalloc((hmap_count(&b->map) + 1) * sizeof(batch *));
    size_t n = 0;
    *total = 0;
    for (batch *bt = b->lru_head; bt; bt = bt->lru_next) {
        if (!batch_matches(b, bt, q, now_ms))
            continue;
        ++*total;
        if (!has_after || key_cmp(batch_key(bt), after) > 0)
            page[n++] = bt;
    }
    qsort(page, n, sizeof(batch *), batch_cmp);
    size_t limit = q->limit ? q->limit : 1, m = n < limit ? n : limit;
    sbuf_putc(out, '[');
    for (size_t i = 0; i < m; i++) {
        if (i)
            sbuf_putc(out, ',');
        batch_json(b, page[i], now_ms, false, out);
    }
    sbuf_putc(out, ']');
    next_cursor[0] = '\0';
    if (n > m)
        cursor_format(page[m - 1], next_cursor);
    free(page);
    return 0;
}

void batches_summary_json(batches *b, int64_t now_ms, batches_filter filter, void *arg, sbuf *out)
{
    int64_t running = 0, stalled = 0, completed = 0, cancelled = 0, done = 0, failed = 0;
    size_t shown = 0;
    double rate = 0, eta = -1;
    now_ms = clamp_ms(now_ms);
    for (batch *bt = b->lru_head; bt; bt = bt->lru_next) {
        if (filter && !filter(arg, bt->id))
            continue;
        shown++;
        unsigned state = batch_state_bit(b, bt, now_ms);
        done += batch_done(bt);
        failed += batch_failed(bt);
        completed += state == BATCHES_COMPLETED;
        cancelled += state == BATCHES_CANCELLED;
        stalled += state == BATCHES_STALLED;
        if (state != BATCHES_RUNNING)
            continue;
        running++;
        double r = batch_rate(bt, b->cfg.rate_window_ms);
        int64_t remaining = bt->total - (batch_done(bt) + batch_failed(bt));
        rate += r;
        if (bt->total >= 0 && r > 0 && (double)max64(0, remaining) / r > eta)
            eta = (double)max64(0, remaining) / r;
    }
    sbuf_printf(out,
                "{\"batches\":%zu,\"running\":%" PRId64 ",\"stalled\":%" PRId64
                ",\"completed\":%" PRId64 ",\"cancelled\":%" PRId64 ",\"done\":%" PRId64
                ",\"failed\":%" PRId64 ",\"rate\":%.2f",
                shown, running, stalled, completed, cancelled, done, failed, rate);
    if (eta < 0)
        sbuf_puts(out, ",\"eta_s\":null");
    else
        sbuf_printf(out, ",\"eta_s\":%.1f", eta);
    sbuf_printf(out, ",\"max_batches\":%zu,\"evicted\":%" PRIu64 "}", b->cfg.max_batches,
                b->evicted);
}

int batches_get_json(batches *b, const char *id, int64_t now_ms, batches_filter filter, void *arg,
                     sbuf *out)
{
    batch *bt = id ? batches_find(b, id) : NULL;
    if (!bt || (filter && !filter(arg, bt->id)))
        return -ENOENT;
    batch_json(b, bt, clamp_ms(now_ms), true, out);
    return 0;
}

/* Is country c (an index into ver_country) shown through filter? */
static bool batches_country_shown(int c, batches_filter filter, void *arg)
{
    char cc[3] = {(char)('A' + c / 26), (char)('A' + c % 26), '\0'};
    return !filter || filter(arg, cc);
}

void batches_verifications_json(batches *b, batches_filter filter, void *arg, sbuf *out)
{
    int64_t total = b->ver_total, by_status[ST_COUNT];
    memcpy(by_status, b->ver_status, sizeof(by_status));
    if (filter) { /* only what the shown countries add up to */
        total = 0;
        memset(by_status, 0, sizeof(by_status));
        for (int c = 0; c < 26 * 26; c++) {
            const int64_t *n = b->ver_country[c];
            if (n[ST_VERIFIED] + n[ST_REJECTED] + n[ST_PENDING] == 0 ||
                !batches_country_shown(c, filter, arg))
                continue;
            for (int s = 0; s < ST_COUNT; s++) {
                total += n[s];
                by_status[s] += n[s];
            }
        }
    }
    sbuf_printf(out, "{\"total\":%" PRId64 ",\"by_status\":{", total);
    for (int s = 0; s < ST_COUNT; s++)
        sbuf_printf(out, "%s\"%s\":%" PRId64, s ? "," : "", events_status_name(s), by_status[s]);
    sbuf_puts(out, "},\"by_country\":{");
    bool first = true;
    for (int c = 0; c < 26 * 26; c++) {
        const int64_t *n = b->ver_country[c];
        if (n[ST_VERIFIED] + n[ST_REJECTED] + n[ST_PENDING] == 0 ||
            !batches_country_shown(c, filter, arg))
            continue;
        sbuf_printf(out, "%s\"%c%c\":{", first ? "" : ",", 'A' + c / 26, 'A' + c % 26);
        for (int s = 0; s < ST_COUNT; s++)
            sbuf_printf(out, "%s\"%s\":%" PRId64, s ? "," : "", events_status_name(s), n[s]);
        sbuf_putc(out, '}');
        first = false;
    }
    sbuf_puts(out, "}}");
}
