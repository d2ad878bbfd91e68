/* sendpool.c: run a dispatch round's sends (one sendmsg() per connection) on every core.
 *
 * A round: the caller publishes the job array and bumps `round` under the
 * lock, wakes the workers, and takes chunks itself; each sender claims
 * SENDPOOL_CHUNK jobs at a time with a compare-and-swap on `claim`, which
 * holds the round number beside the next index, so a worker that wakes late
 * with an older round's jobs can claim nothing. The caller waits until
 * `done` (jobs finished, counted per chunk) reaches n. Workers sleep on a
 * condition variable between rounds. */
#include "wsgate/sendpool.h"

#include "wsgate/xmalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#define SENDPOOL_CHUNK    32           /* jobs claimed at a time */
#define SENDPOOL_MIN_JOBS 64           /* fewer: the caller sends them alone (waking costs more) */
#define SENDPOOL_STACK    (256 * 1024) /* a sender only calls send(): 256 KiB, not 8 MiB */

struct sendpool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t lock; /* guards round, stop, jobs, n */
    pthread_cond_t wake;  /* a new round, or stop */
    pthread_cond_t idle;  /* a round's last chunk is done */
    uint64_t round;
    bool stop;
    sendpool_job *jobs;
    size_t n;
    _Alignas(64) _Atomic uint64_t claim; /* round << 32 | next job to claim */
    _Alignas(64) atomic_size_t done;     /* jobs finished this round */
};

static void sendpool_one(sendpool_job *j)
{
    struct msghdr m = {.msg_iov = (struct iovec *)j->iov, .msg_iovlen = (size_t)j->iovcnt};
    ssize_t n = sendmsg(j->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0)
        j->sent = n;
    else
        j->sent = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
}

/* Claim and run chunks of round `round` (whose jobs are jobs[0..n)) until
 * none is left, or the round is over. */
static void sendpool_work(sendpool *p, uint64_t round, sendpool_job *jobs, size_t n)
{
    for (;;) {
        uint64_t v = atomic_load_explicit(&p->claim, memory_order_acquire);
        size_t at;
        do {
            at = (size_t)(v & 0xffffffffu);
            if (v >> 32 != (round & 0xffffffffu) || at >= n)
                return;
        } while (!atomic_compare_exchange_weak_explicit(
            &p->claim, &v, v + SENDPOOL_CHUNK, memory_order_acq_rel, memory_order_acquire));
        size_t end = at + SENDPOOL_CHUNK < n ? at + SENDPOOL_CHUNK : n;
        for (size_t i = at; i < end; i++)
            sendpool_one(&jobs[i]);
        /* release: the caller reads the results after seeing done == n */
        if (atomic_fetch_add_explicit(&p->done, end - at, memory_order_acq_rel) + (end - at) == n) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->idle);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

static void *sendpool_main(void *arg)
{
    sendpool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->round == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        seen = p->round;
        sendpool_job *jobs = p->jobs;
        size_t n = p->n;
        pthread_mutex_unlock(&p->lock);
        sendpool_work(p, seen, jobs, n);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

sendpool *sendpool_create(int threads)
{
    sendpool *p = xcalloc(1, sizeof(*p));
    p->threads = threads < 1 ? 1 : threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->workers = xcalloc((size_t)p->threads, sizeof(*p->workers));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, SENDPOOL_STACK);
    for (int i = 1; i < p->threads; i++) {
        int rc = pthread_create(&p->workers[i], &attr, sendpool_main, p);
        if (rc != 0) {
            pthread_attr_destroy(&attr);
            p->threads = i; /* join those started */
            sendpool_destroy(p);
            errno = rc;
            return NULL;
        }
    }
    pthread_attr_destroy(&attr);
    return p;
}

void sendpool_destroy(sendpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->threads; i++)
        pthread_join(p->workers[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->idle);
    free(p->workers);
    free(p);
}

int sendpool_threads(const sendpool *p)
{
    return p ? p->threads : 1;
}

void sendpool_run(sendpool *p, sendpool_job *jobs, size_t n)
{
    if (!p || p->threads == 1 || n < SENDPOOL_MIN_JOBS) {
        for (size_t i = 0; i < n; i++)
            sendpool_one(&jobs[i]);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->jobs = jobs;
    p->n = n;
    p->round++;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claim, (p->round & 0xffffffffu) << 32, memory_order_release);
    uint64_t round = p->round;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    sendpool_work(p, round, jobs, n);
    pthread_mutex_lock(&p->lock);
    while (atomic_load_explicit(&p->done, memory_order_acquire) < n)
        pthread_cond_wait(&p->idle, &p->lock);
    p->jobs = NULL;
    pthread_mutex_unlock(&p->lock);
}
