/* sim_heap.h: the schedule: a min-heap of timed events (worker completions, verifications). */
#ifndef SIM_HEAP_H
#define SIM_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sim_heap_kind {
    SIM_HEAP_WORKER,       /* a worker finishes its assignment */
    SIM_HEAP_VERIFICATION, /* the next verification event is due */
};

struct sim_heap_item {
    int64_t due_us; /* monotonic time at which it happens */
    uint64_t order; /* insertion order: equal due times pop first-in first-out */
    enum sim_heap_kind kind;
    int batch;  /* index of the batch (SIM_HEAP_WORKER) */
    int worker; /* 0-based worker of that batch (SIM_HEAP_WORKER) */
};

struct sim_heap {
    struct sim_heap_item *items;
    size_t len, cap;
    uint64_t next_order;
};

void sim_heap_init(struct sim_heap *h);
void sim_heap_free(struct sim_heap *h);
/* Schedule an item (its `order` is set here). */
void sim_heap_push(struct sim_heap *h, struct sim_heap_item item);
/* The earliest item, or NULL when the heap is empty. */
const struct sim_heap_item *sim_heap_peek(const struct sim_heap *h);
/* Remove the earliest item into *out; false when the heap is empty. */
bool sim_heap_pop(struct sim_heap *h, struct sim_heap_item *out);

#endif
