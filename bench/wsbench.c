/* wsbench.c: WebSocket fan-out load generator: subscribers in forked epoll processes, a paced
 * JetStream publisher stamping each payload, latency and server CPU per rate (see README.md). */
#include "wsb.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIDS 16

struct watched {
    char name[32];
    int pid;
    double cpu0, cpu1;
};

struct phase {
    double rate;
    long msgs, pub_errors;
    uint64_t live, expected, delivered, unparsed_before;
    uint64_t wire_bytes, app_bytes, inflated; /* read during the phase (first publish to end) */
    uint64_t read;                            /* deliveries read (all unless --sample) */
    uint64_t out_of_order, duplicates, not_intact;
    double pub_s, wall_s, p50, p90, p99, p999, max_ms;
    double cpu[MAX_PIDS], gen_cpu;
    double tcp_mem_peak; /* bytes of TCP buffers, the highest sample during the phase */
};

static struct {
    enum wsb_proto proto;
    struct wsb_url urls[WSB_MAX_URLS];
    int nurls;
    long conns;
    int procs;
    const char *subject, *nats_url, *label;
    double rates[WSB_PHASES];
    int nrates;
    double duration, drain, connect_timeout, settle;
    long min_msgs;
    int size, subjects, src_ips, inflight, json_only, keep_going;
    int deflate, window_bits, sample;
    enum wsb_payload payload;
    struct watched pids[MAX_PIDS];
    int npids;
} opt = {
    .proto = WSB_PROTO_WSGATE,
    .conns = 1000,
    .subject = "license.>",
    .nats_url = "nats://127.0.0.1:4222",
    .label = "",
    .duration = 10,
    .drain = 15,
    .connect_timeout = 300,
    .settle = 2,
    .min_msgs = 5,
    .size = 200,
    .subjects = 8,
    .src_ips = 50,
    .inflight = 200,
};

static struct wsb_shared *shared;
static pid_t children[256];
static int nchildren;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: wsbench --url ws://HOST:PORT/PATH [--url ...] [options]\n"
            "  --proto wsgate|nats   protocol of the servers (wsgate)\n"
            "  --conns N             subscribers, spread over the URLs (1000)\n"
            "  --procs N             client processes (N/18000 rounded up)\n"
            "  --subject S           subscription pattern (license.>)\n"
            "  --nats URL            NATS server the publisher uses (nats://127.0.0.1:4222)\n"
            "  --rates LIST          messages per second, one phase each (1,10,50,100)\n"
            "  --duration S          seconds of publishing per rate (10)\n"
            "  --min-msgs N          at least N messages per rate (5)\n"
            "  --size B              payload bytes of padded payloads (200)\n"
            "  --payload padded|event  padded license events of --size bytes (padded), or\n"
            "                        realistic ones, ~225 B, none alike (event: for --deflate)\n"
            "  --deflate             offer permessage-deflate (client_max_window_bits) and\n"
            "                        inflate what comes compressed\n"
            "  --window-bits N       with --deflate, request server_max_window_bits=N (9-15)\n"
            "  --sample K            wsgate: only connection i with i %% K == 0 reads (inflate,\n"
            "                        check, time) its messages; the others count them (1)\n"
            "  --subjects K          publish to license.bench0..K-1.assigned (8)\n"
            "  --src-ips K           source addresses 127.0.0.1..K (50)\n"
            "  --inflight K          connection attempts in flight per process (200)\n"
            "  --drain S             wait for deliveries after the last publish (15)\n"
            "  --keep-going          run the higher rates after one that did not deliver all\n"
            "  --settle S            pause after subscribing (2)\n"
            "  --connect-timeout S   give up connecting after S (300)\n"
            "  --pid NAME=PID        report CPU and RSS of this process (repeatable)\n"
            "  --label TEXT          copied into the JSON\n"
            "  --json-only           print only the JSON line\n"
            "Prints a table and one JSON line on stdout; progress on stderr.\n");
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* CPU seconds (user + system) of pid, NAN when gone. */
static double cpu_of(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return NAN;
    unsigned long ut = 0, st = 0;
    /* after ") ": state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return NAN;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of pid in bytes, NAN when gone. */
static double rss_of(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    double v = NAN;
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
            v = (double)kb * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

/* The kernel's TCP sockets in use and their buffer memory in bytes (/proc/net/sockstat). */
static void tcp_sockstat(double *inuse, double *mem)
{
    char line[256];
    *inuse = *mem = NAN;
    FILE *f = fopen("/proc/net/sockstat", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        long a, m;
        if (sscanf(line, "TCP: inuse %ld orphan %*d tw %*d alloc %*d mem %ld", &a, &m) == 2) {
            *inuse = (double)a;
            *mem = (double)m * (double)sysconf(_SC_PAGESIZE);
        }
    }
    fclose(f);
}

/* The kernel's slab memory in bytes (Slab in /proc/meminfo: socket structures live there). */
static double slab_bytes(void)
{
    char line[256];
    double v = NAN;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return v;
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "Slab: %ld kB", &kb) == 1)
            v = (double)kb * 1024;
    }
    fclose(f);
    return v;
}

static double gen_cpu(void)
{
    double s = 0;
    for (int i = 0; i < nchildren; i++)
        s += cpu_of(children[i]);
    return s;
}

/* ws://HOST:PORT[/PATH] into u: 0, or -EINVAL for anything else. */
static int parse_url(const char *s, struct wsb_url *u)
{
    const char *p = strncmp(s, "ws://", 5) == 0 ? s + 5 : NULL;
    if (!p)
        return -EINVAL;
    const char *colon = strchr(p, ':');
    if (!colon || colon - p >= (long)sizeof u->host)
        return -EINVAL;
    memcpy(u->host, p, (size_t)(colon - p));
    u->host[colon - p] = 0;
    char *end;
    u->port = (int)strtol(colon + 1, &end, 10);
    if (u->port <= 0 || u->port > 65535)
        return -EINVAL;
    snprintf(u->path, sizeof u->path, "%s", *end ? end : "/");
    return 0;
}

static void die(const char *msg)
{
    fprintf(stderr, "wsbench: %s\n", msg);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    enum {
        O_PROTO = 256,
        O_URL,
        O_CONNS,
        O_PROCS,
        O_SUBJECT,
        O_NATS,
        O_RATES,
        O_DURATION,
        O_MINMSGS,
        O_SIZE,
        O_SUBJECTS,
        O_SRCIPS,
        O_INFLIGHT,
        O_DRAIN,
        O_SETTLE,
        O_CTIMEOUT,
        O_PID,
        O_LABEL,
        O_JSON,
        O_HELP,
        O_KEEP,
        O_DEFLATE,
        O_WBITS,
        O_PAYLOAD,
        O_SAMPLE
    };
    static const struct option lo[] = {
        {"proto", 1, 0, O_PROTO},       {"url", 1, 0, O_URL},
        {"conns", 1, 0, O_CONNS},       {"procs", 1, 0, O_PROCS},
        {"subject", 1, 0, O_SUBJECT},   {"nats", 1, 0, O_NATS},
        {"rates", 1, 0, O_RATES},       {"duration", 1, 0, O_DURATION},
        {"min-msgs", 1, 0, O_MINMSGS},  {"size", 1, 0, O_SIZE},
        {"subjects", 1, 0, O_SUBJECTS}, {"src-ips", 1, 0, O_SRCIPS},
        {"inflight", 1, 0, O_INFLIGHT}, {"drain", 1, 0, O_DRAIN},
        {"settle", 1, 0, O_SETTLE},     {"connect-timeout", 1, 0, O_CTIMEOUT},
        {"pid", 1, 0, O_PID},           {"label", 1, 0, O_LABEL},
        {"json-only", 0, 0, O_JSON},    {"help", 0, 0, O_HELP},
        {"keep-going", 0, 0, O_KEEP},   {"deflate", 0, 0, O_DEFLATE},
        {"window-bits", 1, 0, O_WBITS}, {"payload", 1, 0, O_PAYLOAD},
        {"sample", 1, 0, O_SAMPLE},     {0, 0, 0, 0}};
    int c;
    char *end;
    opt.rates[0] = 1, opt.rates[1] = 10, opt.rates[2] = 50, opt.rates[3] = 100;
    opt.nrates = 4;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_PROTO:
            if (strcmp(optarg, "wsgate") == 0)
                opt.proto = WSB_PROTO_WSGATE;
            else if (strcmp(optarg, "nats") == 0)
                opt.proto = WSB_PROTO_NATS;
            else
                die("--proto: wsgate or nats");
            break;
        case O_URL:
            if (opt.nurls == WSB_MAX_URLS || parse_url(optarg, &opt.urls[opt.nurls++]) < 0)
                die("--url: ws://HOST:PORT/PATH with a numeric IPv4 host (at most 32)");
            break;
        case O_CONNS:
            opt.conns = strtol(optarg, &end, 10);
            if (*end || opt.conns < 1)
                die("--conns: a positive integer");
            break;
        case O_PROCS:
            opt.procs = (int)strtol(optarg, &end, 10);
            if (*end || opt.procs < 1 || opt.procs > 256)
                die("--procs: 1 to 256");
            break;
        case O_SUBJECT:
            opt.subject = optarg;
            break;
        case O_NATS:
            opt.nats_url = optarg;
            break;
        case O_RATES: {
            opt.nrates = 0;
            for (char *p = optarg; *p;) {
                if (opt.nrates == WSB_PHASES)
                    die("--rates: at most 16");
                double r = strtod(p, &end);
                if (end == p || r <= 0)
                    die("--rates: comma-separated positive numbers");
                opt.rates[opt.nrates++] = r;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',')
                    die("--rates: comma-separated positive numbers");
            }
            break;
        }
        case O_DURATION:
            opt.duration = strtod(optarg, &end);
            if (*end || opt.duration <= 0)
                die("--duration: seconds > 0");
            break;
        case O_MINMSGS:
            opt.min_msgs = strtol(optarg, &end, 10);
            if (*end || opt.min_msgs < 1)
                die("--min-msgs: a positive integer");
            break;
        case O_SIZE:
            opt.size = (int)strtol(optarg, &end, 10);
            if (*end || opt.size < 1 || opt.size > 60000)
                die("--size: 1 to 60000");
            break;
        case O_SUBJECTS:
            opt.subjects = (int)strtol(optarg, &end, 10);
            if (*end || opt.subjects < 1)
                die("--subjects: a positive integer");
            break;
        case O_SRCIPS:
            opt.src_ips = (int)strtol(optarg, &end, 10);
            if (*end || opt.src_ips < 1 || opt.src_ips > 250)
                die("--src-ips: 1 to 250");
            break;
        case O_INFLIGHT:
            opt.inflight = (int)strtol(optarg, &end, 10);
            if (*end || opt.inflight < 1)
                die("--inflight: a positive integer");
            break;
        case O_DRAIN:
            opt.drain = strtod(optarg, &end);
            if (*end || opt.drain < 0)
                die("--drain: seconds");
            break;
        case O_SETTLE:
            opt.settle = strtod(optarg, &end);
            if (*end || opt.settle < 0)
                die("--settle: seconds");
            break;
        case O_CTIMEOUT:
            opt.connect_timeout = strtod(optarg, &end);
            if (*end || opt.connect_timeout <= 0)
                die("--connect-timeout: seconds");
            break;
        case O_PID: {
            char *eq = strchr(optarg, '=');
            if (!eq || opt.npids == MAX_PIDS || eq - optarg >= 32)
                die("--pid: NAME=PID (at most 16)");
            struct watched *w = &opt.pids[opt.npids++];
            memcpy(w->name, optarg, (size_t)(eq - optarg));
            w->name[eq - optarg] = 0;
            w->pid = (int)strtol(eq + 1, &end, 10);
            if (*end || w->pid <= 0)
                die("--pid: NAME=PID");
            break;
        }
        case O_LABEL:
            opt.label = optarg;
            break;
        case O_JSON:
            opt.json_only = 1;
            break;
        case O_KEEP:
            opt.keep_going = 1;
            break;
        case O_DEFLATE:
            opt.deflate = 1;
            break;
        case O_WBITS:
            opt.window_bits = (int)strtol(optarg, &end, 10);
            if (*end || opt.window_bits < 9 || opt.window_bits > 15)
                die("--window-bits: 9 to 15");
            break;
        case O_SAMPLE:
            opt.sample = (int)strtol(optarg, &end, 10);
            if (*end || opt.sample < 1)
                die("--sample: a positive integer");
            break;
        case O_PAYLOAD:
            if (strcmp(optarg, "padded") == 0)
                opt.payload = WSB_PAYLOAD_PADDED;
            else if (strcmp(optarg, "event") == 0)
                opt.payload = WSB_PAYLOAD_EVENT;
            else
                die("--payload: padded or event");
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind < argc || opt.nurls == 0) {
        usage(stderr);
        exit(2);
    }
    if (opt.window_bits && !opt.deflate)
        die("--window-bits needs --deflate");
    if (opt.sample > 1 && opt.proto != WSB_PROTO_WSGATE)
        die("--sample: wsgate only (a nats-server frame may hold several messages)");
    if (opt.sample == 0)
        opt.sample = 1;
    if (opt.procs == 0)
        opt.procs = (int)((opt.conns + 17999) / 18000);
    if (opt.procs > opt.conns)
        opt.procs = (int)opt.conns;
}

/* Sum of a slot field over every process. */
#define SUM(field)                                                                                 \
    ({                                                                                             \
        uint64_t s_ = 0;                                                                           \
        for (int k_ = 0; k_ < shared->nslots; k_++)                                                \
            s_ += shared->slot[k_].field;                                                          \
        s_;                                                                                        \
    })

static void stop_children(void)
{
    if (!shared)
        return;
    shared->stop = 1;
    for (int i = 0; i < nchildren; i++) {
        int st;
        double end = mono_s() + 5;
        while (waitpid(children[i], &st, WNOHANG) == 0) {
            if (mono_s() > end) {
                kill(children[i], SIGKILL);
                waitpid(children[i], &st, 0);
                break;
            }
            sleep_s(0.01);
        }
    }
    nchildren = 0;
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    interrupted = sig;
}

static void spawn_children(void)
{
    size_t sz = sizeof *shared + (size_t)opt.procs * sizeof(struct wsb_slot);
    shared = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        die("mmap failed");
    shared->nslots = opt.procs;
    shared->phase = -1;
    static struct wsb_client_cfg cfgs[256];
    long first = 0;
    for (int i = 0; i < opt.procs; i++) {
        long count = opt.conns / opt.procs + (i < opt.conns % opt.procs ? 1 : 0);
        cfgs[i] = (struct wsb_client_cfg){
            .proto = opt.proto,
            .urls = opt.urls,
            .nurls = opt.nurls,
            .subject = opt.subject,
            .first = first,
            .count = count,
            .src_ips = opt.src_ips,
            .inflight = opt.inflight,
            .deflate = opt.deflate,
            .window_bits = opt.window_bits,
            .sample = opt.sample,
            .phase = &shared->phase,
            .ev = {.kind = opt.payload, .size = opt.size, .subjects = opt.subjects}};
        first += count;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            die("fork failed");
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            signal(SIGINT, SIG_IGN);
            int rc = wsb_client_run(&cfgs[i], &shared->stop, &shared->slot[i]);
            _exit(rc < 0 ? 1 : 0);
        }
        children[nchildren++] = pid;
    }
}

/* Publishes the store refused (counted on nats.c's thread). */
static volatile long pub_nacks;

static void on_pub_err(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    if (__atomic_fetch_add(&pub_nacks, 1, __ATOMIC_RELAXED) == 0)
        fprintf(stderr, "wsbench: publish refused: %s\n", pae->ErrText ? pae->ErrText : "?");
}

/* Publish one message of phase p (asynchronously: the pace never waits for the store's ack): the
 * payload (wsb_event.c) carries ph, i and t, the publish time. */
static natsStatus publish(jsCtx *js, int p, long i, char *buf)
{
    struct wsb_event_cfg ev = {.kind = opt.payload, .size = opt.size, .subjects = opt.subjects};
    char subj[96];
    wsb_event_subject(subj, sizeof subj, &ev, i);
    size_t n = wsb_event(buf, (size_t)opt.size + 600, &ev, (unsigned)p, i, wsb_now_ns());
    return js_PublishAsync(js, subj, buf, (int)n, NULL);
}

static void run_phase(jsCtx *js, int p, struct phase *ph, char *buf)
{
    ph->rate = opt.rates[p];
    ph->msgs = (long)ceil(ph->rate * opt.duration);
    if (ph->msgs < opt.min_msgs)
        ph->msgs = opt.min_msgs;
    ph->live = SUM(subscribed) - SUM(closed);
    ph->expected = (uint64_t)ph->msgs * ph->live;
    for (int k = 0; k < opt.npids; k++)
        opt.pids[k].cpu0 = cpu_of(opt.pids[k].pid);
    double g0 = gen_cpu();
    uint64_t wire0 = SUM(wire_bytes), app0 = SUM(app_bytes), infl0 = SUM(inflated);
    shared->phase = p;
    if (!opt.json_only)
        fprintf(stderr, "[%s] %g msg/s: %ld messages to %llu subscribers\n", opt.label, ph->rate,
                ph->msgs, (unsigned long long)ph->live);
    double t0 = mono_s();
    for (long i = 0; i < ph->msgs && !interrupted; i++) {
        for (double wait; (wait = t0 + (double)i / ph->rate - mono_s()) > 0;) {
            double inuse, mem;
            tcp_sockstat(&inuse, &mem);
            if (mem > ph->tcp_mem_peak)
                ph->tcp_mem_peak = mem;
            sleep_s(wait < 0.02 ? wait : 0.02);
        }
        natsStatus s = publish(js, p, i, buf);
        if (s != NATS_OK) {
            ph->pub_errors++;
            if (ph->pub_errors == 1)
                fprintf(stderr, "wsbench: publish: %s\n", natsStatus_GetText(s));
        }
    }
    double tpub = mono_s();
    ph->pub_s = tpub - t0;
    long nack0 = pub_nacks;
    while (!interrupted && mono_s() < tpub + opt.drain) {
        uint64_t d = SUM(delivered[p]);
        if (d >= ph->expected)
            break;
        double inuse, mem;
        tcp_sockstat(&inuse, &mem);
        if (mem > ph->tcp_mem_peak)
            ph->tcp_mem_peak = mem;
        sleep_s(0.02);
    }
    ph->wall_s = mono_s() - t0;
    ph->wire_bytes = SUM(wire_bytes) - wire0;
    ph->app_bytes = SUM(app_bytes) - app0;
    ph->inflated = SUM(inflated) - infl0;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    if (js_PublishAsyncComplete(js, &po) != NATS_OK)
        ph->pub_errors++;
    ph->pub_errors += pub_nacks - nack0;
    for (int k = 0; k < opt.npids; k++)
        ph->cpu[k] = cpu_of(opt.pids[k].pid) - opt.pids[k].cpu0;
    ph->gen_cpu = gen_cpu() - g0;
    ph->delivered = SUM(delivered[p]);
    ph->read = SUM(read[p]);
    ph->out_of_order = SUM(out_of_order[p]);
    ph->duplicates = SUM(duplicates[p]);
    ph->not_intact = SUM(not_intact[p]);
    static uint64_t h[WSB_HIST];
    memset(h, 0, sizeof h);
    uint64_t maxus = 0;
    for (int s = 0; s < shared->nslots; s++) {
        for (int b = 0; b < WSB_HIST; b++)
            h[b] += shared->slot[s].hist[p][b];
        if (shared->slot[s].max_us[p] > maxus)
            maxus = shared->slot[s].max_us[p];
    }
    uint64_t n = 0;
    for (int b = 0; b < WSB_HIST; b++)
        n += h[b];
    ph->p50 = wsb_hist_quantile(h, n, 0.50) / 1000;
    ph->p90 = wsb_hist_quantile(h, n, 0.90) / 1000;
    ph->p99 = wsb_hist_quantile(h, n, 0.99) / 1000;
    ph->p999 = wsb_hist_quantile(h, n, 0.999) / 1000;
    ph->max_ms = (double)maxus / 1000;
    /* a bucket's middle may lie above the largest value seen */
    ph->p50 = fmin(ph->p50, ph->max_ms);
    ph->p90 = fmin(ph->p90, ph->max_ms);
    ph->p99 = fmin(ph->p99, ph->max_ms);
    ph->p999 = fmin(ph->p999, ph->max_ms);
}

static void loadavg(double la[3])
{
    la[0] = la[1] = la[2] = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
            la[0] = NAN;
        fclose(f);
    }
}

/* A JSON number or null. */
static void jnum(double v)
{
    if (isfinite(v))
        printf("%.12g", v);
    else
        printf("null");
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        long per = (opt.conns + opt.procs - 1) / opt.procs;
        if ((rlim_t)per + 50 > rl.rlim_cur) {
            fprintf(stderr,
                    "wsbench: %ld connections per process over the open-file limit %llu: "
                    "raise --procs\n",
                    per, (unsigned long long)rl.rlim_cur);
            return 2;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double la0[3], la1[3];
    loadavg(la0);
    double rss0[MAX_PIDS], rss1[MAX_PIDS], cpuc0[MAX_PIDS], cpuc[MAX_PIDS];
    for (int k = 0; k < opt.npids; k++) {
        rss0[k] = rss_of(opt.pids[k].pid);
        cpuc0[k] = cpu_of(opt.pids[k].pid);
    }

    double tcp0[2], tcp1[2];
    tcp_sockstat(&tcp0[0], &tcp0[1]);
    double slab0 = slab_bytes();
    double tc0 = mono_s();
    spawn_children();
    double last = 0;
    for (;;) {
        uint64_t sub = SUM(subscribed), fail = SUM(failed);
        if (sub + fail >= (uint64_t)opt.conns || interrupted)
            break;
        if (mono_s() - tc0 > opt.connect_timeout) {
            fprintf(stderr, "wsbench: connect timeout\n");
            break;
        }
        if (!opt.json_only && mono_s() - last > 2) {
            last = mono_s();
            fprintf(stderr, "[%s] connecting: %llu subscribed, %llu failed of %ld\n", opt.label,
                    (unsigned long long)sub, (unsigned long long)fail, opt.conns);
        }
        sleep_s(0.05);
    }
    double connect_s = mono_s() - tc0;
    for (int k = 0; k < opt.npids; k++)
        cpuc[k] = cpu_of(opt.pids[k].pid) - cpuc0[k];
    sleep_s(opt.settle);
    for (int k = 0; k < opt.npids; k++)
        rss1[k] = rss_of(opt.pids[k].pid);
    tcp_sockstat(&tcp1[0], &tcp1[1]);
    double slab1 = slab_bytes();
    double gen_rss = 0;
    for (int i = 0; i < nchildren; i++)
        gen_rss += rss_of(children[i]);
    uint64_t subscribed = SUM(subscribed), failed = SUM(failed);
    if (!opt.json_only)
        fprintf(stderr, "[%s] %llu subscribed, %llu failed in %.1f s\n", opt.label,
                (unsigned long long)subscribed, (unsigned long long)failed, connect_s);

    struct phase ph[WSB_PHASES] = {0};
    int nph = 0;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    int rc = 0;
    if (subscribed == 0) {
        rc = 1;
    } else if (natsConnection_ConnectTo(&nc, opt.nats_url) != NATS_OK ||
               jsOptions_Init(&jo) != NATS_OK ||
               (jo.PublishAsync.MaxPending = 1000000, jo.PublishAsync.ErrHandler = on_pub_err,
                natsConnection_JetStream(&js, nc, &jo) != NATS_OK)) {
        fprintf(stderr, "wsbench: cannot connect to NATS at %s\n", opt.nats_url);
        rc = 2;
    } else {
        char *buf = malloc((size_t)opt.size + 600);
        if (!buf)
            abort();
        for (; nph < opt.nrates && !interrupted; nph++) {
            run_phase(js, nph, &ph[nph], buf);
            if (ph[nph].delivered < ph[nph].expected && !opt.keep_going && nph + 1 < opt.nrates) {
                fprintf(stderr,
                        "[%s] %g msg/s: %llu of %llu delivered within --drain: "
                        "the higher rates are skipped (--keep-going runs them)\n",
                        opt.label, ph[nph].rate, (unsigned long long)ph[nph].delivered,
                        (unsigned long long)ph[nph].expected);
                nph++;
                break;
            }
        }
        free(buf);
    }
    loadavg(la1);
    double rss2[MAX_PIDS], gen_rss_after = 0;
    for (int k = 0; k < opt.npids; k++)
        rss2[k] = rss_of(opt.pids[k].pid);
    for (int i = 0; i < nchildren; i++)
        gen_rss_after += rss_of(children[i]);
    uint64_t closed = SUM(closed), unparsed = SUM(unparsed);
    uint64_t deflate_conns = SUM(deflate_conns), inflaters = SUM(inflaters);
    uint64_t inflate_errors = SUM(inflate_errors);
    uint64_t bad = 0; /* deliveries the checks refused */
    for (int p = 0; p < nph; p++)
        bad += ph[p].out_of_order + ph[p].duplicates + ph[p].not_intact;
    int close_code = 0;
    char err[160] = "", ext[128] = "";
    for (int s = 0; s < shared->nslots; s++) {
        if (shared->slot[s].last_close_code)
            close_code = shared->slot[s].last_close_code;
        if (!err[0] && shared->slot[s].err[0])
            memcpy(err, shared->slot[s].err, sizeof err);
        if (!ext[0] && shared->slot[s].ext[0])
            memcpy(ext, shared->slot[s].ext, sizeof ext);
    }
    stop_children();
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();

    const char *proto = opt.proto == WSB_PROTO_NATS ? "nats" : "wsgate";
    if (!opt.json_only) {
        printf("\n%s (%s): %llu of %ld subscribed (%llu failed, %llu closed later) in %.1f s, "
               "%d procs, %s payloads\n",
               opt.label[0] ? opt.label : proto, proto, (unsigned long long)subscribed, opt.conns,
               (unsigned long long)failed, (unsigned long long)closed, connect_s, opt.procs,
               opt.payload == WSB_PAYLOAD_EVENT ? "realistic event" : "padded");
        printf("  permessage-deflate: %s; %llu connections negotiated it (answer: %s), "
               "%llu inflaters, %llu inflate errors; load generator RSS %.1f MB subscribed, "
               "%.1f MB at the end\n",
               opt.deflate ? (opt.window_bits ? "offered with server_max_window_bits" : "offered")
                           : "not offered",
               (unsigned long long)deflate_conns, ext[0] ? ext : "none",
               (unsigned long long)inflaters, (unsigned long long)inflate_errors, gen_rss / 1e6,
               gen_rss_after / 1e6);
        for (int k = 0; k < opt.npids; k++)
            printf("  %s: RSS %.1f MB before, %.1f MB subscribed (%.0f B per connection), "
                   "%.2f s CPU to connect\n",
                   opt.pids[k].name, rss0[k] / 1e6, rss1[k] / 1e6,
                   (rss1[k] - rss0[k]) / (double)(subscribed ? subscribed : 1), cpuc[k]);
        printf("%8s %8s %12s %12s %8s %8s %8s %8s %8s %8s %8s", "msg/s", "sent/s", "delivered",
               "expected", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "wire B", "app B");
        for (int k = 0; k < opt.npids; k++)
            printf(" %12.12s", opt.pids[k].name);
        printf(" %12s\n", "clients");
        for (int p = 0; p < nph; p++) {
            double d = ph[p].delivered ? (double)ph[p].delivered : NAN;
            printf("%8g %8.1f %12llu %12llu %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f", ph[p].rate,
                   ph[p].msgs > 1 ? (double)(ph[p].msgs - 1) / ph[p].pub_s : NAN,
                   (unsigned long long)ph[p].delivered, (unsigned long long)ph[p].expected,
                   ph[p].p50, ph[p].p90, ph[p].p99, ph[p].p999, ph[p].max_ms,
                   (double)ph[p].wire_bytes / d, (double)ph[p].app_bytes / d);
            for (int k = 0; k < opt.npids; k++)
                printf(" %12.2f", ph[p].cpu[k] / (double)ph[p].delivered * 1e6);
            printf(" %12.2f\n", ph[p].gen_cpu / (double)ph[p].delivered * 1e6);
        }
        printf(
            "(wire B, app B: bytes read from the sockets and data message bytes after inflating, "
            "per delivery");
        printf(opt.npids ? "; the last columns: CPU seconds per million deliveries)\n" : ")\n");
        for (int p = 0; p < nph; p++)
            if (ph[p].out_of_order || ph[p].duplicates || ph[p].not_intact)
                printf("%g msg/s: %llu out of order, %llu duplicates, %llu not intact\n",
                       ph[p].rate, (unsigned long long)ph[p].out_of_order,
                       (unsigned long long)ph[p].duplicates, (unsigned long long)ph[p].not_intact);
        if (err[0])
            printf("first error: %s\n", err);
    }
    printf("{\"tool\":\"wsbench\",\"label\":\"%s\",\"proto\":\"%s\",\"conns\":%ld,\"procs\":%d,"
           "\"size\":%d,\"subject\":\"%s\",\"subscribed\":%llu,\"failed\":%llu,\"closed\":%llu,"
           "\"unparsed\":%llu,\"last_close_code\":%d,\"payload\":\"%s\",\"deflate\":%s,"
           "\"window_bits\":%d,\"sample\":%d,\"deflate_conns\":%llu,\"inflaters\":%llu,"
           "\"inflate_errors\":%llu,\"extensions\":\"",
           opt.label, proto, opt.conns, opt.procs, opt.size, opt.subject,
           (unsigned long long)subscribed, (unsigned long long)failed, (unsigned long long)closed,
           (unsigned long long)unparsed, close_code,
           opt.payload == WSB_PAYLOAD_EVENT ? "event" : "padded", opt.deflate ? "true" : "false",
           opt.window_bits, opt.sample, (unsigned long long)deflate_conns,
           (unsigned long long)inflaters, (unsigned long long)inflate_errors);
    for (char *e = ext; *e; e++)
        if (*e != '"' && *e != '\\' && (unsigned char)*e >= 0x20)
            putchar(*e);
    printf("\",\"connect_s\":");
    jnum(connect_s);
    printf(",\"loadavg_before\":[%.2f,%.2f,%.2f],\"loadavg_after\":[%.2f,%.2f,%.2f]", la0[0],
           la0[1], la0[2], la1[0], la1[1], la1[2]);
    printf(",\"tcp_inuse_before\":");
    jnum(tcp0[0]);
    printf(",\"tcp_mem_before\":");
    jnum(tcp0[1]);
    printf(",\"tcp_inuse_subscribed\":");
    jnum(tcp1[0]);
    printf(",\"tcp_mem_subscribed\":");
    jnum(tcp1[1]);
    printf(",\"slab_before\":");
    jnum(slab0);
    printf(",\"slab_subscribed\":");
    jnum(slab1);
    printf(",\"clients_rss\":");
    jnum(gen_rss);
    printf(",\"clients_rss_after\":");
    jnum(gen_rss_after);
    printf(",\"servers\":[");
    for (int k = 0; k < opt.npids; k++) {
        printf("%s{\"name\":\"%s\",\"pid\":%d,\"rss_before\":", k ? "," : "", opt.pids[k].name,
               opt.pids[k].pid);
        jnum(rss0[k]);
        printf(",\"rss_subscribed\":");
        jnum(rss1[k]);
        printf(",\"rss_after\":");
        jnum(rss2[k]);
        printf(",\"cpu_connect_s\":");
        jnum(cpuc[k]);
        printf("}");
    }
    printf("],\"phases\":[");
    for (int p = 0; p < nph; p++) {
        printf("%s{\"rate\":%g,\"msgs\":%ld,\"pub_errors\":%ld,\"subscribers\":%llu,"
               "\"expected\":%llu,\"delivered\":%llu,\"pub_rate\":",
               p ? "," : "", ph[p].rate, ph[p].msgs, ph[p].pub_errors,
               (unsigned long long)ph[p].live, (unsigned long long)ph[p].expected,
               (unsigned long long)ph[p].delivered);
        jnum(ph[p].msgs > 1 ? (double)(ph[p].msgs - 1) / ph[p].pub_s : NAN);
        printf(",\"wall_s\":");
        jnum(ph[p].wall_s);
        printf(",\"p50_ms\":");
        jnum(ph[p].p50);
        printf(",\"p90_ms\":");
        jnum(ph[p].p90);
        printf(",\"p99_ms\":");
        jnum(ph[p].p99);
        printf(",\"p999_ms\":");
        jnum(ph[p].p999);
        printf(",\"max_ms\":");
        jnum(ph[p].max_ms);
        printf(",\"cpu_s\":{");
        for (int k = 0; k < opt.npids; k++) {
            printf("%s\"%s\":", k ? "," : "", opt.pids[k].name);
            jnum(ph[p].cpu[k]);
        }
        printf("},\"clients_cpu_s\":");
        jnum(ph[p].gen_cpu);
        printf(",\"tcp_mem_peak\":");
        jnum(ph[p].tcp_mem_peak);
        /* per delivery only when everything arrived: otherwise the sockets also held frames of
         * messages not yet counted (an overestimate, kept as *_partial) */
        double d = ph[p].delivered ? (double)ph[p].delivered : NAN;
        int all = ph[p].delivered >= ph[p].expected;
        printf(",\"wire_bytes\":%llu,\"app_bytes\":%llu,\"inflated\":%llu,"
               "\"wire_bytes_per_delivery%s\":",
               (unsigned long long)ph[p].wire_bytes, (unsigned long long)ph[p].app_bytes,
               (unsigned long long)ph[p].inflated, all ? "" : "_partial");
        jnum((double)ph[p].wire_bytes / d);
        printf(",\"app_bytes_per_delivery\":");
        jnum((double)ph[p].app_bytes / d);
        printf(",\"read\":%llu,\"out_of_order\":%llu,\"duplicates\":%llu,\"not_intact\":%llu}",
               (unsigned long long)ph[p].read, (unsigned long long)ph[p].out_of_order,
               (unsigned long long)ph[p].duplicates, (unsigned long long)ph[p].not_intact);
    }
    printf("],\"first_error\":\"");
    for (char *e = err; *e; e++)
        if (*e != '"' && *e != '\\' && (unsigned char)*e >= 0x20)
            putchar(*e);
    printf("\"}\n");
    if (rc == 0) {
        for (int p = 0; p < nph; p++)
            if (ph[p].delivered < ph[p].expected)
                rc = 1;
        if (failed || interrupted || bad || inflate_errors)
            rc = 1;
    }
    return rc;
}
