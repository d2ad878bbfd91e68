/* metrics.h: the gateway's counters, gauges and latency histogram, rendered as Prometheus text.
 *
 * One global instance, touched only on the lws service thread (no atomics). */
#ifndef WSGATE_METRICS_H
#define WSGATE_METRICS_H

#include "wsgate/events.h"
#include "wsgate/protocol.h"
#include "wsgate/sbuf.h"

#include <stdint.h>

#define METRICS_BUCKETS 15
#define METRICS_SNAPS   13 /* one every 5 s: a window of a minute for metrics_stats_json */

/* Both histograms' bucket counts at one moment. */
typedef struct metrics_snap {
    int64_t at_ms;
    uint64_t latency[METRICS_BUCKETS + 1];
    uint64_t stored[METRICS_BUCKETS + 1];
} metrics_snap;

typedef struct wsg_metrics {
    int64_t connections;            /* gauge: open WebSocket connections */
    int64_t subscriptions;          /* gauge: subscriptions summed over connections */
    uint64_t connections_total;     /* accepted upgrades */
    uint64_t connections_refused;   /* upgrades refused (auth, origin, limits) */
    uint64_t messages_received;     /* events from NATS */
    uint64_t deliveries;            /* msg frames written to clients, replays included */
    uint64_t bytes_sent;            /* WebSocket payload bytes written */
    int64_t compressed_connections; /* gauge: connections that negotiated permessage-deflate */
    uint64_t deflate_in_bytes;      /* payload bytes of frames written compressed, before ... */
    uint64_t deflate_out_bytes;     /* ... and after compression */
    int64_t deflate_groups;         /* gauge: shared compressors (zgroup.c) */
    int64_t deflate_members;        /* gauge: connections attached to them */
    uint64_t deflate_joins;         /* members that came in step at a sync point */
    uint64_t deflate_leaves;        /* members that fell out of step */
    uint64_t deflate_resets;        /* sync points: a shared compressor reset */
    uint64_t deflate_group_frames;  /* events compressed for a group (once per group) */
    uint64_t deflate_solo_frames;   /* events compressed alone (once per event) */
    uint64_t socket_writes;         /* lws_write calls for clients (one per batch of frames) */
    uint64_t slow_consumer_closes;  /* closes with 4001 */
    uint64_t conflated;             /* queued last-value messages replaced */
    uint64_t replayed;              /* msg frames sent by replays */
    int64_t replays_running;        /* gauge: resumes running */
    uint64_t send_rounds;           /* dispatch rounds that wrote to clients */
    uint64_t send_round_ns;         /* their wall time, writes included (all threads) */
    int64_t send_threads;           /* gauge: --threads in effect */
    uint64_t queued_bytes;          /* gauge: bytes of live and replayed frames in all queues */
    int64_t replays_waiting;        /* gauge: resumes waiting for a slot */
    uint64_t resumes;               /* resumes (sub with since) registered */
    uint64_t resumes_cancelled; /* ... dropped unfinished: their subscription or connection went */
    uint64_t bad_events[EVENTS_REASONS]; /* events batch state refused, by events_reason */
    uint64_t invalid_subjects;           /* events published on an invalid subject: not delivered */
    uint64_t client_errors[PERR_COUNT];
    int nats_connected;                            /* gauge 0/1 */
    uint64_t stream_last_seq;                      /* gauge: last stream sequence seen */
    uint64_t latency_buckets[METRICS_BUCKETS + 1]; /* last one is +Inf */
    double latency_sum;
    uint64_t latency_count;
    uint64_t stored_buckets[METRICS_BUCKETS + 1]; /* JetStream store to socket write */
    double stored_sum;
    uint64_t stored_count;
    int ready;                         /* gauge 0/1: what /readyz answers */
    uint64_t batches;                  /* gauge: batches in the state */
    uint64_t batches_stalled;          /* gauge: running batches silent for --batch-stall */
    metrics_snap snaps[METRICS_SNAPS]; /* ring for the stats window */
    int nsnaps, snap_next;
} wsg_metrics;

extern wsg_metrics metrics;

/* Record one delivery latency (NATS receipt to socket write), in seconds. */
void metrics_latency_observe(double seconds);
/* How long ago JetStream stored a message whose stream timestamp is stored_ns
 * (CLOCK_REALTIME ns): read once per event at receipt, so that a delivery
 * needs no clock of its own. Clock skew below zero counts as 0; -1 when
 * stored_ns is 0 (no stream timestamp). */
int64_t metrics_stored_age(int64_t stored_ns);
/* Record one delivery of a frame that was age_ns old (since JetStream stored
 * it) when it went to the socket. A negative age (no timestamp) is ignored. */
void metrics_stored_observe(int64_t age_ns);
/* Once a second (service thread): keeps the snapshots that metrics_stats_json
 * takes its window from. now_ms is any clock that only moves forward. */
void metrics_tick(int64_t now_ms);
/* Append the Prometheus 0.0.4 text exposition of every metric. */
void metrics_render(sbuf *out);
/* Append a JSON object with p50/p99 of both latency histograms over the last
 * minute or so (null when nothing was delivered in it), estimated from the
 * buckets the way Prometheus' histogram_quantile does, and what
 * permessage-deflate saved since the start ("compression"). */
void metrics_stats_json(sbuf *out, int64_t now_ms);
/* The q-quantile (0 < q < 1) of a histogram with METRICS_BUCKETS + 1 bucket
 * counts (not cumulative, last one +Inf), interpolated linearly inside its
 * bucket; a quantile in the +Inf bucket is the highest finite bound. Returns
 * -1 when the counts are all zero. */
double metrics_quantile(const uint64_t *counts, double q);

#endif
