/* sendpool.h: run a dispatch round's sends (one sendmsg() per connection) on every core.
 *
 * On loopback and fast networks the kernel's work for one send() (about
 * 8.6 us here, most of the receiver's TCP work included) dwarfs the
 * gateway's own work per delivery (well under 1 us), so a fan-out to many
 * connections is bounded by one thread's sends. The pool runs a round's
 * sends on N threads (the caller's and N - 1 workers); everything else (the
 * queues, the frames, the state) stays with the service thread, which builds
 * the jobs before and reads their results after. Workers take jobs in chunks
 * through one atomic index: no lock and no shared cache line per send. */
#ifndef WSGATE_SENDPOOL_H
#define WSGATE_SENDPOOL_H

#include <stddef.h>
#include <sys/types.h>

typedef struct sendpool sendpool;

struct iovec;

/* One send: the iovcnt pieces at iov, in order, to socket `fd`, with one
 * non-blocking sendmsg(). */
typedef struct sendpool_job {
    int fd;
    int iovcnt;
    const struct iovec *iov;
    ssize_t sent; /* out: bytes the socket took (0 when it took none), or -errno */
} sendpool_job;

/* A pool of `threads` senders (the caller counts as one: threads - 1 workers).
 * Returns NULL with errno set when a thread cannot be started. */
sendpool *sendpool_create(int threads);
/* Stop and join the workers. NULL is ignored. */
void sendpool_destroy(sendpool *p);
/* Run every job (on all threads when there are enough to share) and return
 * when all are done. */
void sendpool_run(sendpool *p, sendpool_job *jobs, size_t n);
/* The number of senders. */
int sendpool_threads(const sendpool *p);

#endif
