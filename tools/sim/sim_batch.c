/* sim_batch.c: a batch of license assignments worked by parallel workers, and its events. */
#include "sim_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_clock.h"
#include "wsgate/sbuf.h"
#include "wsgate/xmalloc.h"

#define SIM_BATCH_MEAN_MS     5400.0  /* one assignment at --speed 1 (1000 x 5.4 s / 15 = 6 min) */
#define SIM_BATCH_SPREAD      0.5     /* log-normal sigma: most near the mean, some slow */
#define SIM_BATCH_MAX_MS      60000.0 /* nobody takes longer than a minute */
#define SIM_BATCH_RAMP_MS     1000.0  /* workers pick their first assignment within 1 s */
#define SIM_BATCH_PROGRESS_MS 500.0   /* at most one progress event per 500 ms of sim time */

void sim_batch_init(struct sim_batch *b, int index, struct sim_env *env)
{
    const struct sim_opts *o = env->opts;
    *b = (struct sim_batch){0};
    snprintf(b->id, sizeof b->id, "%s-%d", o->prefix, index + 1);
    b->index = index;
    b->total = o->size;
    b->workers = o->workers;
    b->license_base = 1 + sim_rand_below(&env->rng, 500000);
    b->tasks = xcalloc((size_t)o->workers, sizeof *b->tasks);
}

void sim_batch_free(struct sim_batch *b)
{
    free(b->tasks);
    b->tasks = NULL;
}

int sim_batch_processed(const struct sim_batch *b)
{
    return b->done + b->failed;
}

bool sim_batch_completed(const struct sim_batch *b)
{
    return b->end_us != 0;
}

/* Simulated milliseconds -> real microseconds at the current speed. */
static int64_t sim_batch_real_us(const struct sim_env *env, double sim_ms)
{
    return (int64_t)(sim_ms * 1000.0 / env->opts->speed);
}

/* Hand the next assignment to `worker`, starting at begin_us, and schedule its end. */
static void sim_batch_assign(struct sim_batch *b, struct sim_env *env, int worker, int64_t begin_us)
{
    struct sim_task *t = &b->tasks[worker];
    t->begin_us = begin_us;
    t->license = b->license_base + (unsigned)b->assigned++;
    t->failure =
        sim_rand_chance(&env->rng, env->opts->fail_rate) ? sim_data_failure(&env->rng) : NULL;
    double ms = sim_rand_lognormal(&env->rng, SIM_BATCH_MEAN_MS, SIM_BATCH_SPREAD);
    if (ms > SIM_BATCH_MAX_MS)
        ms = SIM_BATCH_MAX_MS;
    if (t->failure)
        ms = t->failure->fixed_ms > 0 ? t->failure->fixed_ms : ms * t->failure->factor;

    struct sim_heap_item item = {.kind = SIM_HEAP_WORKER, .batch = b->index, .worker = worker};
    item.due_us = begin_us + sim_batch_real_us(env, ms);
    sim_heap_push(&env->heap, item);
}

/* Publish the JSON object in `payload` (left open: the "ts" field and the
 * closing brace are added here) on "<kind>.<batch id>.<event>". Returns what
 * sim_publish_send returns (0 or -EINTR); so do the sim_batch_emit_* below. */
static int sim_batch_emit(struct sim_batch *b, struct sim_env *env, const char *kind,
                          const char *event, sbuf *payload)
{
    char subject[128], ts[SIM_CLOCK_TS_LEN];
    snprintf(subject, sizeof subject, "%s.%s.%s", kind, b->id, event);
    sim_clock_ts(ts);
    sbuf_printf(payload, ",\"ts\":\"%s\"}", ts);
    int r = sim_publish_send(env->pub, subject, sbuf_str(payload), payload->len);
    sbuf_free(payload);
    return r;
}

/* Start a payload with {"batch_id":"<id>" (the emitter closes it). */
static void sim_batch_payload(sbuf *payload, const struct sim_batch *b)
{
    sbuf_init(payload, 0);
    sbuf_puts(payload, "{\"batch_id\":");
    sbuf_json_str(payload, b->id, strlen(b->id));
}

static int sim_batch_emit_started(struct sim_batch *b, struct sim_env *env)
{
    sbuf p;
    sim_batch_payload(&p, b);
    sbuf_printf(&p, ",\"total\":%d,\"workers\":%d,\"kind\":\"license_assignment\"", b->total,
                b->workers);
    return sim_batch_emit(b, env, "batch", "started", &p);
}

static int sim_batch_emit_progress(struct sim_batch *b, struct sim_env *env)
{
    sbuf p;
    sim_batch_payload(&p, b);
    sbuf_printf(&p, ",\"total\":%d,\"done\":%d,\"failed\":%d", b->total, b->done, b->failed);
    return sim_batch_emit(b, env, "batch", "progress", &p);
}

static int sim_batch_emit_completed(struct sim_batch *b, struct sim_env *env)
{
    sbuf p;
    sim_batch_payload(&p, b);
    sbuf_printf(&p, ",\"total\":%d,\"done\":%d,\"failed\":%d,\"duration_ms\":%lld", b->total,
                b->done, b->failed, (long long)((b->end_us - b->start_us) / 1000));
    return sim_batch_emit(b, env, "batch", "completed", &p);
}

/* license.<batch>.assigned or .failed for the task `worker` just finished. */
static int sim_batch_emit_license(struct sim_batch *b, struct sim_env *env, int worker,
                                  int64_t due_us)
{
    const struct sim_task *t = &b->tasks[worker];
    const struct sim_country *c = sim_data_country(&env->rng);
    const char *product = sim_data_product(&env->rng);
    char license[24], hcp[32];
    sim_data_license_id(license, sizeof license, t->license);
    sim_data_hcp_id(hcp, sizeof hcp, c->code, &env->rng);

    sbuf p;
    sim_batch_payload(&p, b);
    sbuf_printf(&p, ",\"license_id\":\"%s\",\"hcp_id\":\"%s\",\"product\":", license, hcp);
    sbuf_json_str(&p, product, strlen(product));
    sbuf_printf(&p, ",\"worker\":%d,\"duration_ms\":%lld", worker,
                (long long)((due_us - t->begin_us) / 1000));
    if (t->failure) {
        sbuf_puts(&p, ",\"error\":");
        sbuf_json_str(&p, t->failure->text, strlen(t->failure->text));
    }
    return sim_batch_emit(b, env, "license", t->failure ? "failed" : "assigned", &p);
}

int sim_batch_start(struct sim_batch *b, struct sim_env *env, int64_t now_us)
{
    b->start_us = b->last_progress_us = now_us;
    sim_rate_init(&b->rate, now_us);
    int rc = sim_batch_emit_started(b, env);
    if (rc != 0)
        return rc;
    for (int w = 0; w < b->workers && b->assigned < b->total; w++) {
        double ramp_ms = sim_rand_unit(&env->rng) * SIM_BATCH_RAMP_MS;
        sim_batch_assign(b, env, w, now_us + sim_batch_real_us(env, ramp_ms));
    }
    return 0;
}

int sim_batch_finish(struct sim_batch *b, struct sim_env *env, int worker, int64_t due_us)
{
    enum sim_mode mode = env->opts->mode;
    if (b->tasks[worker].failure)
        b->failed++;
    else
        b->done++;
    sim_rate_update(&b->rate, due_us, (uint64_t)sim_batch_processed(b));
    int rc = mode != SIM_MODE_PROGRESS ? sim_batch_emit_license(b, env, worker, due_us) : 0;
    if (rc != 0)
        return rc;
    if (b->assigned < b->total)
        sim_batch_assign(b, env, worker, due_us);

    bool last = sim_batch_processed(b) == b->total;
    double since_ms = (double)(due_us - b->last_progress_us) / 1000.0 * env->opts->speed;
    if (mode != SIM_MODE_LICENSE && (last || since_ms >= SIM_BATCH_PROGRESS_MS)) {
        b->last_progress_us = due_us;
        if ((rc = sim_batch_emit_progress(b, env)) != 0)
            return rc;
    }
    if (!last)
        return 0;
    b->end_us = due_us;
    return sim_batch_emit_completed(b, env);
}
