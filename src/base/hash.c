/* hash.c: SipHash-1-3 (Aumasson and Bernstein; the variant Rust and CPython use for
 * their tables) under a random per-process key (see hash.h). */
#include "wsgate/hash.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t hash_k0 = 0x0706050403020100ULL, hash_k1 = 0x0f0e0d0c0b0a0908ULL;

/* The 8 bytes at p as a little-endian number (one load on x86 and arm64). */
static uint64_t hash_le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

void hash_set_key(const uint8_t key[16])
{
    hash_k0 = hash_le64(key);
    hash_k1 = hash_le64(key + 8);
}

/* Draw the key before main(): getrandom, or (very early boot, no entropy
 * yet) the clock and the pid, which still differ between machines and runs. */
__attribute__((constructor)) static void hash_init_key(void)
{
    uint8_t key[16];
    if (getrandom(key, sizeof(key), GRND_NONBLOCK) != (ssize_t)sizeof(key)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t a = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30;
        uint64_t b = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)&ts;
        memcpy(key, &a, 8);
        memcpy(key + 8, &b, 8);
    }
    hash_set_key(key);
}

#define HASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define HASH_SIPROUND                                                                              \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = HASH_ROTL(v1, 13);                                                                    \
        v1 ^= v0;                                                                                  \
        v0 = HASH_ROTL(v0, 32);                                                                    \
        v2 += v3;                                                                                  \
        v3 = HASH_ROTL(v3, 16);                                                                    \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = HASH_ROTL(v3, 21);                                                                    \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = HASH_ROTL(v1, 17);                                                                    \
        v1 ^= v2;                                                                                  \
        v2 = HASH_ROTL(v2, 32);                                                                    \
    } while (0)

uint64_t hash_bytes(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t v0 = 0x736f6d6570736575ULL ^ hash_k0, v1 = 0x646f72616e646f6dULL ^ hash_k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ hash_k0, v3 = 0x7465646279746573ULL ^ hash_k1;
    size_t whole = n - n % 8;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = hash_le64(p + i);
        v3 ^= m;
        HASH_SIPROUND; /* one compression round */
        v0 ^= m;
    }
    uint64_t last = (uint64_t)n << 56;
    for (size_t i = 0; i < n % 8; i++)
        last |= (uint64_t)p[whole + i] << (8 * i);
    v3 ^= last;
    HASH_SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    HASH_SIPROUND; /* three finalization rounds */
    HASH_SIPROUND;
    HASH_SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t hash_str(const char *s)
{
    return hash_bytes(s, strlen(s));
}
