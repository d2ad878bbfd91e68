/* metrics.c: counters and the latency histogram in Prometheus text format (see metrics.h). */
#include "wsgate/metrics.h"

wsg_metrics metrics;

static const double metrics_bounds[METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

void metrics_latency_observe(double seconds)
{
    int i = 0;
    while (i < METRICS_BUCKETS && seconds > metrics_bounds[i])
        i++;
    metrics.latency_buckets[i]++;
    metrics.latency_sum += seconds;
    metrics.latency_count++;
}

static void metrics_one(sbuf *out, const char *name, const char *type, const char *help,
                        unsigned long long value)
{
    sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, value);
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
    metrics_one(out, "wsgate_socket_writes_total", "counter",
                "Writes to client sockets (each carries one or more frames).", m->socket_writes);
    metrics_one(out, "wsgate_slow_consumer_closes_total", "counter",
                "Connections closed with 4001 (slow consumer).", m->slow_consumer_closes);
    metrics_one(out, "wsgate_conflated_total", "counter",
                "Queued last-value messages replaced by a newer one.", m->conflated);
    metrics_one(out, "wsgate_replayed_total", "counter", "msg frames sent by replays.",
                m->replayed);
    metrics_one(out, "wsgate_replays_running", "gauge", "Resumes (sub with since) running.",
                (unsigned long long)m->replays_running);
    metrics_one(out, "wsgate_replays_waiting", "gauge", "Resumes waiting for a replay slot.",
                (unsigned long long)m->replays_waiting);
    metrics_one(out, "wsgate_bad_events_total", "counter",
                "Events whose payload does not follow EVENTS.md (delivered anyway).",
                m->bad_events);
    metrics_one(out, "wsgate_invalid_subjects_total", "counter",
                "Events published on a subject that is not valid (not delivered).",
                m->invalid_subjects);
    metrics_one(out, "wsgate_nats_connected", "gauge", "1 while connected to NATS.",
                (unsigned long long)m->nats_connected);
    metrics_one(out, "wsgate_stream_last_seq", "gauge", "Last stream sequence received.",
                m->stream_last_seq);

    sbuf_puts(out, "# HELP wsgate_client_errors_total err frames sent to clients, by code.\n"
                   "# TYPE wsgate_client_errors_total counter\n");
    for (int e = PERR_BAD_REQUEST; e < PERR_COUNT; e++)
        sbuf_printf(out, "wsgate_client_errors_total{code=\"%s\"} %llu\n", protocol_err_name(e),
                    (unsigned long long)m->client_errors[e]);

    sbuf_puts(out, "# HELP wsgate_delivery_latency_seconds NATS receipt to socket write.\n"
                   "# TYPE wsgate_delivery_latency_seconds histogram\n");
    unsigned long long cumulative = 0;
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        cumulative += m->latency_buckets[i];
        sbuf_printf(out, "wsgate_delivery_latency_seconds_bucket{le=\"%g\"} %llu\n",
                    metrics_bounds[i], cumulative);
    }
    cumulative += m->latency_buckets[METRICS_BUCKETS];
    sbuf_printf(out, "wsgate_delivery_latency_seconds_bucket{le=\"+Inf\"} %llu\n", cumulative);
    sbuf_printf(out, "wsgate_delivery_latency_seconds_sum %.9f\n", m->latency_sum);
    sbuf_printf(out, "wsgate_delivery_latency_seconds_count %llu\n",
                (unsigned long long)m->latency_count);
}
