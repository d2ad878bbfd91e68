/* test_inbox.c: the FIFO between the NATS threads and the service thread: order, no loss,
 * one wake-up per empty -> non-empty (also run under ThreadSanitizer: scripts/test.sh --tsan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/inbox.h"
#include "wsgate/nats_bridge.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>

static atomic_int wakes;
static sem_t woken;

static void on_wake(void *arg)
{
    (void)arg;
    atomic_fetch_add(&wakes, 1);
    sem_post(&woken);
}

static nb_event *event(uint64_t producer, uint64_t seq)
{
    nb_event *ev = calloc(1, sizeof(*ev));
    ev->kind = NB_MSG;
    ev->replay_id = producer;
    ev->seq = seq;
    return ev;
}

static void free_all(nb_event *ev)
{
    while (ev) {
        nb_event *next = ev->next;
        free(ev);
        ev = next;
    }
}

/* One thread: FIFO order, a wake-up only when the inbox was empty. */
static void test_order_and_wakes(void **state)
{
    atomic_store(&wakes, 0);
    sem_init(&woken, 0, 0);
    inbox *ib = inbox_create(on_wake, NULL);
    assert_null(inbox_take(ib));
    for (uint64_t i = 1; i <= 3; i++)
        inbox_push(ib, event(0, i));
    assert_int_equal(atomic_load(&wakes), 1);
    nb_event *got = inbox_take(ib);
    uint64_t want = 1;
    for (nb_event *ev = got; ev; ev = ev->next)
        assert_int_equal(ev->seq, want++);
    assert_int_equal(want, 4);
    free_all(got);
    assert_null(inbox_take(ib));
    inbox_push(ib, event(0, 4));
    assert_int_equal(atomic_load(&wakes), 2); /* empty again: the next push wakes */
    free_all(inbox_take(ib));
    inbox_destroy(ib);
    sem_destroy(&woken);
}

enum { PRODUCERS = 4, PER_PRODUCER = 20000 };

static inbox *shared;

static void *producer(void *arg)
{
    uint64_t p = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 1; i <= PER_PRODUCER; i++)
        inbox_push(shared, event(p, i));
    return NULL;
}

/* Several pushing threads and a taker woken by the callback: every event
 * arrives once, each producer's in its order, and wake-ups never outnumber
 * the takes that found something. */
static void test_threads(void **state)
{
    atomic_store(&wakes, 0);
    sem_init(&woken, 0, 0);
    shared = inbox_create(on_wake, NULL);
    pthread_t t[PRODUCERS];
    for (uintptr_t p = 0; p < PRODUCERS; p++)
        assert_int_equal(pthread_create(&t[p], NULL, producer, (void *)p), 0);
    uint64_t next[PRODUCERS] = {1, 1, 1, 1}, total = 0, takes = 0;
    while (total < (uint64_t)PRODUCERS * PER_PRODUCER) {
        nb_event *got = inbox_take(shared);
        if (!got) {
            sem_wait(&woken); /* a push onto the empty inbox posts it */
            continue;
        }
        takes++;
        for (nb_event *ev = got; ev; ev = ev->next, total++) {
            assert_true(ev->replay_id < PRODUCERS);
            assert_int_equal(ev->seq, next[ev->replay_id]++);
        }
        free_all(got);
    }
    for (int p = 0; p < PRODUCERS; p++)
        pthread_join(t[p], NULL);
    assert_null(inbox_take(shared));
    assert_true(atomic_load(&wakes) >= 1);
    assert_true((uint64_t)atomic_load(&wakes) <= takes);
    inbox_destroy(shared);
    sem_destroy(&woken);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_wakes),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
