/* fuzz_deflate.c: libFuzzer target for permessage-deflate: offers (pmd_negotiate) and inbound
 * compressed client messages (pmd_inflate), with a bound on what a bomb may inflate to. */
#include "fuzz.h"
#include "wsgate/pmd.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

#define FUZZ_MAX 4096 /* --max-frame of the target */

/* An offer: whatever is accepted has a window we can honour and an answer that fits. */
static void fuzz_offer(const uint8_t *data, size_t size)
{
    char offer[1024];
    size_t n = size < sizeof(offer) - 1 ? size : sizeof(offer) - 1;
    memcpy(offer, data, n);
    offer[n] = '\0';
    pmd_params p;
    if (pmd_negotiate(offer, &p) != 0)
        return;
    CHECK(p.server_bits >= 9 && p.server_bits <= 15);
    char answer[128];
    int len = pmd_answer(&p, answer, sizeof(answer));
    CHECK(len > 0 && strstr(answer, "client_no_context_takeover") != NULL);
}

/* A compressed message: inflates to at most FUZZ_MAX bytes, or is refused. */
static void fuzz_message(const uint8_t *data, size_t size)
{
    sbuf out;
    sbuf_init(&out, 0);
    int rc = pmd_inflate(data, size, FUZZ_MAX, &out);
    CHECK(rc == 0 || rc == -EMSGSIZE || rc == -EINVAL);
    CHECK(out.len <= FUZZ_MAX);
    sbuf_free(&out);
}

/* The input compressed as a client would: inflates back to itself. */
static void fuzz_round_trip(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX)
        size = FUZZ_MAX;
    z_stream z = {0};
    CHECK(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    unsigned char buf[FUZZ_MAX * 2 + 64];
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)size;
    z.next_out = buf;
    z.avail_out = sizeof(buf);
    CHECK(deflate(&z, Z_SYNC_FLUSH) == Z_OK);
    size_t len = sizeof(buf) - z.avail_out;
    deflateEnd(&z);
    CHECK(len >= 4);
    sbuf out;
    sbuf_init(&out, 0);
    CHECK(pmd_inflate(buf, len - 4, FUZZ_MAX, &out) == 0);
    CHECK(out.len == size && memcmp(sbuf_str(&out), data, size) == 0);
    sbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_offer(data + 1, size - 1);
        break;
    case 1:
        fuzz_message(data + 1, size - 1);
        break;
    default:
        fuzz_round_trip(data + 1, size - 1);
    }
    return 0;
}
