/* hub.c: the event path on the service thread: inbox -> state -> ring -> index -> queues. */
#include "wsgate/hub.h"

#include "wsgate/clock.h"
#include "wsgate/conn.h"
#include "wsgate/cpus.h"
#include "wsgate/failures.h"
#include "wsgate/http.h"
#include "wsgate/log.h"
#include "wsgate/metrics.h"
#include "wsgate/pmd.h"
#include "wsgate/replay.h"
#include "wsgate/xmalloc.h"
#include "wsgate/zgroup.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>

#define HUB_FD_RESERVE    128 /* open files kept for NATS, HTTP requests, logs */
#define HUB_BAD_LOG_PER_S 10  /* warn lines about refused events a second; the rest counted */

/* --threads, or the CPUs this process may use (affinity and cgroup quota).
 * A round's sends wait for the slowest sender: on a host where the gateway
 * shares its cores with other busy work, fewer senders than CPUs can give a
 * lower p99 (docs/benchmarks.md). */
static int hub_threads(const wsg_config *cfg)
{
    return cfg->threads > 0 ? cfg->threads : cpus_usable();
}

int hub_init(hub *h, const wsg_config *cfg, char *err, size_t errlen)
{
    memset(h, 0, sizeof(*h));
    h->cfg = cfg;
    h->thread = pthread_self();
    if (cfg->jwt_secret || cfg->jwt_public_key) {
        h->auth = auth_create(cfg->jwt_secret, cfg->jwt_public_key, err, errlen);
        if (!h->auth)
            return -EINVAL; /* err says why */
        auth_set_policy(h->auth,
                        &(auth_policy){cfg->jwt_audience, cfg->jwt_issuer, cfg->jwt_es256_low_s});
    }
    /* Without --max-conns, refuse clients (503) a little before the open-file
     * limit: past it accept() fails and a client would just hang. */
    struct rlimit rl;
    h->max_conns = cfg->max_conns > 0 ? cfg->max_conns : INT64_MAX;
    if (cfg->max_conns <= 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur > HUB_FD_RESERVE * 2)
        h->max_conns = (int64_t)rl.rlim_cur - HUB_FD_RESERVE;
    h->round = conn_round_create(hub_threads(cfg));
    if (!h->round) {
        snprintf(err, errlen, "cannot start %d sender threads", hub_threads(cfg));
        auth_destroy(h->auth);
        h->auth = NULL;
        return -EAGAIN;
    }
    metrics.send_threads = conn_round_threads(h->round);
    h->subs = sublist_create();
    h->ring = ring_create(cfg->ring_msgs, cfg->ring_bytes);
    h->lv = lastvalue_create(cfg->last_value, cfg->last_value_count);
    batches_config bc = {.stall_ms = cfg->batch_stall_ms,
                         .retention_ms = cfg->batch_retention_ms,
                         .idle_ms = cfg->batch_idle_ms,
                         .max_batches = (size_t)cfg->max_batches};
    h->batches = batches_create(&bc);
    ratelimit_init(&h->bad_log, HUB_BAD_LOG_PER_S, 1000);
    zgroups_limits zl = {.min_bytes = cfg->compression_min,
                         .max_groups = cfg->compression_groups,
                         .level = cfg->compression_level,
                         .mem_level = cfg->compression_mem_level};
    h->zg = zgroups_create(&zl);
    h->replay_set = replay_set_create();
    return 0;
}

int hub_reload_auth(hub *h)
{
    const wsg_config *cfg = h->cfg;
    char err[512] = "";
    if (!h->auth) {
        log_event(LOG_INFO, "jwt_keys_not_reloaded", "s:reason", "JWT auth is off", NULL);
        return -ENOENT;
    }
    auth *a = auth_create(cfg->jwt_secret, cfg->jwt_public_key, err, sizeof(err));
    if (!a) {
        log_event(LOG_ERROR, "jwt_keys_reload_failed", "s:error", err, "s:kept", "the old keys",
                  NULL);
        return -EINVAL;
    }
    auth_set_policy(a, &(auth_policy){cfg->jwt_audience, cfg->jwt_issuer, cfg->jwt_es256_low_s});
    auth_destroy(h->auth); /* connections keep their own copy of their claims */
    h->auth = a;
    log_event(LOG_INFO, "jwt_keys_reloaded", "u:keys", (unsigned long long)auth_key_count(a), NULL);
    return 0;
}

void hub_fini(hub *h)
{
    for (nb_event *ev = h->backlog, *next; ev; ev = next) {
        next = ev->next;
        nats_bridge_event_free(ev);
    }
    while (h->conns) /* normally empty: lws closed them all */
        conn_destroy(h->conns);
    replay_fini(h);
    failures_fini(h);
    zgroups_destroy(h->zg);
    h->zg = NULL;
    pmd_fini();
    conn_round_destroy(h->round);
    batches_destroy(h->batches);
    lastvalue_destroy(h->lv);
    ring_destroy(h->ring);
    sublist_destroy(h->subs);
    auth_destroy(h->auth);
    http_files_destroy(h->files);
}

bool hub_ready(const hub *h, const char **why)
{
    const char *reason = NULL;
    if (h->draining)
        reason = "draining";
    else if (!h->nats_connected)
        reason = "nats disconnected";
    else if (!h->attached)
        reason = "stream not attached";
    else if (h->last_seq < h->stream_last_seq)
        reason = "catching up with the stream";
    if (why)
        *why = reason;
    return reason == NULL;
}

/* A new stream epoch: everything remembered belongs to the old stream. */
static void hub_reset_stream(hub *h, const char *epoch)
{
    if (h->epoch[0])
        log_event(LOG_WARN, "stream_reset", "s:old_epoch", h->epoch, "s:epoch", epoch, NULL);
    snprintf(h->epoch, sizeof(h->epoch), "%s", epoch);
    h->last_seq = 0;
    ring_clear(h->ring);
    lastvalue_clear(h->lv);
    batches_reset(h->batches);
}

static void hub_on_state(hub *h, const nb_event *ev)
{
    bool was_ready = hub_ready(h, NULL);
    h->nats_connected = ev->connected;
    h->attached = ev->attached;
    if (ev->attached) {
        if (strcmp(h->epoch, ev->epoch) != 0)
            hub_reset_stream(h, ev->epoch);
        h->stream_last_seq = ev->last_seq;
        snprintf(h->stream_warning, sizeof(h->stream_warning), "%s", ev->warning);
    }
    metrics.nats_connected = ev->connected;
    if (was_ready != hub_ready(h, NULL))
        log_event(LOG_INFO, "ready_changed", "b:ready", !was_ready, NULL);
    h->started = h->started || hub_ready(h, NULL);
}

static bool hub_dispatch(hub *h);

/* A stored event batch state refused (events_decode said why): counted by
 * reason, and a warn line with the subject, seq, field and reason, at most
 * HUB_BAD_LOG_PER_S a second (hub_tick reports how many were left out). */
static void hub_bad_event(hub *h, const wsg_frame *f, const events_reject *why)
{
    const char *reason = events_reason_name(why->reason);
    if (!reason)
        return; /* not a refusal events_decode makes */
    metrics.bad_events[why->reason]++;
    if (ratelimit_allow(&h->bad_log, clock_mono_ns() / 1000000))
        log_event(LOG_WARN, "bad_event", "s:subject", f->subject, "u:seq",
                  (unsigned long long)f->seq, "s:reason", reason, "s:field", why->field, NULL);
}

/* The path of one event: state, memory, then every matching connection. */
static void hub_on_msg(hub *h, nb_event *ev)
{
    if (!ev->frame) { /* an invalid subject (nats_bridge.c): only the stream position moves */
        if (ev->seq > h->last_seq) {
            if (ev->seq != h->last_seq + 1)
                ring_clear(h->ring); /* as below: the ring holds only runs without a gap */
            h->last_seq = metrics.stream_last_seq = ev->seq;
            metrics.invalid_subjects++;
            log_event(LOG_DEBUG, "invalid_subject", "u:seq", (unsigned long long)ev->seq, NULL);
            h->started = h->started || hub_ready(h, NULL);
        }
        return;
    }
    wsg_frame *f = ev->frame;
    if (f->seq <= h->last_seq)
        return; /* seen already (a consumer was recreated) */
    bool was_ready = hub_ready(h, NULL);
    if (f->seq != h->last_seq + 1)
        ring_clear(
            h->ring); /* a gap (discarded by stream limits): the ring holds only runs without one */
    h->last_seq = f->seq;
    metrics.messages_received++;
    metrics.stream_last_seq = f->seq;
    f->recv_ns = clock_mono_ns();
    f->stored_age_ns = metrics_stored_age(f->stored_ns); /* one clock read per event */
    if (ev->event_rc == 0) {
        batches_apply(h->batches, &ev->event, f->seq, ev->ts_ms);
    } else if (ev->event_rc != EVENTS_NOT_STATE) {
        hub_bad_event(h, f, &ev->reject); /* still delivered: clients get what was published */
    }
    f->lastvalue = lastvalue_is(h->lv, f->subject);
    if (f->lastvalue)
        lastvalue_put(h->lv, f);
    ring_push(h->ring, f);

    const sublist_result *r = sublist_match(h->subs, f->subject);
    uint64_t gen = ++h->fanout_gen;
    for (size_t i = 0; i < r->count; i++)
        conn_deliver(r->owners[i], f, gen);
    if (!was_ready && hub_ready(h, NULL)) {
        log_event(LOG_INFO, "ready_changed", "b:ready", 1, "u:seq", (unsigned long long)f->seq,
                  NULL);
        h->started = true;
    }
}

bool hub_poll(hub *h)
{
    HUB_ON_SERVICE_THREAD(h);
    if (!h->bridge)
        return false;
    conn_round_begin(h->round);
    bool more = hub_dispatch(h);
    conn_round_end(h->round);
    return more;
}

/* Apply a slice of the inbox (see hub_poll). */
static bool hub_dispatch(hub *h)
{
    /* A bounded slice per call, so the loop writes to sockets between slices
     * of a large burst instead of queueing all of it first. The inbox is
     * looked at whenever the backlog runs dry: a wake-up that arrived while
     * an older backlog was being applied must not be lost. */
    size_t bytes = 0; /* a slice brings a keeping-up client at most half its queue bound */
    for (int budget = HUB_POLL_BUDGET; budget > 0 && bytes < h->cfg->queue_bytes / 2; budget--) {
        if (!h->backlog && !(h->backlog = nats_bridge_take(h->bridge)))
            return false;
        nb_event *ev = h->backlog;
        h->backlog = ev->next;
        switch (ev->kind) {
        case NB_MSG:
            bytes += ev->frame ? ev->frame->len : 0;
            hub_on_msg(h, ev);
            break;
        case NB_STATE:
            hub_on_state(h, ev);
            break;
        case NB_REPLAY_MSG:
        case NB_REPLAY_END:
            if (!failures_on_event(h, ev))
                replay_on_event(h, ev);
            break;
        }
        nats_bridge_event_free(ev);
    }
    return true; /* the caller comes back for the rest */
}

void hub_shutdown(hub *h)
{
    if (h->draining)
        return;
    h->draining = true;
    h->drain_deadline_ms = clock_now_ms() + h->cfg->shutdown_timeout_ms;
    log_event(LOG_INFO, "shutdown", "i:connections", (int)metrics.connections, NULL);
    for (conn *c = h->conns; c; c = conn_next(c))
        conn_close(c, 1001, "server shutting down", false);
    if (!h->conns)
        h->done = true;
}

void hub_tick(hub *h, int64_t now_ms)
{
    HUB_ON_SERVICE_THREAD(h);
    batches_tick(h->batches, now_ms);
    failures_tick(h, now_ms);
    uint64_t suppressed = ratelimit_suppressed(&h->bad_log, clock_mono_ns() / 1000000);
    if (suppressed)
        log_event(LOG_WARN, "bad_events_suppressed", "u:count", (unsigned long long)suppressed,
                  NULL);
    metrics.ready = hub_ready(h, NULL);
    metrics.batches_stalled = batches_stalled(h->batches, now_ms, &metrics.batches);
    metrics_tick(now_ms);
    for (conn *c = h->conns; c; c = conn_next(c))
        conn_tick(c, now_ms);
    if (h->draining && (!h->conns || now_ms >= h->drain_deadline_ms))
        h->done = true;
}
