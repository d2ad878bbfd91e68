/* wsb_event.c: the payloads wsbench publishes, as a pure function of (phase, index, stamp), so
 * that each subscriber rebuilds the bytes it should have received and compares them.
 *
 * Padded: a license event with "ph", "i" and "t" first, padded with "x" to --size bytes (a run of
 * one letter: any compressor shrinks it to nothing). Realistic ("event"): the fields EVENTS.md
 * lists for license.<batch>.assigned with varied values, as bench/stats.mjs licenseEvent() writes
 * them (a UUID license id, an HCP id, one of a few products, a worker, a duration, an RFC 3339
 * time), about 225 bytes with "ph", "i" and "t": no two events of a run repeat, so context
 * takeover cannot find a whole event in its window. */
#include "wsb.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* A 32-bit hash of (a, b): murmur3's finalizer over a mix of both (as stats.mjs mix32). */
static uint32_t mix32(uint32_t a, uint32_t b)
{
    uint32_t h = ((a ^ 0x9e3779b9u) * 0x85ebca6bu) ^ ((b + 0x7f4a7c15u) * 0xc2b2ae35u);
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static const char *const products[] = {"formulary-plus",    "clinical-reference",
                                       "drug-interactions", "rx-insights-pro",
                                       "cme-portal",        "dosage-calculator"};
static const char *const countries[] = {"DE", "FR", "IT", "ES", "NL", "AT", "BE", "PL"};
/* 2026-12-05T09:30:00Z in ms */
#define TS0_MS 1796463000000ull

static size_t batch_id(char *buf, size_t cap, long k)
{
    return (size_t)snprintf(buf, cap, "bt-%08x", mix32((uint32_t)k, 0xba7c4u));
}

size_t wsb_event_subject(char *buf, size_t cap, const struct wsb_event_cfg *ev, long i)
{
    long b = i % ev->subjects;
    if (ev->kind == WSB_PAYLOAD_PADDED)
        return (size_t)snprintf(buf, cap, "license.bench%ld.assigned", b);
    char id[16];
    batch_id(id, sizeof id, b);
    return (size_t)snprintf(buf, cap, "license.%s.assigned", id);
}

size_t wsb_event(char *buf, size_t cap, const struct wsb_event_cfg *ev, unsigned ph, long i,
                 uint64_t t)
{
    long b = i % ev->subjects;
    if (ev->kind == WSB_PAYLOAD_PADDED) {
        int k = snprintf(buf, cap,
                         "{\"ph\":%u,\"i\":%ld,\"t\":%llu,\"batch_id\":\"bench%ld\",\"license_id\":"
                         "\"L%ld\",\"hcp_id\":\"H%ld\",\"product\":\"bench\",\"worker\":1,"
                         "\"duration_ms\":1,\"ts\":\"2026-01-01T00:00:00.000Z\",\"pad\":\"",
                         ph, i, (unsigned long long)t, b, i, i);
        int fill = ev->size - k - 2;
        if (fill < 0)
            fill = 0;
        if ((size_t)(k + fill + 2) > cap)
            fill = (int)cap - k - 2;
        memset(buf + k, 'x', (size_t)fill);
        memcpy(buf + k + fill, "\"}", 2);
        return (size_t)(k + fill + 2);
    }
    /* every message of the run its own values: g is unique for (ph, i < 2^24) */
    uint32_t g = (ph << 24) + (uint32_t)i;
    uint32_t a = mix32(g, 1), bb = mix32(g, 2), c = mix32(g, 3), d = mix32(g, 4);
    char ha[9], hb[9], hc[9], hd[9];
    snprintf(ha, sizeof ha, "%08x", a);
    snprintf(hb, sizeof hb, "%08x", bb);
    snprintf(hc, sizeof hc, "%08x", c);
    snprintf(hd, sizeof hd, "%08x", d);
    char uuid[40];
    snprintf(uuid, sizeof uuid, "%s-%.4s-4%.3s-%x%.3s-%.4s%s", ha, hb, hb + 5, ((c >> 28) & 3) | 8,
             hc + 1, hc + 4, hd);
    uint32_t e = mix32(g, 5);
    unsigned hcp = 100000000u + mix32(g, 6) % 900000000u;
    const char *product = products[mix32(g, 7) % 6];
    unsigned worker = mix32(g, 8) % 15;
    unsigned duration = 40 + mix32(g, 9) % 1900;
    uint64_t ms = TS0_MS + (uint64_t)g * 113 + mix32(g, 10) % 100;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char bid[16];
    batch_id(bid, sizeof bid, b);
    int k = snprintf(buf, cap,
                     "{\"ph\":%u,\"i\":%ld,\"t\":%llu,\"batch_id\":\"%s\",\"license_id\":\"%s\","
                     "\"hcp_id\":\"HCP-%s-%u\",\"product\":\"%s\",\"worker\":%u,\"duration_ms\":%u,"
                     "\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03uZ\"}",
                     ph, i, (unsigned long long)t, bid, uuid, countries[e % 8], hcp, product,
                     worker, duration, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
    return k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
}
