/* sim_publish.h: the NATS side: connect, find or create the stream, publish durably. */
#ifndef SIM_PUBLISH_H
#define SIM_PUBLISH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

struct sim_publish {
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    char nonce[16];        /* per run: message ids are "sim-<nonce>-<n>" */
    uint64_t next_id;      /* n of the next message id */
    uint64_t published;    /* events stored in the stream */
    uint64_t retries;      /* failed attempts that were retried */
    atomic_bool connected; /* written by nats.c's callback thread */
};

/* Connect to the comma-separated `urls`, trying for up to timeout_s seconds.
 * Once connected, the connection reconnects forever. Returns 0, or after
 * printing a one-line error -EINVAL (bad options), -ETIMEDOUT (unreachable),
 * -EINTR (interrupted) or -EIO (no JetStream). */
int sim_publish_connect(struct sim_publish *p, const char *urls, double timeout_s);

/* Wait until the stream exists, checking every second; with `create`, create
 * it (subjects batch.>, license.>, verification.>) when it is missing.
 * Returns 0, or after printing an error -EIO (creation failed) or -EINTR
 * (interrupted). */
int sim_publish_stream(struct sim_publish *p, const char *stream, bool create);

/* Publish one event and wait until JetStream has stored it. Failures (NATS
 * reconnecting, no stream leader, timeouts) are retried with backoff for as
 * long as it takes; a per-run message id makes every retry safe (JetStream
 * drops duplicates), and order is kept. Returns 0, or -EINTR only if a
 * stop was asked for while retrying. */
int sim_publish_send(struct sim_publish *p, const char *subject, const char *data, size_t len);

/* Is the connection up right now? */
bool sim_publish_connected(struct sim_publish *p);

/* Close the connection and release everything. */
void sim_publish_close(struct sim_publish *p);

#endif
