/* xmalloc.h: allocation that never returns NULL.
 *
 * Out-of-memory policy (one for the whole gateway): an allocation failure is
 * not recoverable in a fan-out server, so these functions log and abort().
 * Callers never check for NULL. */
#ifndef WSGATE_XMALLOC_H
#define WSGATE_XMALLOC_H

#include <stddef.h>

/* malloc, calloc, realloc, strdup and strndup that never return NULL (a
 * size of 0 still gives a unique pointer to free). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
