/* test_zgroup.c: shared compressors against real zlib inflaters, one per simulated client.
 *
 * Each simulated client keeps a queue of the frames it was given, as a
 * connection does, and reads them in order with an inflater that keeps its
 * window across messages (context takeover, as Chromium, ws and websockets
 * do) and only inflates RSV1 frames. Every frame it reads must decode to
 * exactly the event it stands for, across joins, resets, leaving and coming
 * back, conflation, missed frames (a replay), per-connection frames in
 * between and reads of part of the queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/frame.h"
#include "wsgate/metrics.h"
#include "wsgate/zgroup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define QMAX 4096

typedef struct client {
    zmember m;
    z_stream inflater;
    int window;      /* the inflater's window bits */
    bool reset_each; /* server_no_context_takeover: the client may reset before each message */
    wsg_frame *q[QMAX];
    size_t head, len;
    size_t read, compressed; /* frames read, of which compressed */
} client;

static zgroups *zs;
static int64_t clock_ns;
static uint64_t next_seq;

static void client_init(client *c, uint8_t bits, bool alone)
{
    memset(c, 0, sizeof(*c));
    zmember_init(&c->m, bits, alone);
    c->window = bits ? bits : 15;
    c->reset_each = alone;
    assert_int_equal(inflateInit2(&c->inflater, -c->window), Z_OK);
}

/* Read the n oldest queued frames (all when n is 0) and check each decodes to its event. */
static void client_read(client *c, size_t n)
{
    if (n == 0 || n > c->len)
        n = c->len;
    for (size_t i = 0; i < n; i++) {
        wsg_frame *f = c->q[c->head];
        c->head = (c->head + 1) % QMAX;
        c->len--;
        const wsg_frame *o = frame_origin(f);
        const unsigned char *wire = frame_wire(f);
        if (!f->src) {
            assert_int_equal(wire[0], 0x81); /* FIN, text, RSV1 clear */
            assert_memory_equal(frame_data(f), frame_data(o), o->len);
        } else {
            assert_int_equal(wire[0], 0xC1); /* FIN, RSV1, text */
            unsigned char out[8192], tail[4] = {0, 0, 0xff, 0xff};
            if (c->reset_each)
                inflateReset(&c->inflater);
            c->inflater.next_out = out;
            c->inflater.avail_out = sizeof(out);
            c->inflater.next_in = frame_data(f);
            c->inflater.avail_in = (uInt)f->len;
            int rc = inflate(&c->inflater, Z_SYNC_FLUSH);
            assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
            c->inflater.next_in = tail;
            c->inflater.avail_in = 4;
            rc = inflate(&c->inflater, Z_SYNC_FLUSH);
            assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
            size_t got = sizeof(out) - c->inflater.avail_out;
            assert_int_equal(got, o->len);
            assert_memory_equal(out, frame_data(o), o->len);
            c->compressed++;
        }
        c->read++;
        frame_unref(f);
    }
}

static void client_push(client *c, wsg_frame *f)
{
    assert_true(c->len < QMAX);
    c->q[(c->head + c->len) % QMAX] = f;
    c->len++;
}

/* Fan-out of event f to c, as conn_deliver does. */
static void deliver(client *c, wsg_frame *f)
{
    client_push(c, frame_ref(zmember_frame(zs, &c->m, f)));
}

/* A per-connection frame (ok, pong, a replayed or last-value frame): never compressed. */
static void reply(client *c, const char *text)
{
    client_push(c, frame_create(text, strlen(text)));
}

/* Conflation, as conn.c does it: the newest queued frame leaves unsent; if
 * it was a group frame, every queued group frame goes back to its original
 * and the member diverges. */
static void conflate_newest(client *c)
{
    assert_true(c->len > 0);
    size_t at = (c->head + c->len - 1) % QMAX;
    bool chained = c->q[at]->chained;
    frame_unref(c->q[at]);
    c->len--;
    if (!chained)
        return;
    for (size_t i = 0; i < c->len; i++) {
        wsg_frame **slot = &c->q[(c->head + i) % QMAX];
        if ((*slot)->chained) {
            wsg_frame *o = frame_ref((*slot)->src);
            frame_unref(*slot);
            *slot = o;
        }
    }
    zmember_diverge(zs, &c->m);
}

static void client_fini(client *c)
{
    client_read(c, 0);
    zmember_clear(zs, &c->m);
    inflateEnd(&c->inflater);
}

/* A license event like the ones publishers send, of about `size` bytes. */
static wsg_frame *event(size_t size)
{
    char buf[4096];
    uint64_t seq = ++next_seq;
    int n = snprintf(buf, sizeof(buf),
                     "{\"op\":\"msg\",\"subject\":\"license.b%llu.assigned\",\"seq\":%llu,"
                     "\"data\":{\"batch_id\":\"b-2026-%04llu\",\"professional_id\":\"HCP-%06llu\","
                     "\"license\":\"LIC-%08llx\",\"country\":\"DE\",\"worker\":\"w%llu\"",
                     (unsigned long long)(seq % 7), (unsigned long long)seq,
                     (unsigned long long)(seq % 13), (unsigned long long)(seq * 7919 % 999983),
                     (unsigned long long)(seq * 2654435761u), (unsigned long long)(seq % 15));
    while ((size_t)n + 20 < size && (size_t)n + 20 < sizeof(buf))
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",\"f%d\":%llu", n % 97,
                      (unsigned long long)(seq * (unsigned)n % 1000));
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "}}");
    wsg_frame *f = frame_create(buf, (size_t)n);
    f->seq = seq;
    clock_ns += 10 * 1000 * 1000; /* 100 events/s */
    f->recv_ns = clock_ns;
    return f;
}

static const char *const SET_A[] = {"license.>", "batch.*.progress"};
static const char *const SET_A_REORDERED[] = {"batch.*.progress", "license.>"};
static const char *const SET_B[] = {"verification.>"};

static int setup(void **state)
{
    memset(&metrics, 0, sizeof(metrics));
    zgroups_limits lim = {.min_bytes = 0, .max_groups = 8, .level = 6, .mem_level = 8};
    zs = zgroups_create(&lim);
    clock_ns = 0;
    next_seq = 0;
    return 0;
}

static int teardown(void **state)
{
    zgroups_destroy(zs);
    zs = NULL;
    assert_int_equal(metrics.deflate_groups, 0);
    assert_int_equal(metrics.deflate_members, 0);
    return 0;
}

/* Members of one group get the very same compressed frame, made once per
 * event, and it decodes for each; the ratio is that of a context kept. */
static void test_group_shares_one_frame(void **state)
{
    client c[3];
    for (int i = 0; i < 3; i++) {
        client_init(&c[i], 15, false);
        zmember_set(zs, &c[i].m, i == 1 ? SET_A_REORDERED : SET_A, 2); /* order does not matter */
    }
    assert_int_equal(metrics.deflate_groups, 1);
    assert_int_equal(metrics.deflate_members, 3);
    size_t in = 0, out = 0;
    for (int e = 0; e < 200; e++) {
        wsg_frame *f = event(200);
        for (int i = 0; i < 3; i++)
            deliver(&c[i], f);
        assert_ptr_equal(c[0].q[(c[0].head + c[0].len - 1) % QMAX],
                         c[2].q[(c[2].head + c[2].len - 1) % QMAX]);
        wsg_frame *g = c[0].q[(c[0].head + c[0].len - 1) % QMAX];
        assert_true(g->chained);
        in += f->len;
        out += g->len;
        frame_unref(f);
        if (e % 10 == 0)
            reply(&c[1], "{\"op\":\"pong\"}"); /* in between: does not disturb the step */
        client_read(&c[e % 3], 0);
    }
    assert_int_equal(metrics.deflate_group_frames, 200);
    assert_int_equal(metrics.deflate_solo_frames, 0);
    assert_int_equal(metrics.deflate_resets, 1); /* the first frame, nothing after */
    assert_true(out * 100 < in * 30);            /* context takeover: well under 0.3 */
    for (int i = 0; i < 3; i++) {
        client_fini(&c[i]);
        assert_int_equal(c[i].read, 200 + (i == 1 ? 20 : 0));
        assert_int_equal(c[i].compressed, 200);
    }
}

/* A newcomer gets events compressed alone until the next sync point, then
 * joins; the members already there decode across the reset. */
static void test_late_join_waits_for_sync(void **state)
{
    client a, b, late[2];
    client_init(&a, 15, false);
    client_init(&b, 15, false);
    zmember_set(zs, &a.m, SET_A, 2);
    zmember_set(zs, &b.m, SET_A, 2);
    for (int e = 0; e < 50; e++) {
        wsg_frame *f = event(250);
        deliver(&a, f);
        deliver(&b, f);
        frame_unref(f);
    }
    uint64_t resets = metrics.deflate_resets, joins = metrics.deflate_joins;
    assert_int_equal(joins, 2); /* a and b, at the group's first frame */
    int solo[2] = {0, 0};
    for (int e = 0; e < 100; e++) {
        if (e < 2) { /* the first joins at once (the last reset is old), the next must wait */
            client_init(&late[e], 15, false);
            zmember_set(zs, &late[e].m, SET_A, 2);
        }
        wsg_frame *f = event(250);
        deliver(&a, f);
        for (int i = 0; i < 2 && i <= e; i++) {
            deliver(&late[i], f);
            wsg_frame *got = late[i].q[(late[i].head + late[i].len - 1) % QMAX];
            solo[i] += got->src && !got->chained;
            client_read(&late[i], 0);
        }
        deliver(&b, f);
        frame_unref(f);
    }
    assert_int_equal(metrics.deflate_resets, resets + 2);
    assert_int_equal(solo[0], 0);
    assert_int_equal(solo[1], ZGROUP_SYNC_FRAMES - 1);
    assert_int_equal(metrics.deflate_joins, joins + 2);
    assert_int_equal(metrics.deflate_solo_frames, (uint64_t)solo[1]);
    client_fini(&a);
    client_fini(&b);
    assert_int_equal(a.compressed, 150);
    for (int i = 0; i < 2; i++) {
        client_fini(&late[i]);
        assert_int_equal(late[i].compressed, 100 - i);
    }
}

/* Leaving (another subscription set) and coming back; missed frames (a
 * replay holds live frames back) put a member out of step by themselves. */
static void test_leave_rejoin_and_missed_frames(void **state)
{
    client c[3];
    for (int i = 0; i < 3; i++) {
        client_init(&c[i], 15, false);
        zmember_set(zs, &c[i].m, SET_A, 2);
    }
    for (int e = 0; e < 400; e++) {
        wsg_frame *f = event(150 + (size_t)(e % 5) * 60);
        for (int i = 0; i < 3; i++) {
            if (i == 2 && e >= 100 && e < 110)
                continue; /* a replay runs: its live frames wait */
            deliver(&c[i], f);
        }
        frame_unref(f);
        if (e == 50)
            zmember_set(zs, &c[1].m, SET_B, 1); /* leaves: still gets these events here */
        if (e == 60)
            zmember_set(zs, &c[1].m, SET_A, 2); /* back: waits for a sync point */
        if (e % 7 == 0)
            client_read(&c[e % 3], 3); /* part of the queue */
    }
    for (int i = 0; i < 3; i++)
        client_fini(&c[i]);
    assert_int_equal(c[0].read, 400);
    assert_int_equal(c[2].read, 390);
    assert_true(metrics.deflate_leaves >= 1);
    assert_true(metrics.deflate_joins >= 2);
}

/* Conflation drops a group frame the client was given: the member's queued
 * group frames go back to their originals and it rejoins at a sync point. */
static void test_conflation(void **state)
{
    client a, b;
    client_init(&a, 15, false);
    client_init(&b, 15, false);
    zmember_set(zs, &a.m, SET_A, 2);
    zmember_set(zs, &b.m, SET_A, 2);
    for (int e = 0; e < 300; e++) {
        wsg_frame *f = event(220);
        deliver(&a, f);
        deliver(&b, f);
        frame_unref(f);
        if (e % 25 == 24)
            conflate_newest(&b); /* b was behind: its newest frame is replaced */
        if (e % 3 == 0)
            client_read(&a, 0);
        if (e % 40 == 0)
            client_read(&b, 2);
    }
    client_fini(&a);
    client_fini(&b);
    assert_int_equal(a.read, 300);
    assert_int_equal(b.read, 300 - 12);
    assert_true(b.compressed > 150); /* it rejoined every time */
}

/* A client that asked for a small window gets frames it can inflate with
 * it; one that asked for no context takeover only frames made alone. */
static void test_window_bits_and_no_takeover(void **state)
{
    client small[2], alone;
    for (int i = 0; i < 2; i++) {
        client_init(&small[i], 10, false);
        zmember_set(zs, &small[i].m, SET_A, 2);
    }
    client_init(&alone, 15, true);
    zmember_set(zs, &alone.m, SET_A, 2);
    for (int e = 0; e < 200; e++) {
        wsg_frame *f = event(e % 10 == 0 ? 2000 : 300); /* some larger than 1 KiB */
        deliver(&small[0], f);
        deliver(&alone, f);
        deliver(&small[1], f);
        frame_unref(f);
        client_read(&small[e % 2], 0);
        client_read(&alone, 0);
    }
    assert_int_equal(metrics.deflate_groups, 1); /* the 10-bit pair; alone has none */
    for (int i = 0; i < 2; i++)
        client_fini(&small[i]);
    client_fini(&alone);
    assert_int_equal(small[0].compressed, 200);
    assert_int_equal(alone.compressed, 200);
}

/* Frames below min_bytes go as they are to everybody; a group over the limit
 * of compressors gets frames made alone; a lone member shares no compressor. */
static void test_limits(void **state)
{
    zgroups_destroy(zs);
    zgroups_limits lim = {.min_bytes = 250, .max_groups = 1, .level = 1, .mem_level = 1};
    zs = zgroups_create(&lim);
    client a[2], b[2], lone;
    for (int i = 0; i < 2; i++) {
        client_init(&a[i], 15, false);
        client_init(&b[i], 15, false);
        zmember_set(zs, &a[i].m, SET_A, 2);
        zmember_set(zs, &b[i].m, SET_B, 1);
    }
    client_init(&lone, 15, false);
    static const char *const lone_set[] = {"batch.>"};
    zmember_set(zs, &lone.m, lone_set, 1);
    assert_int_equal(metrics.deflate_groups, 1);
    for (int e = 0; e < 100; e++) {
        wsg_frame *f = event(e % 2 ? 60 : 300);
        for (int i = 0; i < 2; i++) {
            deliver(&a[i], f);
            deliver(&b[i], f);
        }
        deliver(&lone, f);
        frame_unref(f);
    }
    for (int i = 0; i < 2; i++) {
        client_fini(&a[i]);
        client_fini(&b[i]);
        assert_int_equal(a[i].compressed, 50);
        assert_int_equal(b[i].compressed, 50);
    }
    client_fini(&lone);
    assert_int_equal(lone.compressed, 50);
    assert_int_equal(metrics.deflate_group_frames, 50);
    assert_int_equal(metrics.deflate_solo_frames, 50); /* once per event, for b and lone alike */
}

/* Random interleavings of everything above. */
static void test_random(void **state)
{
    enum { N = 6 };
    client c[N];
    static const char *const *sets[] = {SET_A, SET_B};
    static const size_t nsets[] = {2, 1};
    int set[N];
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        client_init(&c[i], i == 5 ? 12 : 15, false);
        set[i] = i % 2;
        zmember_set(zs, &c[i].m, sets[set[i]], nsets[set[i]]);
    }
    for (int e = 0; e < 3000; e++) {
        wsg_frame *f = event(40 + rand_r(&seed) % 900);
        for (int i = 0; i < N; i++)
            if (rand_r(&seed) % 50) /* now and then a frame held back */
                deliver(&c[i], f);
        frame_unref(f);
        int i = (int)(rand_r(&seed) % N);
        switch (rand_r(&seed) % 8) {
        case 0:
            set[i] = !set[i];
            zmember_set(zs, &c[i].m, sets[set[i]], nsets[set[i]]);
            break;
        case 1:
            if (c[i].len)
                conflate_newest(&c[i]);
            break;
        case 2:
            reply(&c[i], "{\"op\":\"ok\",\"subject\":\"license.>\"}");
            break;
        default:
            client_read(&c[i], rand_r(&seed) % 8);
        }
    }
    size_t compressed = 0;
    for (int i = 0; i < N; i++) {
        client_fini(&c[i]);
        compressed += c[i].compressed;
    }
    assert_true(compressed > 3000 * N / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_shares_one_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_join_waits_for_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave_rejoin_and_missed_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_bits_and_no_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
