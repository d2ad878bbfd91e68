/* inbox.c: the FIFO between the NATS threads and the service thread (see inbox.h). */
#include "wsgate/inbox.h"

#include "wsgate/nats_bridge.h"
#include "wsgate/xmalloc.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct inbox {
    pthread_mutex_t lock; /* guards head and tail */
    nb_event *head, *tail;
    inbox_wake_fn wake;
    void *wake_arg;
};

inbox *inbox_create(inbox_wake_fn wake, void *arg)
{
    inbox *ib = xcalloc(1, sizeof(*ib));
    pthread_mutex_init(&ib->lock, NULL);
    ib->wake = wake;
    ib->wake_arg = arg;
    return ib;
}

void inbox_destroy(inbox *ib)
{
    if (!ib)
        return;
    assert(!ib->head);
    pthread_mutex_destroy(&ib->lock);
    free(ib);
}

void inbox_push(inbox *ib, nb_event *ev)
{
    ev->next = NULL;
    pthread_mutex_lock(&ib->lock);
    bool was_empty = !ib->head;
    if (was_empty)
        ib->head = ev;
    else
        ib->tail->next = ev;
    ib->tail = ev;
    pthread_mutex_unlock(&ib->lock);
    if (was_empty)
        ib->wake(ib->wake_arg);
}

nb_event *inbox_take(inbox *ib)
{
    pthread_mutex_lock(&ib->lock);
    nb_event *ev = ib->head;
    ib->head = ib->tail = NULL;
    pthread_mutex_unlock(&ib->lock);
    return ev;
}
