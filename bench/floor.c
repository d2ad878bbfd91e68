/* floor.c: wsfloor, the cost of one small send() per loopback TCP socket: one thread sends one
 * frame to each of N sockets, a reader process drains the other ends (see README.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What the reader process tells the sender. */
struct floor_shared {
    volatile long accepted;
    volatile uint64_t bytes;   /* received so far */
    volatile uint64_t last_ns; /* CLOCK_MONOTONIC of the last read */
    volatile int stop;
};

static uint64_t floor_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double floor_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The reader: accept n connections on lfd and drain them until stop. */
static void floor_reader(int lfd, long n, struct floor_shared *sh)
{
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, evs[512];
    static char buf[65536];
    for (long i = 0; i < n; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) {
            perror("wsfloor: accept");
            _exit(1);
        }
        ev.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        sh->accepted = i + 1;
    }
    while (!sh->stop) {
        int k = epoll_wait(ep, evs, 512, 50);
        for (int j = 0; j < k; j++) {
            ssize_t r;
            while ((r = read(evs[j].data.fd, buf, sizeof buf)) > 0) {
                sh->bytes += (uint64_t)r;
                sh->last_ns = floor_now_ns();
            }
        }
    }
    _exit(0);
}

static void floor_usage(FILE *f)
{
    fprintf(f,
            "usage: wsfloor [--conns N (9000)] [--sizes LIST (60,260)] [--bursts K (5)] "
            "[--json-only]\n"
            "One thread sends one frame to each of N loopback TCP sockets per burst; a reader\n"
            "process drains them. Prints µs per send() (wall and sender CPU), the burst time\n"
            "and when its last byte arrived (best and median of K bursts), and one JSON line.\n");
}

static int floor_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = 9000;
    int bursts = 5, json_only = 0, sizes[8] = {60, 260}, nsizes = 2;
    static const struct option lo[] = {{"conns", 1, 0, 'n'},  {"sizes", 1, 0, 's'},
                                       {"bursts", 1, 0, 'b'}, {"json-only", 0, 0, 'j'},
                                       {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'n':
            n = strtol(optarg, &end, 10);
            if (*end || n < 1) {
                fprintf(stderr, "wsfloor: --conns: a positive integer\n");
                return 2;
            }
            break;
        case 's':
            nsizes = 0;
            for (char *p = optarg; *p && nsizes < 8;) {
                sizes[nsizes] = (int)strtol(p, &end, 10);
                if (end == p || sizes[nsizes] < 1 || sizes[nsizes] > 65536 ||
                    (*end && *end != ',')) {
                    fprintf(stderr, "wsfloor: --sizes: comma-separated byte counts\n");
                    return 2;
                }
                nsizes++;
                p = *end ? end + 1 : end;
            }
            break;
        case 'b':
            bursts = (int)strtol(optarg, &end, 10);
            if (*end || bursts < 1 || bursts > 100) {
                fprintf(stderr, "wsfloor: --bursts: 1 to 100\n");
                return 2;
            }
            break;
        case 'j':
            json_only = 1;
            break;
        case 'h':
            floor_usage(stdout);
            return 0;
        default:
            floor_usage(stderr);
            return 2;
        }
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)n + 20 > rl.rlim_cur) {
        fprintf(stderr, "wsfloor: --conns %ld is over the open-file limit %llu\n", n,
                (unsigned long long)rl.rlim_cur);
        return 2;
    }

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
        perror("wsfloor: listen");
        return 2;
    }
    struct floor_shared *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 2;
    pid_t reader = fork();
    if (reader == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        floor_reader(lfd, n, sh);
    }
    close(lfd);
    int *fds = calloc((size_t)n, sizeof *fds);
    for (long i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % 50)); /* past the port limit */
        int one = 1;
        setsockopt(fds[i], IPPROTO_IP, 24 /* IP_BIND_ADDRESS_NO_PORT */, &one, sizeof one);
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (bind(fds[i], (struct sockaddr *)&src, sizeof src) < 0 ||
            connect(fds[i], (struct sockaddr *)&a, sizeof a) < 0) {
            perror("wsfloor: connect");
            kill(reader, SIGKILL);
            return free(fds), 2;
        }
    }
    while (sh->accepted < n)
        usleep(1000);

    char frame[65536];
    memset(frame, 'x', sizeof frame);
    if (!json_only)
        printf("wsfloor: one thread, one send() per socket to %ld loopback sockets, %d bursts\n"
               "%6s %14s %14s %12s %12s %16s %16s\n",
               n, bursts, "bytes", "µs/send wall", "µs/send CPU", "burst ms", "(median)",
               "last arrival ms", "(median)");
    char json[4096];
    int jl = snprintf(json, sizeof json, "{\"tool\":\"wsfloor\",\"conns\":%ld,\"sizes\":[", n);
    uint64_t expect = sh->bytes;
    for (int s = 0; s < nsizes; s++) {
        double burst[100], arrive[100], cpu[100];
        for (int b = 0; b < bursts; b++) {
            usleep(200000);
            double c0 = floor_cpu_s();
            uint64_t t0 = floor_now_ns();
            for (long i = 0; i < n; i++) {
                if (send(fds[i], frame, (size_t)sizes[s], MSG_NOSIGNAL) != sizes[s]) {
                    fprintf(stderr, "wsfloor: send: %s\n", strerror(errno));
                    kill(reader, SIGKILL);
                    return free(fds), 2;
                }
            }
            uint64_t t1 = floor_now_ns();
            cpu[b] = (floor_cpu_s() - c0) / (double)n * 1e6;
            expect += (uint64_t)n * (uint64_t)sizes[s];
            while (sh->bytes < expect)
                usleep(100);
            burst[b] = (double)(t1 - t0) / 1e6;
            arrive[b] = (double)(sh->last_ns - t0) / 1e6;
        }
        double best_b = burst[0], best_a = arrive[0], best_c = cpu[0];
        for (int b = 1; b < bursts; b++) {
            if (burst[b] < best_b)
                best_b = burst[b];
            if (arrive[b] < best_a)
                best_a = arrive[b];
            if (cpu[b] < best_c)
                best_c = cpu[b];
        }
        qsort(burst, (size_t)bursts, sizeof *burst, floor_cmp);
        qsort(arrive, (size_t)bursts, sizeof *arrive, floor_cmp);
        qsort(cpu, (size_t)bursts, sizeof *cpu, floor_cmp);
        double med_b = burst[bursts / 2], med_a = arrive[bursts / 2];
        if (!json_only)
            printf("%6d %14.2f %14.2f %12.1f %12.1f %16.1f %16.1f\n", sizes[s],
                   best_b * 1e3 / (double)n, best_c, best_b, med_b, best_a, med_a);
        jl += snprintf(json + jl, sizeof json - (size_t)jl,
                       "%s{\"bytes\":%d,\"us_per_send\":%.3f,\"cpu_us_per_send\":%.3f,"
                       "\"cpu_us_per_send_median\":%.3f,\"burst_ms\":%.2f,\"burst_ms_median\":%.2f,"
                       "\"last_arrival_ms\":%.2f,\"last_arrival_ms_median\":%.2f}",
                       s ? "," : "", sizes[s], best_b * 1e3 / (double)n, best_c, cpu[bursts / 2],
                       best_b, med_b, best_a, med_a);
    }
    double la[3] = {0, 0, 0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
            la[0] = 0;
        fclose(f);
    }
    printf("%s],\"loadavg\":[%.2f,%.2f,%.2f]}\n", json, la[0], la[1], la[2]);
    sh->stop = 1;
    int st;
    waitpid(reader, &st, 0);
    free(fds);
    return 0;
}
