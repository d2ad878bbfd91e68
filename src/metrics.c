/* metrics.c: counters and the latency histograms in Prometheus text format (see metrics.h). */
#include "wsgate/metrics.h"

#include <string.h>
#include <time.h>

wsg_metrics metrics;

static const double metrics_bounds[METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

#define METRICS_SNAP_EVERY_MS 5000

/* The bucket of a latency: the first bound it does not exceed, else +Inf. */
static int metrics_bucket(double seconds)
{
    int i = 0;
    while (i < METRICS_BUCKETS && seconds > metrics_bounds[i])
        i++;
    return i;
}

/* Add one observation to a histogram (its buckets, sum and count). */
static void metrics_observe(uint64_t *buckets, double *sum, uint64_t *count, double seconds)
{
    buckets[metrics_bucket(seconds)]++;
    *sum += seconds;
    (*count)++;
}

void metrics_latency_observe(double seconds)
{
    metrics_observe(metrics.latency_buckets, &metrics.latency_sum, &metrics.latency_count, seconds);
}

int64_t metrics_stored_age(int64_t stored_ns)
{
    if (stored_ns <= 0)
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t d = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - stored_ns;
    return d > 0 ? d : 0;
}

void metrics_stored_observe(int64_t age_ns)
{
    if (age_ns < 0)
        return;
    metrics_observe(metrics.stored_buckets, &metrics.stored_sum, &metrics.stored_count,
                    (double)age_ns / 1e9);
}

void metrics_tick(int64_t now_ms)
{
    if (metrics.nsnaps) {
        int newest = (metrics.snap_next + METRICS_SNAPS - 1) % METRICS_SNAPS;
        if (now_ms - metrics.snaps[newest].at_ms < METRICS_SNAP_EVERY_MS)
            return;
    }
    metrics_snap *s = &metrics.snaps[metrics.snap_next];
    s->at_ms = now_ms;
    memcpy(s->latency, metrics.latency_buckets, sizeof(s->latency));
    memcpy(s->stored, metrics.stored_buckets, sizeof(s->stored));
    metrics.snap_next = (metrics.snap_next + 1) % METRICS_SNAPS;
    if (metrics.nsnaps < METRICS_SNAPS)
        metrics.nsnaps++;
}

double metrics_quantile(const uint64_t *counts, double q)
{
    uint64_t total = 0;
    for (int i = 0; i <= METRICS_BUCKETS; i++)
        total += counts[i];
    if (total == 0)
        return -1;
    double rank = q * (double)total, below = 0;
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        if (below + (double)counts[i] >= rank && counts[i] > 0) {
            double lo = i ? metrics_bounds[i - 1] : 0;
            return lo + (metrics_bounds[i] - lo) * (rank - below) / (double)counts[i];
        }
        below += (double)counts[i];
    }
    return metrics_bounds[METRICS_BUCKETS - 1];
}

/* "name":{"count":N,"p50":x,"p99":y} for the counts now minus those of base. */
static void metrics_stats_one(sbuf *out, const char *name, const uint64_t *now,
                              const uint64_t *base)
{
    uint64_t d[METRICS_BUCKETS + 1], n = 0;
    for (int i = 0; i <= METRICS_BUCKETS; i++) {
        d[i] = base && base[i] <= now[i] ? now[i] - base[i] : now[i];
        n += d[i];
    }
    sbuf_printf(out, "\"%s\":{\"count\":%llu", name, (unsigned long long)n);
    static const struct {
        const char *key;
        double q;
    } qs[] = {{"p50", 0.5}, {"p99", 0.99}};
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        double v = metrics_quantile(d, qs[k].q);
        if (v < 0)
            sbuf_printf(out, ",\"%s\":null", qs[k].key);
        else
            sbuf_printf(out, ",\"%s\":%.6f", qs[k].key, v);
    }
    sbuf_putc(out, '}');
}

/* ,"compression":{...}: what permessage-deflate saved since the start. */
static void metrics_stats_compression(sbuf *out)
{
    const wsg_metrics *m = &metrics;
    sbuf_printf(out,
                ",\"compression\":{\"connections\":%lld,\"groups\":%lld,\"members\":%lld,"
                "\"bytes_sent\":%llu,\"deflate_in_bytes\":%llu,\"deflate_out_bytes\":%llu,"
                "\"saved\":",
                (long long)m->compressed_connections, (long long)m->deflate_groups,
                (long long)m->deflate_members, (unsigned long long)m->bytes_sent,
                (unsigned long long)m->deflate_in_bytes, (unsigned long long)m->deflate_out_bytes);
    /* of everything sent: the bytes compression took off, over what would have gone */
    uint64_t would = m->bytes_sent - m->deflate_out_bytes + m->deflate_in_bytes;
    if (would)
        sbuf_printf(out, "%.4f}",
                    (double)(m->deflate_in_bytes - m->deflate_out_bytes) / (double)would);
    else
        sbuf_puts(out, "null}");
}

void metrics_stats_json(sbuf *out, int64_t now_ms)
{
    /* the oldest snapshot kept (about a minute old), or none yet: since the start */
    const metrics_snap *base = NULL;
    if (metrics.nsnaps)
        base = &metrics.snaps[metrics.nsnaps < METRICS_SNAPS ? 0 : metrics.snap_next];
    int64_t window = base && now_ms > base->at_ms ? (now_ms - base->at_ms) / 1000 : 0;
    sbuf_printf(out, "{\"window_s\":%lld,", (long long)window);
    metrics_stats_one(out, "delivery_latency_seconds", metrics.latency_buckets,
                      base ? base->latency : NULL);
    sbuf_putc(out, ',');
    metrics_stats_one(out, "delivery_stored_latency_seconds", metrics.stored_buckets,
                      base ? base->stored : NULL);
    metrics_stats_compression(out);
    sbuf_putc(out, '}');
}

static void metrics_one(sbuf *out, const char *name, const char *type, const char *help,
                        unsigned long long value)
{
    sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, value);
}

static void metrics_histogram(sbuf *out, const char *name, const char *help,
                              const uint64_t *buckets, double sum, uint64_t count)
{
    sbuf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long long cumulative = 0;
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        cumulative += buckets[i];
        sbuf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, metrics_bounds[i], cumulative);
    }
    cumulative += buckets[METRICS_BUCKETS];
    sbuf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, cumulative);
    sbuf_printf(out, "%s_sum %.9f\n", name, sum);
    sbuf_printf(out, "%s_count %llu\n", name, (unsigned long long)count);
}

void metrics_render(sbuf *out)
{
    const wsg_metrics *m = &metrics;
    metrics_one(out, "wsgate_connections", "gauge", "Open WebSocket connections.",
                (unsigned long long)(m->connections > 0 ? m->connections : 0));
    metrics_one(out, "wsgate_subscriptions", "gauge", "Subscriptions summed over connections.",
                (unsigned long long)(m->subscriptions > 0 ? m->subscriptions : 0));
    metrics_one(out, "wsgate_connections_total", "counter", "WebSocket connections accepted.",
                m->connections_total);
    metrics_one(out, "wsgate_connections_refused_total", "counter",
                "Upgrades refused (auth, origin, limits).", m->connections_refused);
    metrics_one(out, "wsgate_messages_received_total", "counter", "Events received from NATS.",
                m->messages_received);
    metrics_one(out, "wsgate_deliveries_total", "counter",
                "msg frames written to clients, replays included.", m->deliveries);
    metrics_one(out, "wsgate_bytes_sent_total", "counter", "WebSocket payload bytes written.",
                m->bytes_sent);
    metrics_one(
        out, "wsgate_compressed_connections", "gauge",
        "Connections that negotiated permessage-deflate.",
        (unsigned long long)(m->compressed_connections > 0 ? m->compressed_connections : 0));
    metrics_one(out, "wsgate_deflate_in_bytes_total", "counter",
                "Payload bytes of frames written compressed, before compression.",
                m->deflate_in_bytes);
    metrics_one(out, "wsgate_deflate_out_bytes_total", "counter",
                "Payload bytes of frames written compressed, after compression.",
                m->deflate_out_bytes);
    metrics_one(out, "wsgate_deflate_groups", "gauge",
                "Shared compressors (a set of subscriptions held by 2+ connections).",
                (unsigned long long)(m->deflate_groups > 0 ? m->deflate_groups : 0));
    metrics_one(out, "wsgate_deflate_members", "gauge",
                "Connections attached to a shared compressor.",
                (unsigned long long)(m->deflate_members > 0 ? m->deflate_members : 0));
    metrics_one(out, "wsgate_deflate_joins_total", "counter",
                "Connections that came in step with their group at a sync point.",
                m->deflate_joins);
    metrics_one(out, "wsgate_deflate_leaves_total", "counter",
                "Connections that fell out of step (conflation, a replay, a missed frame).",
                m->deflate_leaves);
    metrics_one(out, "wsgate_deflate_resets_total", "counter",
                "Sync points: a shared compressor started afresh for a newcomer.",
                m->deflate_resets);
    metrics_one(out, "wsgate_deflate_group_frames_total", "counter",
                "Events compressed for a group (once per event and group).",
                m->deflate_group_frames);
    metrics_one(out, "wsgate_deflate_solo_frames_total", "counter",
                "Events compressed alone (once per event, shared by every connection out of step).",
                m->deflate_solo_frames);
    metrics_one(out, "wsgate_socket_writes_total", "counter",
                "Writes to client sockets (each carries one or more frames).", m->socket_writes);
    metrics_one(out, "wsgate_slow_consumer_closes_total", "counter",
                "Connections closed with 4001 (slow consumer).", m->slow_consumer_closes);
    metrics_one(out, "wsgate_conflated_total", "counter",
                "Queued last-value messages replaced by a newer one.", m->conflated);
    metrics_one(out, "wsgate_replayed_total", "counter", "msg frames sent by replays.",
                m->replayed);
    metrics_one(out, "wsgate_queued_bytes", "gauge",
                "Bytes of live and replayed frames queued for clients (all connections).",
                m->queued_bytes);
    metrics_one(out, "wsgate_send_rounds_total", "counter",
                "Dispatch rounds that wrote to clients (one send per client per round).",
                m->send_rounds);
    sbuf_printf(out,
                "# HELP wsgate_send_round_seconds_total Wall time of those rounds' writes.\n"
                "# TYPE wsgate_send_round_seconds_total counter\n"
                "wsgate_send_round_seconds_total %.9f\n",
                (double)m->send_round_ns / 1e9);
    metrics_one(out, "wsgate_send_threads", "gauge",
                "Threads sending a round's writes (--threads).",
                (unsigned long long)m->send_threads);
    metrics_one(out, "wsgate_replays_running", "gauge", "Resumes (sub with since) running.",
                (unsigned long long)m->replays_running);
    metrics_one(out, "wsgate_replays_waiting", "gauge", "Resumes waiting for a replay slot.",
                (unsigned long long)m->replays_waiting);
    metrics_one(out, "wsgate_resumes_total", "counter", "Resumes (sub with since) registered.",
                m->resumes);
    metrics_one(out, "wsgate_resumes_cancelled_total", "counter",
                "Resumes dropped unfinished: their subscription or connection went.",
                m->resumes_cancelled);
    metrics_one(out, "wsgate_invalid_subjects_total", "counter",
                "Events published on a subject that is not valid (not delivered).",
                m->invalid_subjects);
    metrics_one(out, "wsgate_nats_connected", "gauge", "1 while connected to NATS.",
                (unsigned long long)m->nats_connected);
    metrics_one(out, "wsgate_stream_last_seq", "gauge", "Last stream sequence received.",
                m->stream_last_seq);
    metrics_one(out, "wsgate_ready", "gauge", "1 while /readyz answers 200.",
                (unsigned long long)m->ready);
    metrics_one(out, "wsgate_batches", "gauge", "Batches in the gateway's state.", m->batches);
    metrics_one(out, "wsgate_batches_stalled", "gauge",
                "Running batches without an event for --batch-stall.", m->batches_stalled);

    sbuf_puts(out, "# HELP wsgate_client_errors_total err frames sent to clients, by code.\n"
                   "# TYPE wsgate_client_errors_total counter\n");
    for (int e = PERR_BAD_REQUEST; e < PERR_COUNT; e++)
        sbuf_printf(out, "wsgate_client_errors_total{code=\"%s\"} %llu\n", protocol_err_name(e),
                    (unsigned long long)m->client_errors[e]);

    sbuf_puts(out, "# HELP wsgate_bad_events_total Events batch state refused (not as EVENTS.md "
                   "says; delivered anyway), by reason.\n"
                   "# TYPE wsgate_bad_events_total counter\n");
    for (int r = 0; r < EVENTS_REASONS; r++)
        sbuf_printf(out, "wsgate_bad_events_total{reason=\"%s\"} %llu\n", events_reason_name(r),
                    (unsigned long long)m->bad_events[r]);

    metrics_histogram(out, "wsgate_delivery_latency_seconds", "NATS receipt to socket write.",
                      m->latency_buckets, m->latency_sum, m->latency_count);
    metrics_histogram(out, "wsgate_delivery_stored_latency_seconds",
                      "JetStream store (the message's stream timestamp) to socket write.",
                      m->stored_buckets, m->stored_sum, m->stored_count);
}
