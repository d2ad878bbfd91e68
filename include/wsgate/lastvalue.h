/* lastvalue.h: the latest msg frame of every last-value subject (e.g. batch.*.progress). */
#ifndef WSGATE_LASTVALUE_H
#define WSGATE_LASTVALUE_H

#include "wsgate/frame.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct lastvalue lastvalue;

/* patterns: the last-value subject patterns (copied). */
lastvalue *lastvalue_create(char *const *patterns, size_t count);
void lastvalue_destroy(lastvalue *lv);
/* Is subject a last-value subject? */
bool lastvalue_is(const lastvalue *lv, const char *subject);
/* Remember f (a msg frame on a last-value subject) as its subject's latest. */
void lastvalue_put(lastvalue *lv, wsg_frame *f);
/* Call fn for the latest frame of every last-value subject matching pattern, in seq order. */
void lastvalue_each_match(lastvalue *lv, const char *pattern, void (*fn)(wsg_frame *, void *),
                          void *arg);
void lastvalue_clear(lastvalue *lv);
size_t lastvalue_count(const lastvalue *lv);

#endif
