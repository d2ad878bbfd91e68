/* sim_verify.c: verification.<country>.<status> events at a steady random rate. */
#include "sim_verify.h"

#include <stdio.h>
#include <string.h>

#include "sim_clock.h"
#include "wsgate/sbuf.h"

void sim_verify_init(struct sim_verify *v, double rate)
{
    memset(v, 0, sizeof *v);
    v->rate = rate;
}

/* Schedule the next verification a random gap after `after_us`. */
static void sim_verify_schedule(struct sim_verify *v, struct sim_env *env, int64_t after_us)
{
    double gap_s = sim_rand_exponential(&env->rng, 1.0 / v->rate);
    struct sim_heap_item item = {.kind = SIM_HEAP_VERIFICATION};
    item.due_us = after_us + (int64_t)(gap_s * 1e6);
    sim_heap_push(&env->heap, item);
}

void sim_verify_start(struct sim_verify *v, struct sim_env *env, int64_t now_us)
{
    sim_rate_init(&v->meter, now_us);
    if (v->rate > 0)
        sim_verify_schedule(v, env, now_us);
}

int sim_verify_fire(struct sim_verify *v, struct sim_env *env, int64_t due_us)
{
    const struct sim_country *c = sim_data_country(&env->rng);
    int status = sim_data_status(&env->rng);
    const char *status_name = sim_data_status_name(status);
    char hcp[32], ts[SIM_CLOCK_TS_LEN], subject[64];
    sim_data_hcp_id(hcp, sizeof hcp, c->code, &env->rng);
    sim_clock_ts(ts);
    snprintf(subject, sizeof subject, "verification.%s.%s", c->code, status_name);

    sbuf p;
    sbuf_init(&p, 0);
    sbuf_printf(&p, "{\"hcp_id\":\"%s\",\"country\":\"%s\",\"status\":\"%s\",\"source\":", hcp,
                c->code, status_name);
    sbuf_json_str(&p, c->source, strlen(c->source));
    sbuf_printf(&p, ",\"ts\":\"%s\"}", ts);
    int r = sim_publish_send(env->pub, subject, sbuf_str(&p), p.len);
    sbuf_free(&p);
    if (r != 0)
        return r;

    v->count++;
    v->by_status[status]++;
    sim_rate_update(&v->meter, due_us, v->count);
    sim_verify_schedule(v, env, due_us);
    return 0;
}
