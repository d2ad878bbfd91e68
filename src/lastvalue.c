/* lastvalue.c: latest frame per last-value subject, in an hmap keyed by subject (see lastvalue.h).
 */
#include "wsgate/lastvalue.h"

#include "wsgate/hmap.h"
#include "wsgate/subject.h"
#include "wsgate/xmalloc.h"

#include <stdlib.h>
#include <string.h>

struct lastvalue {
    char **patterns;
    size_t npatterns;
    hmap frames; /* subject (the frame's own) -> wsg_frame, one reference each */
};

lastvalue *lastvalue_create(char *const *patterns, size_t count)
{
    lastvalue *lv = xcalloc(1, sizeof(*lv));
    lv->patterns = xcalloc(count ? count : 1, sizeof(char *));
    for (size_t i = 0; i < count; i++)
        lv->patterns[i] = xstrdup(patterns[i]);
    lv->npatterns = count;
    hmap_init(&lv->frames);
    return lv;
}

void lastvalue_clear(lastvalue *lv)
{
    hmap_slot *s;
    for (size_t i = 0; (s = hmap_next(&lv->frames, &i));)
        frame_unref(s->value);
    hmap_clear(&lv->frames);
}

void lastvalue_destroy(lastvalue *lv)
{
    if (!lv)
        return;
    lastvalue_clear(lv);
    for (size_t i = 0; i < lv->npatterns; i++)
        free(lv->patterns[i]);
    free(lv->patterns);
    hmap_fini(&lv->frames);
    free(lv);
}

bool lastvalue_is(const lastvalue *lv, const char *subject)
{
    for (size_t i = 0; i < lv->npatterns; i++)
        if (subject_matches(lv->patterns[i], subject))
            return true;
    return false;
}

void lastvalue_put(lastvalue *lv, wsg_frame *f)
{
    frame_unref(hmap_put(&lv->frames, f->subject, frame_ref(f))); /* keyed by f's own subject */
}

/* qsort comparator of frame pointers by stream sequence: <0, 0 or >0. */
static int lastvalue_by_seq(const void *a, const void *b)
{
    const wsg_frame *x = *(wsg_frame *const *)a, *y = *(wsg_frame *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void lastvalue_each_match(lastvalue *lv, const char *pattern, void (*fn)(wsg_frame *, void *),
                          void *arg)
{
    size_t count = hmap_count(&lv->frames), n = 0;
    wsg_frame **hits = xmalloc((count ? count : 1) * sizeof(*hits));
    hmap_slot *s;
    for (size_t i = 0; (s = hmap_next(&lv->frames, &i));)
        if (subject_matches(pattern, s->key))
            hits[n++] = s->value;
    qsort(hits, n, sizeof(*hits), lastvalue_by_seq);
    for (size_t i = 0; i < n; i++)
        fn(hits[i], arg);
    free(hits);
}

size_t lastvalue_count(const lastvalue *lv)
{
    return hmap_count(&lv->frames);
}
