/* lastvalue.c: latest frame per last-value subject, an open-addressing hash map (see lastvalue.h).
 */
#include "wsgate/lastvalue.h"

#include "wsgate/subject.h"
#include "wsgate/xmalloc.h"

#include <stdlib.h>
#include <string.h>

struct lastvalue {
    char **patterns;
    size_t npatterns;
    wsg_frame **slots; /* keyed by slots[i]->subject; NULL = empty */
    size_t cap, count;
};

static size_t lastvalue_hash(const char *s)
{
    size_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

lastvalue *lastvalue_create(char *const *patterns, size_t count)
{
    lastvalue *lv = xcalloc(1, sizeof(*lv));
    lv->patterns = xcalloc(count ? count : 1, sizeof(char *));
    for (size_t i = 0; i < count; i++)
        lv->patterns[i] = xstrdup(patterns[i]);
    lv->npatterns = count;
    return lv;
}

void lastvalue_clear(lastvalue *lv)
{
    for (size_t i = 0; i < lv->cap; i++) {
        frame_unref(lv->slots[i]);
        lv->slots[i] = NULL;
    }
    lv->count = 0;
}

void lastvalue_destroy(lastvalue *lv)
{
    if (!lv)
        return;
    lastvalue_clear(lv);
    for (size_t i = 0; i < lv->npatterns; i++)
        free(lv->patterns[i]);
    free(lv->patterns);
    free(lv->slots);
    free(lv);
}

bool lastvalue_is(const lastvalue *lv, const char *subject)
{
    for (size_t i = 0; i < lv->npatterns; i++)
        if (subject_matches(lv->patterns[i], subject))
            return true;
    return false;
}

/* Slot of subject, or of the empty slot where it would go. */
static size_t lastvalue_slot(const lastvalue *lv, const char *subject)
{
    size_t i = lastvalue_hash(subject) & (lv->cap - 1);
    while (lv->slots[i] && strcmp(lv->slots[i]->subject, subject) != 0)
        i = (i + 1) & (lv->cap - 1);
    return i;
}

static void lastvalue_grow(lastvalue *lv)
{
    wsg_frame **old = lv->slots;
    size_t oldcap = lv->cap;
    lv->cap = oldcap ? oldcap * 2 : 64;
    lv->slots = xcalloc(lv->cap, sizeof(*lv->slots));
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            lv->slots[lastvalue_slot(lv, old[i]->subject)] = old[i];
    free(old);
}

void lastvalue_put(lastvalue *lv, wsg_frame *f)
{
    if ((lv->count + 1) * 2 > lv->cap)
        lastvalue_grow(lv);
    size_t i = lastvalue_slot(lv, f->subject);
    if (lv->slots[i])
        frame_unref(lv->slots[i]);
    else
        lv->count++;
    lv->slots[i] = frame_ref(f);
}

static int lastvalue_by_seq(const void *a, const void *b)
{
    const wsg_frame *x = *(wsg_frame *const *)a, *y = *(wsg_frame *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void lastvalue_each_match(lastvalue *lv, const char *pattern, void (*fn)(wsg_frame *, void *),
                          void *arg)
{
    wsg_frame **hits = xmalloc((lv->count ? lv->count : 1) * sizeof(*hits));
    size_t n = 0;
    for (size_t i = 0; i < lv->cap; i++)
        if (lv->slots[i] && subject_matches(pattern, lv->slots[i]->subject))
            hits[n++] = lv->slots[i];
    qsort(hits, n, sizeof(*hits), lastvalue_by_seq);
    for (size_t i = 0; i < n; i++)
        fn(hits[i], arg);
    free(hits);
}

size_t lastvalue_count(const lastvalue *lv)
{
    return lv->count;
}
