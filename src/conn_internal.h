/* conn_internal.h: the insides of a connection, for conn.c, its friends client.c and replay.c,
 * and their unit tests.
 *
 * Every other module sees `conn` and `conn_sub` only through conn.h. */
#ifndef WSGATE_CONN_INTERNAL_H
#define WSGATE_CONN_INTERNAL_H

#include "wsgate/conn.h"
#include "wsgate/zgroup.h"

#define CONN_BATCH_MAX 65536 /* most bytes of frames coalesced into one send() */

/* The writes of a dispatch round: the connections given frames during it,
 * written at its end with one send each, spread over the sender threads. */
struct conn_round {
    bool dispatching;          /* in a round: new frames wait for its end, not WRITEABLE */
    struct conn **flushv;      /* connections given frames in this round ... */
    size_t nflush, capflush;   /* ... (NULL: gone since) */
    struct sendpool *pool;     /* sends a round's writes on every core */
    struct sendpool_job *jobs; /* a round's sends ... */
    struct conn **job_conns;   /* ... and their connections */
    size_t capjobs;
    struct iovec *iov; /* a round's frames to send (CONN_IOV_MAX at most) */
};

/* One subscription of one connection; the sublist entry's owner. */
struct conn_sub {
    struct conn *conn;
    sublist_entry *entry;
    uint64_t min_seq;      /* live frames are delivered only when seq > min_seq */
    struct replay *replay; /* non-NULL while a resume (`since`) runs: live frames wait for it */
};

struct conn {
    struct conn *prev, *next; /* hub->conns */
    size_t flush_at;          /* its index in the round's flush list + 1 (0: not in it) */
    struct conn_round *round; /* the hub's */
    struct lws *wsi;
    hub *hub;
    char id[20];

    wsg_frame **q; /* outgoing frames: a circular array of references */
    uint32_t qhead, qlen, qcap;
    size_t qbytes;         /* bytes of live and replayed frames queued (bounded by queue_bytes) */
    int64_t over_since_ms; /* when qbytes went over queue_bytes, 0 when under */
    unsigned char *pend;   /* framed bytes a send() did not take (plain sockets), or NULL */
    uint32_t pend_len, pend_off;
    bool tls;           /* data goes through lws (TLS), not send() */
    bool gone;          /* being destroyed */
    bool replay_window; /* a JetStream window of one of its replays is out */
    uint16_t nreplays;  /* replays of its subscriptions (running or waiting) */

    conn_sub **subs;
    uint32_t nsubs, capsubs;
    uint64_t fanout_gen;

    zmember z;        /* permessage-deflate: its place in a shared compressor's group */
    sbuf *rx;         /* a fragmented client message being assembled */
    bool rx_deflated; /* ... which is compressed (RSV1 on its first frame) */
    double tokens;    /* ops rate limiter (token bucket) */
    int64_t tokens_ms;
    int64_t *err_times; /* times of the last err_limit+1 err frames (lazy) */
    uint32_t err_next, err_count;

    int close_code;         /* non-zero: close with this code at the next WRITEABLE */
    bool close_after_queue; /* ... but only once the queue is written */
    bool close_sent;        /* our close frame is out; waiting for the client's */
    const char *close_reason;
    int64_t close_deadline_ms; /* a peer that has not let the close through by then is dropped */
    int64_t last_rx_ms;        /* last frame or pong from the client (keepalive) */
    int64_t last_ping_ms;      /* last WebSocket ping we sent */
    bool ping_due;             /* send a ping at the next WRITEABLE */
    bool hangup;               /* silent peer: drop the socket at the next WRITEABLE */

    auth_claims *claims; /* NULL when authentication is off */
    bool refresh_hinted; /* the refresh hint for the current token is out */
    int64_t created_ms;
    char ip[48];
};

/* c's subscription on exactly pattern (and its index in c->subs), or NULL. */
conn_sub *conn_sub_find(conn *c, const char *pattern, uint32_t *index);
/* Add a subscription on pattern (not held yet: conn_sub_find first) to the
 * index and to c's compression group. */
conn_sub *conn_sub_add(conn *c, const char *pattern);
/* When the refresh hint for a token expiring at exp (seconds) is due, in
 * milliseconds since the epoch: --refresh-ahead before it (0 when the token
 * lives less than that), exp itself with --refresh-ahead 0, INT64_MAX when
 * exp is too far off to count in milliseconds. */
int64_t conn_refresh_due_ms(const conn *c, int64_t exp);
/* Drop the client message being assembled, if any. */
void conn_rx_free(conn *c);

#endif
