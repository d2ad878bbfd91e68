/* metrics.h: the gateway's counters, gauges and latency histogram, rendered as Prometheus text.
 *
 * One global instance, touched only on the lws service thread (no atomics). */
#ifndef WSGATE_METRICS_H
#define WSGATE_METRICS_H

#include "wsgate/protocol.h"
#include "wsgate/sbuf.h"

#include <stdint.h>

#define METRICS_BUCKETS 15

typedef struct wsg_metrics {
    int64_t connections;           /* gauge: open WebSocket connections */
    int64_t subscriptions;         /* gauge: subscriptions summed over connections */
    uint64_t connections_total;    /* accepted upgrades */
    uint64_t connections_refused;  /* upgrades refused (auth, origin, limits) */
    uint64_t messages_received;    /* events from NATS */
    uint64_t deliveries;           /* msg frames written to clients, replays included */
    uint64_t bytes_sent;           /* WebSocket payload bytes written */
    uint64_t socket_writes;        /* lws_write calls for clients (one per batch of frames) */
    uint64_t slow_consumer_closes; /* closes with 4001 */
    uint64_t conflated;            /* queued last-value messages replaced */
    uint64_t replayed;             /* msg frames sent by replays */
    int64_t replays_running;       /* gauge: resumes running */
    int64_t replays_waiting;       /* gauge: resumes waiting for a slot */
    uint64_t bad_events;           /* events whose payload batch state could not use */
    uint64_t invalid_subjects;     /* events published on an invalid subject: not delivered */
    uint64_t client_errors[PERR_COUNT];
    int nats_connected;                            /* gauge 0/1 */
    uint64_t stream_last_seq;                      /* gauge: last stream sequence seen */
    uint64_t latency_buckets[METRICS_BUCKETS + 1]; /* last one is +Inf */
    double latency_sum;
    uint64_t latency_count;
} wsg_metrics;

extern wsg_metrics metrics;

/* Record one delivery latency (NATS receipt to socket write), in seconds. */
void metrics_latency_observe(double seconds);
/* Append the Prometheus 0.0.4 text exposition of every metric. */
void metrics_render(sbuf *out);

#endif
