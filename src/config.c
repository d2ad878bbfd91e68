/* config.c: gateway settings from one option table: defaults, JSON file, WSGATE_* env, flags. */
#include "wsgate/config.h"

#include "wsgate/log.h"
#include "wsgate/subject.h"
#include "wsgate/xmalloc.h"

#include <jansson.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef WSGATE_VERSION
#define WSGATE_VERSION "0.1.0"
#endif

#define ENV_PREFIX "WSGATE_"

struct opt;

/* Where a numeric value is stored. */
enum store { STORE_INT, STORE_INT64, STORE_SIZE };

/* A kind of value: how it is written, parsed, stored and freed. Numeric
 * kinds have `number` (text to int64, range-checked against the option's
 * min/max by config_set); both return 0 or a negative errno (-EINVAL,
 * -ERANGE). The others have `set`, which stores the value (0) or rejects it
 * (-EINVAL). */
struct opt_type {
    const char *metavar;  /* in --help, e.g. "BYTES" */
    const char *expected; /* in errors: "expected <this>" */
    bool json_number;     /* may the config file give a JSON number? */
    bool json_array;      /* may the config file give an array of strings? */
    bool json_bool;       /* may the config file give true or false? */
    int (*number)(const char *text, int64_t *out);
    enum store store;
    const char *unit; /* of the number, in range errors: "ms" */
    int (*set)(const struct opt *o, const char *text, wsg_config *cfg);
    void (*release)(const struct opt *o, wsg_config *cfg);
};

/* One row of the option table: a flag, a WSGATE_* variable and a config key. */
struct opt {
    const char *name;             /* long flag name without "--" */
    const struct opt_type *type;  /* kind of value */
    const char *def;              /* default as text; NULL: unset */
    const char *help;             /* one line for --help */
    size_t offset;                /* the field in wsg_config */
    size_t count_offset;          /* lists: the item count field */
    int64_t min, max;             /* numeric range; max 0: what the field holds */
    bool (*valid)(const char *s); /* strings and list items: extra check */
    const char *expected;         /* overrides type->expected (with `valid`) */
    const char *metavar;          /* overrides type->metavar */
    bool secret;                  /* never echo the value in errors */
};

/* The field of cfg where option o keeps its value (as a T), and a list's count. */
#define FIELD(cfg, o, T) ((T *)((char *)(cfg) + (o)->offset))
#define COUNT(cfg, o)    ((size_t *)((char *)(cfg) + (o)->count_offset))

/* ---- numbers ---- */

/* An optional '-' and decimal digits at s; *end is set after the digits.
 * 0, -EINVAL (no digits) or -ERANGE (beyond int64). */
static int config_digits(const char *s, int64_t *out, const char **end)
{
    char *e;

    if (!(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
        return -EINVAL;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (errno == ERANGE)
        return -ERANGE;
    *out = v;
    *end = e;
    return 0;
}

/* A decimal integer ("-1", "42"): 0, -EINVAL or -ERANGE. */
static int config_integer(const char *text, int64_t *out)
{
    const char *end;
    int rc = config_digits(text, out, &end);
    if (rc != 0)
        return rc;
    return *end == '\0' ? 0 : -EINVAL;
}

/* Multiply v by unit unless that overflows: 0 or -ERANGE. */
static int config_scale(int64_t *v, int64_t unit)
{
    if (*v > INT64_MAX / unit || *v < INT64_MIN / unit)
        return -ERANGE;
    *v *= unit;
    return 0;
}

/* Bytes: an integer with an optional K, KiB, M, MiB, G or GiB (powers of
 * 1024). 0, -EINVAL or -ERANGE. */
static int config_size(const char *text, int64_t *out)
{
    static const struct {
        const char *suffix;
        int64_t unit;
    } units[] = {{"", 1},          {"K", 1 << 10}, {"KiB", 1 << 10}, {"M", 1 << 20},
                 {"MiB", 1 << 20}, {"G", 1 << 30}, {"GiB", 1 << 30}};
    const char *end;

    int rc = config_digits(text, out, &end);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].suffix) == 0)
            return config_scale(out, units[i].unit);
    return -EINVAL;
}

/* Milliseconds: "0" or a non-negative integer with ms, s, m or h. 0,
 * -EINVAL or -ERANGE. */
static int config_duration(const char *text, int64_t *out)
{
    static const struct {
        const char *suffix;
        int64_t unit;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}};
    const char *end;

    if (!isdigit((unsigned char)text[0]))
        return -EINVAL;
    int rc = config_digits(text, out, &end);
    if (rc != 0)
        return rc;
    if (*end == '\0')
        return *out == 0 ? 0 : -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].suffix) == 0)
            return config_scale(out, units[i].unit);
    return -EINVAL;
}

/* ---- strings and lists ---- */

static void config_release_string(const struct opt *o, wsg_config *cfg)
{
    free(*FIELD(cfg, o, char *));
    *FIELD(cfg, o, char *) = NULL;
}

/* A non-empty string that passes the option's check. */
static int config_set_string(const struct opt *o, const char *text, wsg_config *cfg)
{
    if (text[0] == '\0' || (o->valid && !o->valid(text)))
        return -EINVAL;
    config_release_string(o, cfg);
    *FIELD(cfg, o, char *) = xstrdup(text);
    return 0;
}

static void config_list_free(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

static void config_release_list(const struct opt *o, wsg_config *cfg)
{
    config_list_free(*FIELD(cfg, o, char **), *COUNT(cfg, o));
    *FIELD(cfg, o, char **) = NULL;
    *COUNT(cfg, o) = 0;
}

/* Comma-separated items, spaces around each trimmed; no item may be empty
 * and each must pass the option's check. */
static int config_set_list(const struct opt *o, const char *text, wsg_config *cfg)
{
    char **items = NULL;
    size_t count = 0;
    const char *p = text;

    for (;;) {
        const char *comma = strchr(p, ',');
        const char *stop = comma ? comma : p + strlen(p);
        while (p < stop && isspace((unsigned char)*p))
            p++;
        while (stop > p && isspace((unsigned char)stop[-1]))
            stop--;
        char *item = xstrndup(p, (size_t)(stop - p));
        items = xrealloc(items, (count + 1) * sizeof(*items));
        items[count++] = item;
        if (item[0] == '\0' || (o->valid && !o->valid(item))) {
            config_list_free(items, count);
            return -EINVAL;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    config_release_list(o, cfg);
    *FIELD(cfg, o, char **) = items;
    *COUNT(cfg, o) = count;
    return 0;
}

static bool config_nats_url_valid(const char *s)
{
    const char *rest = strncmp(s, "nats://", 7) == 0  ? s + 7
                       : strncmp(s, "tls://", 6) == 0 ? s + 6
                                                      : NULL;
    if (!rest || *rest == '\0')
        return false;
    for (; *rest; rest++)
        if (isspace((unsigned char)*rest))
            return false;
    return true;
}

static bool config_stream_name_valid(const char *s)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
    return n >= 1 && n <= 64 && s[n] == '\0';
}

/* A host name, an IPv4 address or a bracketed IPv6 address, without scheme or port. */
static bool config_host_valid(const char *s)
{
    size_t n = strlen(s);
    if (s[0] == '[')
        return n > 2 && s[n - 1] == ']' && strspn(s + 1, "0123456789abcdefABCDEF:.") == n - 2;
    return n <= 253 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") == n &&
           s[0] != '.' && s[0] != '-';
}

/* ---- other kinds ---- */

/* HOST:PORT, [IPV6]:PORT or :PORT (all interfaces); port 0-65535. */
static int config_set_listen(const struct opt *o, const char *text, wsg_config *cfg)
{
    const char *host = text, *host_end, *port;
    int64_t n;

    if (text[0] == '[') {
        host = text + 1;
        host_end = strchr(host, ']');
        if (!host_end || host_end == host || host_end[1] != ':')
            return -EINVAL;
        port = host_end + 2;
    } else {
        host_end = strrchr(text, ':');
        if (!host_end || memchr(text, ':', (size_t)(host_end - text)))
            return -EINVAL;
        port = host_end + 1;
    }
    for (const char *p = host; p < host_end; p++)
        if (isspace((unsigned char)*p) || *p == '/' || *p == '[' || *p == ']')
            return -EINVAL;
    if (!isdigit((unsigned char)port[0]) || config_integer(port, &n) != 0 || n > 65535)
        return -EINVAL;
    free(cfg->listen_host);
    cfg->listen_host =
        host_end == host ? xstrdup("0.0.0.0") : xstrndup(host, (size_t)(host_end - host));
    cfg->listen_port = (int)n;
    return 0;
}

static void config_release_listen(const struct opt *o, wsg_config *cfg)
{
    free(cfg->listen_host);
    cfg->listen_host = NULL;
}

/* A positive finite number, possibly fractional ("100", "0.5"). */
static int config_set_rate(const struct opt *o, const char *text, wsg_config *cfg)
{
    char *end;

    if (!(isdigit((unsigned char)text[0]) || text[0] == '.'))
        return -EINVAL;
    errno = 0;
    double d = strtod(text, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(d) || d <= 0)
        return -EINVAL;
    *FIELD(cfg, o, double) = d;
    return 0;
}

static int config_set_log_level(const struct opt *o, const char *text, wsg_config *cfg)
{
    enum log_level level;
    if (log_level_parse(text, &level) != 0)
        return -EINVAL;
    *FIELD(cfg, o, int) = (int)level;
    return 0;
}

static int config_set_log_format(const struct opt *o, const char *text, wsg_config *cfg)
{
    enum log_format format;
    if (log_format_parse(text, &format) != 0)
        return -EINVAL;
    *FIELD(cfg, o, int) = (int)format;
    return 0;
}

/* true/false (also on/off, yes/no, 1/0). */
static int config_set_bool(const struct opt *o, const char *text, wsg_config *cfg)
{
    static const char *const yes[] = {"true", "on", "yes", "1"}, *const no[] = {"false", "off",
                                                                                "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(text, yes[i]) == 0 || strcmp(text, no[i]) == 0) {
            *FIELD(cfg, o, bool) = strcmp(text, yes[i]) == 0;
            return 0;
        }
    }
    return -EINVAL;
}

/* --config itself: the file is read before the other sources are applied
 * (config_load), so here it is only checked. */
static int config_set_config(const struct opt *o, const char *text, wsg_config *cfg)
{
    return text[0] == '\0' ? -EINVAL : 0;
}

/* ---- the table ---- */

static const struct opt_type T_STRING = {"TEXT", "a non-empty string", .set = config_set_string,
                                         .release = config_release_string};
static const struct opt_type T_FILE = {"FILE", "a file path", .set = config_set_string,
                                       .release = config_release_string};
static const struct opt_type T_DIR = {"DIR", "a directory path", .set = config_set_string,
                                      .release = config_release_string};
static const struct opt_type T_LIST = {"LIST", "a comma-separated list without empty items",
                                       .json_array = true, .set = config_set_list,
                                       .release = config_release_list};
static const struct opt_type T_INT = {
    "N", "an integer", true, .number = config_integer, .store = STORE_INT, .unit = ""};
static const struct opt_type T_INT64 = {
    "N", "an integer", true, .number = config_integer, .store = STORE_INT64, .unit = ""};
static const struct opt_type T_COUNT = {
    "N", "an integer", true, .number = config_integer, .store = STORE_SIZE, .unit = ""};
static const struct opt_type T_SIZE = {"BYTES",
                                       "a size in bytes (like 65536, 64K, 1MiB, 2G)",
                                       true,
                                       .number = config_size,
                                       .store = STORE_SIZE,
                                       .unit = ""};
static const struct opt_type T_SIZE64 = {"BYTES",
                                         "a size in bytes (like 65536, 64K, 1MiB, 2G)",
                                         true,
                                         .number = config_size,
                                         .store = STORE_INT64,
                                         .unit = ""};
static const struct opt_type T_DURATION = {"DURATION",
                                           "a duration (like 250ms, 25s, 5m, 1h or 0)",
                                           true,
                                           .number = config_duration,
                                           .store = STORE_INT64,
                                           .unit = "ms"};
static const struct opt_type T_RATE = {"N", "a positive number", true, .set = config_set_rate};
static const struct opt_type T_LISTEN = {
    "HOST:PORT", "HOST:PORT, [IPV6]:PORT or :PORT with a port 0-65535", .set = config_set_listen,
    .release = config_release_listen};
static const struct opt_type T_LOG_LEVEL = {"LEVEL", "debug, info, warn or error",
                                            .set = config_set_log_level};
static const struct opt_type T_LOG_FORMAT = {"FORMAT", "auto, json or text",
                                             .set = config_set_log_format};
static const struct opt_type T_CONFIG = {"FILE", "a file path", .set = config_set_config};
static const struct opt_type T_BOOL = {"BOOL", "true or false", .json_bool = true,
                                       .set = config_set_bool};

/* Where a row stores its value: AT(field), or LIST(items, count) for lists. */
#define AT(field) .offset = offsetof(wsg_config, field)
#define LIST(field, count)                                                                         \
    .offset = offsetof(wsg_config, field), .count_offset = offsetof(wsg_config, count)
#define SUBJECTS                                                                                   \
    .valid = subject_pattern_valid, .expected = "a comma-separated list of subject patterns"

static const struct opt options[] = {
    /* server */
    {"listen", &T_LISTEN, "127.0.0.1:8080", "address to listen on", AT(listen_host)},
    {"web-root", &T_DIR, NULL, "serve the dashboard from this directory, not the embedded copy",
     AT(web_root)},
    {"max-frame", &T_SIZE, "65536", "largest client frame; close 1009 above", AT(max_frame),
     .min = 256},
    {"queue-bytes", &T_SIZE, "1MiB", "send queue bound per connection; close 4001 above",
     AT(queue_bytes), .min = 1024},
    {"max-subs", &T_INT, "256", "subscriptions per connection", AT(max_subs), .min = 1},
    {"threads", &T_INT, "0",
     "threads sending to clients (0: the CPUs the process may use, cgroup quota included)",
     AT(threads), .min = 0, .max = 256},
    {"max-replays", &T_INT, "64", "resumes (sub with since) running at once, in all",
     AT(max_replays), .min = 1},
    {"ops-rate", &T_RATE, "100", "client operations per second", AT(ops_rate)},
    {"ops-burst", &T_INT, "200", "client operation burst", AT(ops_burst), .min = 1},
    {"err-limit", &T_INT, "50", "err frames per --err-window before close 4003", AT(err_limit),
     .min = 1},
    {"err-window", &T_DURATION, "10s", "window for --err-limit", AT(err_window_ms), .min = 1},
    /* lws counts these two in whole seconds (uint16_t). */
    {"heartbeat", &T_DURATION, "25s", "WebSocket ping interval", AT(heartbeat_ms), .min = 1000,
     .max = 65535000},
    {"ping-timeout", &T_DURATION, "60s", "hang up a silent peer; must exceed --heartbeat",
     AT(ping_timeout_ms), .min = 1000, .max = 65535000},
    {"max-conns", &T_INT, "0", "connection limit; 0: the open-file limit", AT(max_conns)},
    {"max-conns-per-ip", &T_INT, "256", "connections per client address; 0: unlimited",
     AT(max_conns_per_ip)},
    {"handshake-timeout", &T_DURATION, "10s", "time allowed for the HTTP upgrade",
     AT(handshake_timeout_ms), .min = 1},
    {"idle-timeout", &T_DURATION, "60s", "close a connection without subscriptions; 0: off",
     AT(idle_timeout_ms)},
    {"refresh-ahead", &T_DURATION, "30s",
     "with JWT auth, send the refresh hint this long before a token's exp; 0: never",
     AT(refresh_ahead_ms)},
    {"shutdown-timeout", &T_DURATION, "4s", "time to drain connections on shutdown",
     AT(shutdown_timeout_ms)},

    /* NATS and the stream */
    {"nats", &T_LIST, "nats://127.0.0.1:4222", "NATS server URLs", LIST(nats_urls, nats_url_count),
     .valid = config_nats_url_valid, .expected = "a comma-separated list of nats:// or tls:// URLs",
     .metavar = "URL[,URL...]", .secret = true},
    {"stream", &T_STRING, "EVENTS", "JetStream stream name", AT(stream),
     .valid = config_stream_name_valid, .expected = "1 to 64 characters from A-Z a-z 0-9 _ -",
     .metavar = "NAME"},
    {"stream-subjects", &T_LIST, "batch.>,license.>,verification.>", "subjects of the stream",
     LIST(stream_subjects, stream_subject_count), SUBJECTS},
    {"stream-max-msgs", &T_INT64, "-1", "stream message limit; -1: unlimited", AT(stream_max_msgs),
     .min = -1},
    {"stream-max-bytes", &T_SIZE64, "-1", "stream size limit; -1: unlimited", AT(stream_max_bytes),
     .min = -1},
    {"stream-max-age", &T_DURATION, "168h",
     "stream age limit when creating it (168h: 7 days); 0: unlimited", AT(stream_max_age_ms)},
    {"stream-replicas", &T_INT, "1", "stream replicas", AT(stream_replicas), .min = 1, .max = 5},
    {"nats-user", &T_STRING, NULL, "NATS user name", AT(nats_user)},
    {"nats-password", &T_STRING, NULL, "NATS password", AT(nats_password), .secret = true},
    {"nats-token", &T_STRING, NULL, "NATS token", AT(nats_token), .secret = true},
    {"nats-creds", &T_FILE, NULL, "NATS credentials file", AT(nats_creds)},
    {"nats-ca", &T_FILE, NULL, "CA certificates for NATS TLS", AT(nats_ca)},
    {"nats-cert", &T_FILE, NULL, "client certificate for NATS TLS", AT(nats_cert)},
    {"nats-key", &T_FILE, NULL, "client key for NATS TLS", AT(nats_key)},

    /* delivery */
    {"ring-msgs", &T_COUNT, "100000", "recent frames kept for resume", AT(ring_msgs)},
    {"ring-bytes", &T_SIZE, "64MiB", "memory for recent frames", AT(ring_bytes)},
    {"last-value", &T_LIST, "batch.*.progress", "subjects where only the latest message matters",
     LIST(last_value, last_value_count), SUBJECTS},

    /* batch state */
    {"batch-stall", &T_DURATION, "30s", "a running batch this long silent is stalled",
     AT(batch_stall_ms), .min = 1},
    {"batch-retention", &T_DURATION, "1h", "keep finished batches this long",
     AT(batch_retention_ms), .min = 1},
    {"batch-idle", &T_DURATION, "24h", "forget a running batch this long silent; 0: never",
     AT(batch_idle_ms)},
    {"max-batches", &T_INT, "10000", "batches kept; the least recently updated go first",
     AT(max_batches), .min = 1, .max = 1000000},

    /* security */
    {"jwt-secret", &T_FILE, NULL,
     "HS256 key file, or a directory of them (kid: the file name); enables auth; SIGHUP reloads",
     AT(jwt_secret)},
    {"jwt-public-key", &T_FILE, NULL,
     "RS256/ES256 public key file, or a directory of them (kid: the file name); enables auth; "
     "SIGHUP reloads",
     AT(jwt_public_key)},
    {"jwt-audience", &T_STRING, NULL, "tokens must name this in \"aud\"", AT(jwt_audience)},
    {"jwt-issuer", &T_STRING, NULL, "tokens must have this \"iss\"", AT(jwt_issuer)},
    {"jwt-es256-low-s", &T_BOOL, "false",
     "refuse ES256 signatures with a high S (for issuers that normalize S)", AT(jwt_es256_low_s)},
    {"allowed-origins", &T_LIST, NULL, "origins allowed the WebSocket and CORS (/api/, /wsgate.js)",
     LIST(allowed_origins, allowed_origin_count)},
    {"public-host", &T_LIST, NULL, "host names clients use; their origins are allowed by default",
     LIST(public_hosts, public_host_count), .valid = config_host_valid,
     .expected = "a comma-separated list of host names or addresses", .metavar = "HOST[,HOST...]"},
    {"metrics-auth", &T_BOOL, "false", "with JWT auth, /metrics needs a token too",
     AT(metrics_auth)},
    {"tls-cert", &T_FILE, NULL, "TLS certificate, with --tls-key", AT(tls_cert)},
    {"tls-key", &T_FILE, NULL, "TLS private key, with --tls-cert", AT(tls_key)},

    /* compression */
    {"compression", &T_BOOL, "true", "negotiate permessage-deflate with clients that offer it",
     AT(compression)},
    {"compression-min-bytes", &T_SIZE, "64", "frames smaller than this are sent uncompressed",
     AT(compression_min)},
    {"compression-groups", &T_INT, "256",
     "shared compressors (one per set of subscriptions held by 2+ clients); 0: none",
     AT(compression_groups), .min = 0, .max = 100000},
    {"compression-level", &T_INT, "6", "zlib level of the shared compressors (1 fast, 9 small)",
     AT(compression_level), .min = 1, .max = 9},
    {"compression-mem-level", &T_INT, "8",
     "zlib memLevel (1-9): a compressor takes 128 KiB + 2^(9+N) bytes", AT(compression_mem_level),
     .min = 1, .max = 9},

    /* logs */
    {"log-level", &T_LOG_LEVEL, "info", "lowest level logged: debug, info, warn or error",
     AT(log_level)},
    {"log-format", &T_LOG_FORMAT, "auto", "auto, json or text; auto is text on a terminal",
     AT(log_format)},
    /* Read first by config_load and stored nowhere. */
    {"config", &T_CONFIG, NULL, "JSON object of settings, keyed by these option names",
     .metavar = "FILE"},
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

/* ---- helpers ---- */

/* The option named by the n bytes at name, or NULL. */
static const struct opt *config_find(const char *name, size_t n)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strlen(options[i].name) == n && memcmp(options[i].name, name, n) == 0)
            return &options[i];
    return NULL;
}

/* "queue-bytes" -> "WSGATE_QUEUE_BYTES". */
static void config_env_name(const struct opt *o, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, ENV_PREFIX "%s", o->name);
    for (size_t i = strlen(ENV_PREFIX); i < n && i < outlen; i++)
        out[i] = out[i] == '-' ? '_' : (char)toupper((unsigned char)out[i]);
}

/* The option whose environment name is the n bytes at name, or NULL. */
static const struct opt *config_find_env(const char *name, size_t n)
{
    char env[64];
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        config_env_name(&options[i], env, sizeof(env));
        if (strlen(env) == n && memcmp(env, name, n) == 0)
            return &options[i];
    }
    return NULL;
}

/* Write a one-line message to err (if any) and return CONFIG_ERROR (-EINVAL). */
__attribute__((format(printf, 3, 4))) static int config_fail(char *err, size_t errlen,
                                                             const char *fmt, ...)
{
    va_list ap;
    if (err && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return CONFIG_ERROR;
}

/* A value as it may appear in a one-line error: control characters become
 * '?', long values are cut with "...". */
static const char *config_quote(const char *text, char *out, size_t outlen)
{
    size_t n = 0;
    for (; text[n] && n + 4 < outlen; n++)
        out[n] = iscntrl((unsigned char)text[n]) ? '?' : text[n];
    if (text[n])
        memcpy(out + n - 3, "...", 3);
    out[n] = '\0';
    return out;
}

/* The largest value a numeric option accepts. */
static int64_t config_max(const struct opt *o)
{
    if (o->max != 0)
        return o->max;
    if (o->type->store == STORE_INT)
        return INT_MAX;
    if (o->type->store == STORE_SIZE && (uint64_t)SIZE_MAX < (uint64_t)INT64_MAX)
        return (int64_t)SIZE_MAX;
    return INT64_MAX;
}

/* Parse and store the value of a numeric option: 0, -EINVAL (not a number
 * of its kind) or -ERANGE; `range` tells the accepted range when the number
 * itself was well-formed but outside it. */
static int config_set_number(const struct opt *o, const char *text, wsg_config *cfg, char *range,
                             size_t rangelen)
{
    int64_t v, max = config_max(o);

    int rc = o->type->number(text, &v);
    if (rc != 0)
        return rc;
    if (v < o->min || v > max) {
        if (max == o->max)
            snprintf(range, rangelen, ", from %lld%s to %lld%s", (long long)o->min, o->type->unit,
                     (long long)max, o->type->unit);
        else
            snprintf(range, rangelen, ", at least %lld%s", (long long)o->min, o->type->unit);
        return -ERANGE;
    }
    if (o->type->store == STORE_INT)
        *FIELD(cfg, o, int) = (int)v;
    else if (o->type->store == STORE_INT64)
        *FIELD(cfg, o, int64_t) = v;
    else
        *FIELD(cfg, o, size_t) = (size_t)v;
    return 0;
}

/* Parse text as the value of o, from `source` (for errors), into cfg: 0, or
 * CONFIG_ERROR (-EINVAL) with a one-line message in err. */
static int config_set(const struct opt *o, const char *text, const char *source, wsg_config *cfg,
                      char *err, size_t errlen)
{
    const char *expected = o->expected ? o->expected : o->type->expected;
    char range[96] = "";
    int rc = o->type->number ? config_set_number(o, text, cfg, range, sizeof(range))
                             : o->type->set(o, text, cfg);

    if (rc == 0)
        return 0;
    if (o->secret)
        return config_fail(err, errlen, "invalid value for --%s (%s): expected %s", o->name, source,
                           expected);
    char quoted[80];
    return config_fail(err, errlen, "invalid value \"%s\" for --%s (%s): expected %s%s",
                       config_quote(text, quoted, sizeof(quoted)), o->name, source, expected,
                       range);
}

/* ---- the sources ---- */

/* Each function below that takes err returns 0, or CONFIG_ERROR (-EINVAL)
 * with a one-line message in err (config_load_all may also return CONFIG_EXIT). */

/* The text of a config file value for o, in *owned (to free), or an error. */
static int config_json_text(const struct opt *o, json_t *value, const char *path, char **owned,
                            char *err, size_t errlen)
{
    if (json_is_string(value)) {
        *owned = xstrdup(json_string_value(value));
        return 0;
    }
    if (json_is_number(value) && o->type->json_number) {
        char buf[64];
        if (json_is_integer(value))
            snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        else
            snprintf(buf, sizeof(buf), "%.17g", json_real_value(value));
        *owned = xstrdup(buf);
        return 0;
    }
    if (json_is_boolean(value) && o->type->json_bool) {
        *owned = xstrdup(json_is_true(value) ? "true" : "false");
        return 0;
    }
    if (json_is_array(value) && o->type->json_array) {
        size_t i, len = 1;
        json_t *item;
        json_array_foreach(value, i, item)
        {
            if (!json_is_string(item))
                return config_fail(err, errlen,
                                   "config file %s: key \"%s\" must be an array of strings", path,
                                   o->name);
            len += strlen(json_string_value(item)) + 1;
        }
        /* Joined with commas, it is parsed like any other list. */
        char *text = xmalloc(len), *p = text;
        json_array_foreach(value, i, item)
        {
            size_t n = strlen(json_string_value(item));
            if (i > 0)
                *p++ = ',';
            memcpy(p, json_string_value(item), n);
            p += n;
        }
        *p = '\0';
        *owned = text;
        return 0;
    }
    return config_fail(err, errlen, "config file %s: key \"%s\" must be a string%s", path, o->name,
                       o->type->json_number  ? " or a number"
                       : o->type->json_array ? " or an array of strings"
                       : o->type->json_bool  ? " or a boolean"
                                             : "");
}

/* Apply the JSON object in the file at path. */
static int config_load_file(wsg_config *cfg, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    const char *key;
    json_t *value;
    char source[PATH_MAX + 64];
    int rc = 0;

    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (jerr.line > 0)
            return config_fail(err, errlen, "config file %s: %s (line %d)", path, jerr.text,
                               jerr.line);
        return config_fail(err, errlen, "config file %s: %s", path, jerr.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return config_fail(err, errlen, "config file %s: expected a JSON object", path);
    }
    json_object_foreach(root, key, value)
    {
        const struct opt *o = config_find(key, strlen(key));
        char *text = NULL;
        if (!o) {
            rc = config_fail(err, errlen, "config file %s: unknown key \"%s\"", path, key);
            break;
        }
        if (o->type == &T_CONFIG) {
            rc = config_fail(err, errlen, "config file %s: key \"config\" is not allowed here",
                             path);
            break;
        }
        rc = config_json_text(o, value, path, &text, err, errlen);
        if (rc == 0) {
            snprintf(source, sizeof(source), "config file %s, key \"%s\"", path, key);
            rc = config_set(o, text, source, cfg, err, errlen);
        }
        free(text);
        if (rc != 0)
            break;
    }
    json_decref(root);
    return rc;
}

/* WSGATE_* variables that are not options: the build, test and script
 * variables of this repository (README "Configuration" lists them), which
 * may be set in the environment a gateway is started from. WSGATE_TEST_*
 * are all such. */
static const char *const config_env_not_options[] = {
    "WSGATE_ARGS",
    "WSGATE_BIN",
    "WSGATE_BROWSER",
    "WSGATE_CHAOS_CLIENTS",
    "WSGATE_FAILOVER_CLIENTS",
    "WSGATE_LIVE_S",
    "WSGATE_PORT",
    "WSGATE_SANITIZED",
    "WSGATE_SCREENSHOT",
    "WSGATE_SIM_BIN",
    "WSGATE_WEB",
};

/* Is the variable named by the n bytes at name one of those? */
static bool config_env_ignored(const char *name, size_t n)
{
    static const char test_prefix[] = ENV_PREFIX "TEST_";
    if (n > sizeof(test_prefix) - 1 && memcmp(name, test_prefix, sizeof(test_prefix) - 1) == 0)
        return true;
    for (size_t i = 0; i < sizeof(config_env_not_options) / sizeof(config_env_not_options[0]); i++)
        if (strlen(config_env_not_options[i]) == n &&
            memcmp(config_env_not_options[i], name, n) == 0)
            return true;
    return false;
}

/* Apply every WSGATE_* variable that names an option; one that names none
 * (a typo, an option that is gone) is an error unless config_env_ignored.
 * Entries without '=' are skipped. */
static int config_load_env(wsg_config *cfg, char **envp, char *err, size_t errlen)
{
    for (char **e = envp; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) != 0 || !eq)
            continue;
        size_t n = (size_t)(eq - *e);
        const struct opt *o = config_find_env(*e, n);
        if (!o && config_env_ignored(*e, n))
            continue;
        if (!o) {
            char var[80], quoted[80];
            snprintf(var, sizeof(var), "%.*s", (int)(n < 79 ? n : 79), *e);
            return config_fail(err, errlen,
                               "unknown environment variable %s (no such option; wsgate --help "
                               "lists the WSGATE_* names)",
                               config_quote(var, quoted, sizeof(quoted)));
        }
        char name[64];
        config_env_name(o, name, sizeof(name));
        if (config_set(o, eq + 1, name, cfg, err, errlen) != 0)
            return CONFIG_ERROR;
    }
    return 0;
}

/* The value of WSGATE_CONFIG in envp, or NULL. */
static const char *config_env_file(char **envp)
{
    const char *name = ENV_PREFIX "CONFIG=";
    for (char **e = envp; *e; e++)
        if (strncmp(*e, name, strlen(name)) == 0)
            return *e + strlen(name);
    return NULL;
}

/* Read the flag at argv[*i] ("--name value" or "--name=value"), advancing *i
 * past it. Returns 0 with *o and *value set; CONFIG_EXIT after printing
 * --help or --version; CONFIG_ERROR for an unknown flag or a missing value. */
static int config_read_flag(int argc, char **argv, int *i, const struct opt **o, const char **value,
                            char *err, size_t errlen)
{
    const char *arg = argv[(*i)++];

    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        config_print_help(stdout);
        return CONFIG_EXIT;
    }
    if (strcmp(arg, "--version") == 0) {
        printf("wsgate %s\n", WSGATE_VERSION);
        return CONFIG_EXIT;
    }
    if (strncmp(arg, "--", 2) != 0) {
        char quoted[80];
        if (arg[0] == '-')
            return config_fail(err, errlen, "unknown option %s",
                               config_quote(arg, quoted, sizeof(quoted)));
        return config_fail(err, errlen, "unexpected argument \"%s\"",
                           config_quote(arg, quoted, sizeof(quoted)));
    }
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    *o = config_find(name, n);
    if (!*o) {
        char flag[80], quoted[80];
        snprintf(flag, sizeof(flag), "%.*s", (int)n, name);
        return config_fail(err, errlen, "unknown option --%s",
                           config_quote(flag, quoted, sizeof(quoted)));
    }
    if (eq) {
        *value = eq + 1;
        return 0;
    }
    /* A following "--flag" is taken as a forgotten value, not as the value. */
    if (*i >= argc || strncmp(argv[*i], "--", 2) == 0)
        return config_fail(err, errlen, "missing value for --%s", (*o)->name);
    *value = argv[(*i)++];
    return 0;
}

/* Checks that involve more than one option. */
static int config_check(const wsg_config *cfg, char *err, size_t errlen)
{
    if (cfg->ping_timeout_ms <= cfg->heartbeat_ms)
        return config_fail(err, errlen,
                           "--ping-timeout (%lldms) must be greater than --heartbeat (%lldms)",
                           (long long)cfg->ping_timeout_ms, (long long)cfg->heartbeat_ms);
    if (cfg->batch_idle_ms > 0 && cfg->batch_idle_ms <= cfg->batch_stall_ms)
        return config_fail(err, errlen,
                           "--batch-idle (%lldms) must be 0 or greater than --batch-stall (%lldms)",
                           (long long)cfg->batch_idle_ms, (long long)cfg->batch_stall_ms);
    if (cfg->jwt_secret && cfg->jwt_public_key)
        return config_fail(err, errlen, "--jwt-secret and --jwt-public-key exclude each other");
    if ((cfg->metrics_auth || cfg->jwt_audience || cfg->jwt_issuer) && !cfg->jwt_secret &&
        !cfg->jwt_public_key)
        return config_fail(err, errlen, "--%s needs JWT auth (--jwt-secret or --jwt-public-key)",
                           cfg->metrics_auth   ? "metrics-auth"
                           : cfg->jwt_audience ? "jwt-audience"
                                               : "jwt-issuer");
    if (!cfg->tls_cert != !cfg->tls_key)
        return config_fail(err, errlen, "--tls-cert and --tls-key must be given together");
    if (!cfg->nats_cert != !cfg->nats_key)
        return config_fail(err, errlen, "--nats-cert and --nats-key must be given together");
    return 0;
}

/* Everything but the cleanup of config_load. */
static int config_load_all(wsg_config *cfg, int argc, char **argv, char **envp, char *err,
                           size_t errlen)
{
    const struct opt *o;
    const char *value, *file = config_env_file(envp), *file_source = ENV_PREFIX "CONFIG";
    int rc;

    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].def &&
            config_set(&options[i], options[i].def, "default", cfg, err, errlen) != 0)
            return CONFIG_ERROR;

    /* First pass over argv: syntax, --help, --version and --config. */
    for (int i = 1; i < argc;) {
        if ((rc = config_read_flag(argc, argv, &i, &o, &value, err, errlen)) != 0)
            return rc;
        if (o->type == &T_CONFIG) {
            file = value;
            file_source = "command line";
        }
    }
    if (file) {
        if (config_set(config_find("config", 6), file, file_source, cfg, err, errlen) != 0 ||
            config_load_file(cfg, file, err, errlen) != 0)
            return CONFIG_ERROR;
    }
    if (config_load_env(cfg, envp, err, errlen) != 0)
        return CONFIG_ERROR;
    for (int i = 1; i < argc;) {
        config_read_flag(argc, argv, &i, &o, &value, err, errlen);
        if (config_set(o, value, "command line", cfg, err, errlen) != 0)
            return CONFIG_ERROR;
    }
    return config_check(cfg, err, errlen);
}

int config_load(wsg_config *cfg, int argc, char **argv, char **envp, char *err, size_t errlen)
{
    static char *no_env[] = {NULL};

    memset(cfg, 0, sizeof(*cfg));
    if (err && errlen > 0)
        err[0] = '\0';
    if (!envp)
        envp = environ ? environ : no_env;
    int rc = config_load_all(cfg, argc, argv, envp, err, errlen);
    if (rc != CONFIG_OK)
        config_free(cfg);
    return rc;
}

void config_free(wsg_config *cfg)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].type->release)
            options[i].type->release(&options[i], cfg);
    memset(cfg, 0, sizeof(*cfg));
}

void config_print_help(FILE *out)
{
    char left[OPTION_COUNT][64], env[64];
    int width = (int)strlen("-h, --help");

    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const struct opt *o = &options[i];
        snprintf(left[i], sizeof(left[i]), "--%s %s", o->name,
                 o->metavar ? o->metavar : o->type->metavar);
        if ((int)strlen(left[i]) > width)
            width = (int)strlen(left[i]);
    }
    fprintf(out, "Usage: wsgate [options]\n");
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const struct opt *o = &options[i];
        config_env_name(o, env, sizeof(env));
        fprintf(out, "  %-*s  %s (env %s%s%s)\n", width, left[i], o->help, env,
                o->def ? ", default " : "", o->def ? o->def : "");
    }
    fprintf(out, "  %-*s  %s\n", width, "-h, --help", "print this help and exit");
    fprintf(out, "  %-*s  %s\n", width, "--version", "print the version and exit");
    fprintf(out, "Precedence: defaults < config file < environment < flags.\n");
}
