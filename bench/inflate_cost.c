/* inflate_cost.c: what one inflate costs a load generator holding N per-connection inflaters.
 *
 * Deflates M realistic wsgate msg frames (wsb_event.c's license events) with one compressor with
 * context takeover (level 6, window 15, memLevel 8, Z_SYNC_FLUSH, the 00 00 ff ff tail taken off,
 * as wsgate's shared compressors), then inflates every message in each of N raw inflaters,
 * message by message (the order in which wsbench's connections receive them), and prints the CPU
 * time per inflate. Optional target: `cmake --build build-bench --target inflate_cost`, then
 * `build-bench/bench/inflate_cost [N [M]]` (10000 200). */
#include "wsb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000, m = argc > 2 ? atoi(argv[2]) : 200;
    if (n < 1 || m < 1)
        return 2;
    struct wsb_event_cfg ev = {.kind = WSB_PAYLOAD_EVENT, .size = 200, .subjects = 8};
    z_stream d = {0};
    if (deflateInit2(&d, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 1;
    unsigned char **cm = calloc((size_t)m, sizeof *cm);
    size_t *cl = calloc((size_t)m, sizeof *cl), raw = 0, packed = 0;
    for (int i = 0; i < m; i++) {
        char p[1024], s[96], f[1400];
        size_t pn = wsb_event(p, sizeof p, &ev, 1, i, 1796687651314703481ull + 10000000ull * i);
        wsb_event_subject(s, sizeof s, &ev, i);
        int k =
            snprintf(f, sizeof f, "{\"op\":\"msg\",\"subject\":\"%s\",\"seq\":%d,\"data\":%.*s}", s,
                     1000 + i, (int)pn, p);
        unsigned char o[2048];
        d.next_in = (Bytef *)f;
        d.avail_in = (uInt)k;
        d.next_out = o;
        d.avail_out = sizeof o;
        if (deflate(&d, Z_SYNC_FLUSH) != Z_OK)
            return 1;
        cl[i] = sizeof o - d.avail_out - 4;
        cm[i] = malloc(cl[i]);
        memcpy(cm[i], o, cl[i]);
        raw += (size_t)k;
        packed += cl[i];
    }
    printf("%d msg frames: %.1f B each, %.1f B compressed (%.2f)\n", m, (double)raw / m,
           (double)packed / m, (double)packed / (double)raw);
    z_stream *z = calloc((size_t)n, sizeof *z);
    for (int c = 0; c < n; c++)
        if (inflateInit2(&z[c], -15) != Z_OK)
            return 1;
    static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
    static unsigned char out[65536];
    double t0 = cpu_s();
    for (int i = 0; i < m; i++) {
        for (int c = 0; c < n; c++) {
            z_stream *s = &z[c];
            s->next_in = cm[i];
            s->avail_in = (uInt)cl[i];
            s->next_out = out;
            s->avail_out = sizeof out;
            int rc = inflate(s, Z_SYNC_FLUSH);
            s->next_in = (Bytef *)tail;
            s->avail_in = 4;
            int rc2 = inflate(s, Z_SYNC_FLUSH);
            if ((rc != Z_OK && rc != Z_BUF_ERROR) || (rc2 != Z_OK && rc2 != Z_BUF_ERROR))
                return 1;
        }
    }
    double t = cpu_s() - t0;
    printf("%d inflaters x %d messages: %.3f us of CPU per inflate\n", n, m, t / n / m * 1e6);
    return 0;
}
