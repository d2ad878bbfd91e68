/* config.h: gateway settings; defaults < JSON config file < WSGATE_* environment < flags. */
#ifndef WSGATE_CONFIG_H
#define WSGATE_CONFIG_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct wsg_config {
    /* server */
    char *listen_host; /* --listen HOST:PORT, default 127.0.0.1:8080 */
    int listen_port;
    char *web_root;          /* --web-root DIR: serve the dashboard from disk (NULL: embedded) */
    size_t max_frame;        /* --max-frame BYTES, default 65536 (close 1009 above) */
    size_t queue_bytes;      /* --queue-bytes BYTES, default 1 MiB (close 4001 above) */
    int max_subs;            /* --max-subs N, default 256 per connection */
    int max_replays;         /* --max-replays N, default 64: resumes running at once */
    int threads;             /* --threads N, 0: one per CPU */
    double ops_rate;         /* --ops-rate N per second, default 100 */
    int ops_burst;           /* --ops-burst N, default 200 */
    int err_limit;           /* --err-limit N, default 50 err frames ... */
    int64_t err_window_ms;   /* --err-window DURATION, default 10s ... then close 4003 */
    int64_t heartbeat_ms;    /* --heartbeat DURATION, default 25s: WebSocket ping interval */
    int64_t ping_timeout_ms; /* --ping-timeout DURATION, default 60s: hang up a silent peer */
    int max_conns;           /* --max-conns N, default 0 = only the open-file limit */
    int max_conns_per_ip;    /* --max-conns-per-ip N, default 256; 0 = unlimited */
    int64_t handshake_timeout_ms; /* --handshake-timeout DURATION, default 10s */
    int64_t idle_timeout_ms;      /* --idle-timeout DURATION, default 60s (0 = off): close a conn
                                     without subscriptions */
    int64_t refresh_ahead_ms;     /* --refresh-ahead DURATION, default 30s (0 = never): the
                                     refresh hint goes this long before the token's exp */
    int64_t shutdown_timeout_ms;  /* --shutdown-timeout DURATION, default 4s */

    /* NATS and the stream */
    char **nats_urls; /* --nats URL[,URL...], default nats://127.0.0.1:4222 */
    size_t nats_url_count;
    char *stream;           /* --stream NAME, default EVENTS */
    char **stream_subjects; /* --stream-subjects LIST, default batch.>,license.>,verification.> */
    size_t stream_subject_count;
    int64_t stream_max_msgs;   /* --stream-max-msgs N, default -1 (unlimited) */
    int64_t stream_max_bytes;  /* --stream-max-bytes BYTES, default -1 (unlimited) */
    int64_t stream_max_age_ms; /* --stream-max-age DURATION, default 168h (0: unlimited) */
    int stream_replicas;       /* --stream-replicas N, default 1 */
    char *nats_user;           /* --nats-user, --nats-password, --nats-token, --nats-creds FILE */
    char *nats_password;
    char *nats_token;
    char *nats_creds;
    char *nats_ca; /* --nats-ca FILE, --nats-cert FILE, --nats-key FILE */
    char *nats_cert;
    char *nats_key;

    /* delivery */
    size_t ring_msgs;  /* --ring-msgs N, default 100000 recent frames kept for resume */
    size_t ring_bytes; /* --ring-bytes BYTES, default 64 MiB */
    char **last_value; /* --last-value LIST, default batch.*.progress */
    size_t last_value_count;

    /* batch state */
    int64_t batch_stall_ms;     /* --batch-stall DURATION, default 30s */
    int64_t batch_retention_ms; /* --batch-retention DURATION, default 1h */
    int64_t batch_idle_ms;      /* --batch-idle DURATION, default 24h */
    int max_batches;            /* --max-batches N, default 10000 */

    /* security */
    char *jwt_secret;       /* --jwt-secret FILE */
    char *jwt_public_key;   /* --jwt-public-key FILE */
    char *jwt_audience;     /* --jwt-audience TEXT: required in "aud" */
    char *jwt_issuer;       /* --jwt-issuer TEXT: required as "iss" */
    bool jwt_es256_low_s;   /* --jwt-es256-low-s BOOL, default false: refuse high-S ES256 */
    char **allowed_origins; /* --allowed-origins LIST */
    size_t allowed_origin_count;
    char **public_hosts; /* --public-host LIST: names of the gateway (default origin policy) */
    size_t public_host_count;
    bool metrics_auth; /* --metrics-auth BOOL, default false: /metrics needs a token too */
    char *tls_cert;    /* --tls-cert FILE, --tls-key FILE */
    char *tls_key;

    /* compression (permessage-deflate, see zgroup.h) */
    bool compression;          /* --compression BOOL, default on: negotiate permessage-deflate */
    size_t compression_min;    /* --compression-min-bytes BYTES, default 64: smaller go as is */
    int compression_groups;    /* --compression-groups N, default 256: shared compressors */
    int compression_level;     /* --compression-level N, default 6 (zlib 1-9) */
    int compression_mem_level; /* --compression-mem-level N, default 8 (zlib 1-9) */

    /* logs */
    int log_level;  /* --log-level debug|info|warn|error, default info (enum log_level) */
    int log_format; /* --log-format auto|json|text, default auto (enum log_format) */
} wsg_config;

/* What config_load returns: CONFIG_ERROR is a negative errno like every
 * other failure of ours. */
enum config_result { CONFIG_OK = 0, CONFIG_EXIT = 1, CONFIG_ERROR = -EINVAL };

/* Fill cfg from defaults, then the file named by --config / WSGATE_CONFIG,
 * then WSGATE_* variables of `envp` (NULL: use environ), then argv.
 * Returns CONFIG_OK; CONFIG_EXIT after printing --help or --version to stdout;
 * CONFIG_ERROR (-EINVAL) with a one-line message naming the option in err. On error or
 * exit cfg is left empty (nothing to free). */
int config_load(wsg_config *cfg, int argc, char **argv, char **envp, char *err, size_t errlen);

/* Free everything config_load allocated. */
void config_free(wsg_config *cfg);

/* Print every option with its environment name and default. */
void config_print_help(FILE *out);

#endif
