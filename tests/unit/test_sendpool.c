/* test_sendpool.c: unit tests for the round sender (src/sendpool.c) over real socket pairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/sendpool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAIRS 300

static int pairs[PAIRS][2];

static int setup(void **state)
{
    for (int i = 0; i < PAIRS; i++)
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]) != 0)
            return -1;
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < PAIRS; i++) {
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
    return 0;
}

/* Many rounds of one job per socket, each of two pieces: every job done,
 * every byte where it belongs, the pieces in order. */
static void run_rounds(int threads)
{
    sendpool *p = sendpool_create(threads);
    assert_non_null(p);
    assert_int_equal(sendpool_threads(p), threads);
    static sendpool_job jobs[PAIRS];
    static struct iovec iov[PAIRS][2];
    static char bufs[PAIRS][32];
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(round % 7 == 0 ? 5 : PAIRS); /* small rounds run on the caller */
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(bufs[i], sizeof(bufs[i]), "r%d-j%zu", round, i);
            iov[i][0] = (struct iovec){bufs[i], 2};
            iov[i][1] = (struct iovec){bufs[i] + 2, (size_t)len - 2};
            jobs[i] = (sendpool_job){.fd = pairs[i][0], .iov = iov[i], .iovcnt = 2, .sent = -1};
        }
        sendpool_run(p, jobs, n);
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(bufs[i]);
            assert_int_equal(jobs[i].sent, (ssize_t)len);
            char got[32];
            ssize_t r = read(pairs[i][1], got, sizeof(got));
            assert_int_equal(r, (ssize_t)len);
            assert_memory_equal(got, bufs[i], len);
        }
    }
    sendpool_destroy(p);
}

static void test_one_thread(void **state)
{
    run_rounds(1);
}

static void test_three_threads(void **state)
{
    run_rounds(3);
}

/* A socket that takes nothing more reports 0; a closed peer reports -errno. */
static void test_full_and_broken(void **state)
{
    sendpool *p = sendpool_create(2);
    static unsigned char big[1 << 20];
    struct iovec whole = {big, sizeof(big)}, ten = {big, 10};
    sendpool_job j = {.fd = pairs[0][0], .iov = &whole, .iovcnt = 1};
    sendpool_run(p, &j, 1);
    assert_true(j.sent > 0 && (size_t)j.sent < sizeof(big)); /* the buffer filled up */
    sendpool_run(p, &j, 1);
    assert_int_equal(j.sent, 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    sendpool_job broken = {.fd = sv[0], .iov = &ten, .iovcnt = 1};
    sendpool_run(p, &broken, 1);
    assert_int_equal(broken.sent, -EPIPE);
    close(sv[0]);
    sendpool_destroy(p);
    /* drain what the first job wrote */
    char sink[65536];
    while (recv(pairs[0][1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
        ;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_and_broken, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
