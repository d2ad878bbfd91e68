/* sim_heap.c: a binary min-heap ordered by (due time, insertion order). */
#include "sim_heap.h"

#include <stdlib.h>

#include "wsgate/xmalloc.h"

void sim_heap_init(struct sim_heap *h)
{
    h->items = NULL;
    h->len = h->cap = 0;
    h->next_order = 0;
}

void sim_heap_free(struct sim_heap *h)
{
    free(h->items);
    sim_heap_init(h);
}

static bool sim_heap_before(const struct sim_heap_item *a, const struct sim_heap_item *b)
{
    return a->due_us < b->due_us || (a->due_us == b->due_us && a->order < b->order);
}

static void sim_heap_swap(struct sim_heap *h, size_t i, size_t j)
{
    struct sim_heap_item t = h->items[i];
    h->items[i] = h->items[j];
    h->items[j] = t;
}

void sim_heap_push(struct sim_heap *h, struct sim_heap_item item)
{
    if (h->len == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->items = xrealloc(h->items, h->cap * sizeof *h->items);
    }
    item.order = h->next_order++;
    size_t i = h->len++;
    h->items[i] = item;
    while (i > 0 && sim_heap_before(&h->items[i], &h->items[(i - 1) / 2])) {
        sim_heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

const struct sim_heap_item *sim_heap_peek(const struct sim_heap *h)
{
    return h->len ? &h->items[0] : NULL;
}

bool sim_heap_pop(struct sim_heap *h, struct sim_heap_item *out)
{
    if (h->len == 0)
        return false;
    *out = h->items[0];
    h->items[0] = h->items[--h->len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < h->len && sim_heap_before(&h->items[l], &h->items[min]))
            min = l;
        if (r < h->len && sim_heap_before(&h->items[r], &h->items[min]))
            min = r;
        if (min == i)
            return true;
        sim_heap_swap(h, i, min);
        i = min;
    }
}
