/* wsb.h: shared declarations of the wsbench load generator (bench/wsbench.c). */
#ifndef WSB_H
#define WSB_H

#include <stddef.h>
#include <stdint.h>

#define WSB_PHASES   16   /* rates per run */
#define WSB_HIST     2048 /* latency buckets (log-linear, µs) */
#define WSB_MAX_URLS 32

enum wsb_proto { WSB_PROTO_WSGATE, WSB_PROTO_NATS };

/* What the publisher sends: a license event padded with "x" to --size bytes, or a realistic
 * license event (varied ids, no padding: what permessage-deflate must be measured on). */
enum wsb_payload { WSB_PAYLOAD_PADDED, WSB_PAYLOAD_EVENT };

/* How payloads are made; message (ph, i, t) is a pure function of these, so a receiver rebuilds
 * the exact bytes it should have got. */
struct wsb_event_cfg {
    enum wsb_payload kind;
    int size;     /* padded: payload bytes */
    int subjects; /* message i goes to subject i % subjects */
};

/* One target server: host, port and path of a ws:// URL. */
struct wsb_url {
    char host[64];
    int port;
    char path[128];
};

/* What one client process reports to the parent (lives in shared memory; one writer). */
struct wsb_slot {
    uint64_t connected;      /* TCP connected */
    uint64_t subscribed;     /* hello+ok (wsgate) or PONG after SUB (nats) */
    uint64_t failed;         /* refused, reset, err before subscribing */
    uint64_t closed;         /* closed after subscribing */
    uint64_t unparsed;       /* data frames without a benchmark stamp */
    uint64_t wire_bytes;     /* bytes read from the sockets (handshakes and every frame included) */
    uint64_t app_bytes;      /* data message payload bytes after inflating */
    uint64_t inflated;       /* data messages that came compressed (RSV1) */
    uint64_t deflate_conns;  /* connections whose upgrade answer negotiated permessage-deflate */
    uint64_t inflaters;      /* inflaters allocated (one per connection, at its first RSV1) */
    uint64_t inflate_errors; /* compressed messages that did not inflate (the connection closes) */
    uint64_t delivered[WSB_PHASES];
    uint64_t read[WSB_PHASES]; /* deliveries read (inflated, checked, latency): the sampled ones */
    uint64_t out_of_order[WSB_PHASES]; /* an index below the last one of its subject */
    uint64_t duplicates[WSB_PHASES];   /* the same index twice in a row on a subject */
    uint64_t not_intact[WSB_PHASES];   /* payload or subject not the bytes published */
    uint64_t max_us[WSB_PHASES];
    uint32_t hist[WSB_PHASES][WSB_HIST];
    int last_close_code;
    char err[160]; /* the first error */
    char ext[128]; /* the first Sec-WebSocket-Extensions answer seen ("" when none) */
};

/* The whole shared region: a stop flag, the current phase and one slot per process. */
struct wsb_shared {
    volatile int stop;
    volatile int phase; /* the rate being published (what an unread delivery is counted to) */
    int nslots;
    struct wsb_slot slot[];
};

/* How a client process runs. */
struct wsb_client_cfg {
    enum wsb_proto proto;
    const struct wsb_url *urls;
    int nurls;
    const char *subject; /* subscription pattern */
    long first, count;   /* connection indexes [first, first+count) of the whole run */
    int src_ips;         /* source addresses 127.0.0.1 .. 127.0.0.src_ips */
    int inflight;        /* connection attempts in flight */
    int deflate;         /* offer permessage-deflate */
    int window_bits;     /* request server_max_window_bits=N (0: do not) */
    int sample;          /* wsgate: connection i reads its messages only when i % sample == 0 */
    volatile int *phase; /* the current phase (shared) */
    struct wsb_event_cfg ev;
};

/* Run one client process until shared->stop; reports into slot. Returns 0 or -errno. */
int wsb_client_run(const struct wsb_client_cfg *cfg, volatile int *stop, struct wsb_slot *slot);

/* Histogram bucket of a latency in µs. */
int wsb_hist_bucket(uint64_t us);
/* Middle value (µs) of bucket b. */
double wsb_hist_value(int b);
/* The q-quantile (0..1) in µs of h (n values); 0 when empty. */
double wsb_hist_quantile(const uint64_t *h, uint64_t n, double q);

/* The payload of message i of phase ph stamped t into buf (cap bytes, >= size + 600); returns its
 * length. */
size_t wsb_event(char *buf, size_t cap, const struct wsb_event_cfg *ev, unsigned ph, long i,
                 uint64_t t);
/* The subject of message i into buf; returns its length. */
size_t wsb_event_subject(char *buf, size_t cap, const struct wsb_event_cfg *ev, long i);

/* CLOCK_REALTIME in ns. */
uint64_t wsb_now_ns(void);

#endif
