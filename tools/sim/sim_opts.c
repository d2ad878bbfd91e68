/* sim_opts.c: wsgate-sim options: defaults, --help, parsing and validation. */
#include "sim_opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char sim_opts_usage[] =
    "Usage: wsgate-sim [options]\n"
    "Simulates backend batch workers: publishes the batch, license and verification\n"
    "events of EVENTS.md to a NATS JetStream stream.\n"
    "\n"
    "  --nats URL[,URL]      NATS servers (default nats://127.0.0.1:4222)\n"
    "  --stream NAME         JetStream stream (default EVENTS)\n"
    "  --create-stream       create the stream (subjects batch.>, license.>,\n"
    "                        verification.>) if missing; otherwise wait for the\n"
    "                        gateway to create it (default: wait)\n"
    "  --batches N           concurrent batches, 0 for verifications only (default 1)\n"
    "  --size N              assignments per batch (default 1000)\n"
    "  --workers W           parallel workers per batch (default 15)\n"
    "  --speed X             time scale; at 1.0 an assignment takes 5.4 s on average,\n"
    "                        so the default batch takes about 6 minutes (default 1.0)\n"
    "  --fail-rate F         probability that an assignment fails (default 0.02)\n"
    "  --mode MODE           both | progress | license (default both)\n"
    "  --batch-prefix STR    batch ids are STR-1, STR-2, ... from [A-Za-z0-9_-]\n"
    "                        (default \"b\" and a time-based suffix, e.g. bk3x9q)\n"
    "  --verifications RATE  verification events per second, 0 for none (default 20)\n"
    "  --duration SECONDS    keep publishing verifications at least this long\n"
    "                        (default: until the batches complete; with --batches 0,\n"
    "                        until interrupted)\n"
    "  --seed N              seed of every random choice (default: time-based)\n"
    "  --connect-timeout S   give up if NATS is unreachable this long at start\n"
    "                        (default 30)\n"
    "  --quiet               print errors only\n"
    "  --help                print this help and exit\n";

enum {
    OPT_NATS = 256,
    OPT_STREAM,
    OPT_CREATE_STREAM,
    OPT_BATCHES,
    OPT_SIZE,
    OPT_WORKERS,
    OPT_SPEED,
    OPT_FAIL_RATE,
    OPT_MODE,
    OPT_PREFIX,
    OPT_VERIFICATIONS,
    OPT_DURATION,
    OPT_SEED,
    OPT_CONNECT_TIMEOUT,
    OPT_QUIET,
    OPT_HELP,
};

static const struct option sim_opts_long[] = {
    {"nats", required_argument, NULL, OPT_NATS},
    {"stream", required_argument, NULL, OPT_STREAM},
    {"create-stream", no_argument, NULL, OPT_CREATE_STREAM},
    {"batches", required_argument, NULL, OPT_BATCHES},
    {"size", required_argument, NULL, OPT_SIZE},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"speed", required_argument, NULL, OPT_SPEED},
    {"fail-rate", required_argument, NULL, OPT_FAIL_RATE},
    {"mode", required_argument, NULL, OPT_MODE},
    {"batch-prefix", required_argument, NULL, OPT_PREFIX},
    {"verifications", required_argument, NULL, OPT_VERIFICATIONS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"seed", required_argument, NULL, OPT_SEED},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Print "wsgate-sim: --name: problem" and return -EINVAL. The option parsers
 * below (sim_opts_int ... sim_opts_stream) return 0 or, through this, -EINVAL. */
static int sim_opts_fail(const char *name, const char *problem, const char *value)
{
    fprintf(stderr, "wsgate-sim: --%s: %s: '%s' (see --help)\n", name, problem, value);
    return -EINVAL;
}

/* Parse a whole decimal integer within [lo, hi]. */
static int sim_opts_int(const char *name, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return sim_opts_fail(name, "not an integer", s);
    if (v < lo || v > hi) {
        char range[64];
        snprintf(range, sizeof range, "must be between %ld and %ld", lo, hi);
        return sim_opts_fail(name, range, s);
    }
    *out = (int)v;
    return 0;
}

/* Parse a finite number within [lo, hi]; lo itself is excluded when open_lo. */
static int sim_opts_num(const char *name, const char *s, double lo, bool open_lo, double hi,
                        double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return sim_opts_fail(name, "not a number", s);
    if (v < lo || (open_lo && v == lo) || v > hi) {
        char range[64];
        snprintf(range, sizeof range, "must be %s %g and at most %g",
                 open_lo ? "greater than" : "at least", lo, hi);
        return sim_opts_fail(name, range, s);
    }
    *out = v;
    return 0;
}

static int sim_opts_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return sim_opts_fail("seed", "not a non-negative integer", s);
    *out = v;
    return 0;
}

static int sim_opts_mode(const char *s, enum sim_mode *out)
{
    for (int m = SIM_MODE_BOTH; m <= SIM_MODE_LICENSE; m++) {
        if (strcmp(s, sim_opts_mode_name((enum sim_mode)m)) == 0) {
            *out = (enum sim_mode)m;
            return 0;
        }
    }
    return sim_opts_fail("mode", "expected both, progress or license", s);
}

/* A batch prefix is 1..48 characters of [A-Za-z0-9_-] (a NATS subject token). */
static int sim_opts_prefix(const char *s, char *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > SIM_PREFIX_MAX)
        return sim_opts_fail("batch-prefix", "must be 1 to 48 characters", s);
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != n)
        return sim_opts_fail("batch-prefix", "only A-Z a-z 0-9 _ - are allowed", s);
    memcpy(out, s, n + 1);
    return 0;
}

/* A stream name: 1..64 characters, none of them a space, '.', '*', '>', '/' or '\\'. */
static int sim_opts_stream(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || strpbrk(s, " \t.*>/\\"))
        return sim_opts_fail("stream", "not a valid stream name", s);
    return 0;
}

/* Every server URL in the comma-separated list must be non-empty. */
static int sim_opts_urls(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] == ',' || s[n - 1] == ',' || strstr(s, ",,"))
        return sim_opts_fail("nats", "expected URL[,URL...]", s);
    return 0;
}

/* Time-based defaults, so that reruns use new batch ids and new random choices. */
static void sim_opts_defaults(struct sim_opts *o)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    uint64_t mix = t ^ ((uint64_t)getpid() << 32);

    memset(o, 0, sizeof *o);
    o->nats = "nats://127.0.0.1:4222";
    o->stream = "EVENTS";
    o->batches = 1;
    o->size = 1000;
    o->workers = 15;
    o->speed = 1.0;
    o->fail_rate = 0.02;
    o->mode = SIM_MODE_BOTH;
    o->verifications = 20;
    o->duration = -1;
    o->seed = mix;
    o->connect_timeout = 30;

    /* "b" + 5 base-36 characters of the clock in tenths of a second, mixed
     * with the process id: repeats only after about 70 days. */
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint64_t v = t / 100000000u + (uint64_t)getpid() * 7919u;
    o->prefix[0] = 'b';
    for (int i = 5; i >= 1; i--, v /= 36)
        o->prefix[i] = digits[v % 36];
    o->prefix[6] = '\0';
}

const char *sim_opts_mode_name(enum sim_mode m)
{
    switch (m) {
    case SIM_MODE_PROGRESS:
        return "progress";
    case SIM_MODE_LICENSE:
        return "license";
    default:
        return "both";
    }
}

/* Apply one option; returns 0, 1 (help) or -EINVAL (after printing why). */
static int sim_opts_apply(struct sim_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_NATS:
        o->nats = arg;
        return sim_opts_urls(arg);
    case OPT_STREAM:
        o->stream = arg;
        return sim_opts_stream(arg);
    case OPT_CREATE_STREAM:
        o->create_stream = true;
        return 0;
    case OPT_BATCHES:
        return sim_opts_int("batches", arg, 0, 1000, &o->batches);
    case OPT_SIZE:
        return sim_opts_int("size", arg, 1, 10000000, &o->size);
    case OPT_WORKERS:
        return sim_opts_int("workers", arg, 1, 10000, &o->workers);
    case OPT_SPEED:
        return sim_opts_num("speed", arg, 0, true, 1e6, &o->speed);
    case OPT_FAIL_RATE:
        return sim_opts_num("fail-rate", arg, 0, false, 1, &o->fail_rate);
    case OPT_MODE:
        return sim_opts_mode(arg, &o->mode);
    case OPT_PREFIX:
        return sim_opts_prefix(arg, o->prefix);
    case OPT_VERIFICATIONS:
        return sim_opts_num("verifications", arg, 0, false, 100000, &o->verifications);
    case OPT_DURATION:
        return sim_opts_num("duration", arg, 0, true, 1e9, &o->duration);
    case OPT_SEED:
        return sim_opts_seed(arg, &o->seed);
    case OPT_CONNECT_TIMEOUT:
        return sim_opts_num("connect-timeout", arg, 0, true, 1e9, &o->connect_timeout);
    case OPT_QUIET:
        o->quiet = true;
        return 0;
    case OPT_HELP:
        fputs(sim_opts_usage, stdout);
        return 1;
    default:
        return -EINVAL; /* getopt already printed the problem */
    }
}

int sim_opts_parse(struct sim_opts *o, int argc, char **argv)
{
    sim_opts_defaults(o);
    opterr = 0; /* we print our own one-line errors */
    int opt;
    while ((opt = getopt_long(argc, argv, "", sim_opts_long, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            fprintf(stderr, "wsgate-sim: unknown option or missing value: '%s' (see --help)\n",
                    argv[optind - 1]);
            return -EINVAL;
        }
        int r = sim_opts_apply(o, opt, optarg);
        if (r != 0)
            return r;
    }
    if (optind < argc) {
        fprintf(stderr, "wsgate-sim: unexpected argument: '%s' (see --help)\n", argv[optind]);
        return -EINVAL;
    }
    if (o->batches == 0 && o->verifications == 0) {
        fprintf(stderr, "wsgate-sim: nothing to simulate: --batches 0 and --verifications 0\n");
        return -EINVAL;
    }
    return 0;
}
