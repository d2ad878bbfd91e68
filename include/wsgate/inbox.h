/* inbox.h: the thread boundary: events handed from the NATS threads to the lws service thread.
 *
 * A FIFO of nb_event (linked through their `next`) with a mutex of its own.
 * Any thread pushes; the service thread takes everything at once. The wake
 * callback (lws_cancel_service) runs after the push unlocked, and only when
 * the inbox went from empty to non-empty: the taker takes the whole inbox on
 * each wake-up and looks again whenever its backlog runs dry, so one wake-up
 * per non-empty inbox is enough. */
#ifndef WSGATE_INBOX_H
#define WSGATE_INBOX_H

struct nb_event;

typedef struct inbox inbox;
typedef void (*inbox_wake_fn)(void *arg);

/* An empty inbox that calls wake(arg) as above. */
inbox *inbox_create(inbox_wake_fn wake, void *arg);
/* Free an inbox; what it still holds must have been taken first (inbox_take). */
void inbox_destroy(inbox *ib);
/* Append ev (any thread; the inbox owns it until taken). */
void inbox_push(inbox *ib, struct nb_event *ev);
/* Take everything pushed so far, oldest first (the caller owns the list); NULL when empty. */
struct nb_event *inbox_take(inbox *ib);

#endif
