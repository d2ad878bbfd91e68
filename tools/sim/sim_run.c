/* sim_run.c: the event loop: pop what is due, publish it, sleep until the next. */
#include "sim_run.h"

#include <stdlib.h>

#include "sim_batch.h"
#include "sim_clock.h"
#include "sim_env.h"
#include "sim_signal.h"
#include "sim_term.h"
#include "sim_verify.h"
#include "wsgate/sbuf.h"
#include "wsgate/xmalloc.h"

#define SIM_RUN_MAX_SLEEP_US 100000 /* wake at least every 100 ms: redraw, notice Ctrl-C */

struct sim_run {
    const struct sim_opts *opts;
    struct sim_env env;
    struct sim_batch *batches;
    struct sim_verify verify;
    struct sim_term_view view;
    int64_t end_of_duration_us; /* --duration, as a monotonic time; 0 when unset */
};

/* Done when every batch has completed and --duration (if any) has passed.
 * Without batches and without --duration, the run goes on until interrupted. */
static bool sim_run_finished(const struct sim_run *r, int64_t now_us)
{
    for (int i = 0; i < r->opts->batches; i++)
        if (!sim_batch_completed(&r->batches[i]))
            return false;
    if (r->end_of_duration_us)
        return now_us >= r->end_of_duration_us;
    return r->opts->batches > 0;
}

/* Carry out one scheduled item; returns 0, or -EINTR if publishing was interrupted. */
static int sim_run_dispatch(struct sim_run *r, const struct sim_heap_item *item)
{
    if (item->kind == SIM_HEAP_VERIFICATION)
        return sim_verify_fire(&r->verify, &r->env, item->due_us);
    return sim_batch_finish(&r->batches[item->batch], &r->env, item->worker, item->due_us);
}

/* Say what is about to be published. */
static void sim_run_announce(const struct sim_opts *o)
{
    sbuf what;
    sbuf_init(&what, 0);
    if (o->batches > 0)
        sbuf_printf(&what, "%d batch%s of %d assignments (%d workers, speed %g, mode %s)",
                    o->batches, o->batches == 1 ? "" : "es", o->size, o->workers, o->speed,
                    sim_opts_mode_name(o->mode));
    if (o->verifications > 0)
        sbuf_printf(&what, "%s%g verifications/s", o->batches > 0 ? " and " : "", o->verifications);
    if (o->duration > 0)
        sbuf_printf(&what, " for at least %g s", o->duration);
    sim_term_note("publishing %s to stream %s", sbuf_str(&what), o->stream);
    sbuf_free(&what);
}

/* Start everything at now_us; returns 0, or -EINTR if interrupted. */
static int sim_run_start(struct sim_run *r, int64_t now_us)
{
    const struct sim_opts *o = r->opts;
    sim_run_announce(o);
    for (int i = 0; i < o->batches; i++) {
        int rc = sim_batch_start(&r->batches[i], &r->env, now_us);
        if (rc != 0)
            return rc;
    }
    sim_verify_start(&r->verify, &r->env, now_us);
    return 0;
}

/* The loop itself; returns true when it ran to the end, false when interrupted. */
static bool sim_run_loop(struct sim_run *r)
{
    for (;;) {
        int64_t now = sim_clock_now_us();
        r->view.now_us = now;
        r->view.connected = sim_publish_connected(r->env.pub);
        sim_term_progress(&r->view, false);
        if (sim_signal_stopping())
            return false;
        if (sim_run_finished(r, now))
            return true;

        const struct sim_heap_item *next = sim_heap_peek(&r->env.heap);
        if (next && next->due_us <= now) {
            struct sim_heap_item item;
            sim_heap_pop(&r->env.heap, &item);
            if (sim_run_dispatch(r, &item) != 0)
                return false;
            continue;
        }
        int64_t wait = next ? next->due_us - now : SIM_RUN_MAX_SLEEP_US;
        sim_clock_sleep_us(wait < SIM_RUN_MAX_SLEEP_US ? wait : SIM_RUN_MAX_SLEEP_US);
    }
}

int sim_run(const struct sim_opts *o, struct sim_publish *pub)
{
    struct sim_run r = {.opts = o};
    r.env.opts = o;
    r.env.pub = pub;
    sim_rand_seed(&r.env.rng, o->seed);
    sim_heap_init(&r.env.heap);
    r.batches = xcalloc(o->batches ? (size_t)o->batches : 1, sizeof *r.batches);
    for (int i = 0; i < o->batches; i++)
        sim_batch_init(&r.batches[i], i, &r.env);
    sim_verify_init(&r.verify, o->verifications);

    int64_t start = sim_clock_now_us();
    if (o->duration > 0)
        r.end_of_duration_us = start + (int64_t)(o->duration * 1e6);
    r.view = (struct sim_term_view){.batches = r.batches,
                                    .nbatches = o->batches,
                                    .verify = &r.verify,
                                    .start_us = start,
                                    .now_us = start,
                                    .connected = true};

    bool complete = sim_run_start(&r, start) == 0;
    sim_term_progress(&r.view, true); /* the first block at once */
    complete = complete && sim_run_loop(&r);
    r.view.now_us = sim_clock_now_us();
    sim_term_progress(&r.view, true);
    sim_term_summary(&r.view, pub->published, pub->retries, o->seed, !complete);

    /* Verifications only, without --duration: Ctrl-C is the normal way to end. */
    bool normal_end = complete || (o->batches == 0 && o->duration <= 0);
    for (int i = 0; i < o->batches; i++)
        sim_batch_free(&r.batches[i]);
    free(r.batches);
    sim_heap_free(&r.env.heap);
    return normal_end ? 0 : 130;
}
