/* wsb.h: shared declarations of the wsbench load generator (bench/wsbench.c). */
#ifndef WSB_H
#define WSB_H

#include <stddef.h>
#include <stdint.h>

#define WSB_PHASES   16   /* rates per run */
#define WSB_HIST     2048 /* latency buckets (log-linear, µs) */
#define WSB_MAX_URLS 32

enum wsb_proto { WSB_PROTO_WSGATE, WSB_PROTO_NATS };

/* One target server: host, port and path of a ws:// URL. */
struct wsb_url {
    char host[64];
    int port;
    char path[128];
};

/* What one client process reports to the parent (lives in shared memory; one writer). */
struct wsb_slot {
    uint64_t connected;  /* TCP connected */
    uint64_t subscribed; /* hello+ok (wsgate) or PONG after SUB (nats) */
    uint64_t failed;     /* refused, reset, err before subscribing */
    uint64_t closed;     /* closed after subscribing */
    uint64_t unparsed;   /* data frames without a benchmark stamp */
    uint64_t delivered[WSB_PHASES];
    uint64_t max_us[WSB_PHASES];
    uint32_t hist[WSB_PHASES][WSB_HIST];
    int last_close_code;
    char err[160]; /* the first error */
};

/* The whole shared region: a stop flag and one slot per process. */
struct wsb_shared {
    volatile int stop;
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
};

/* Run one client process until shared->stop; reports into slot. Returns 0 or -errno. */
int wsb_client_run(const struct wsb_client_cfg *cfg, volatile int *stop, struct wsb_slot *slot);

/* Histogram bucket of a latency in µs. */
int wsb_hist_bucket(uint64_t us);
/* Middle value (µs) of bucket b. */
double wsb_hist_value(int b);
/* The q-quantile (0..1) in µs of h (n values); 0 when empty. */
double wsb_hist_quantile(const uint64_t *h, uint64_t n, double q);

/* CLOCK_REALTIME in ns. */
uint64_t wsb_now_ns(void);

#endif
