/* doc.h: byte strings with an exact length for unit tests (NUL bytes allowed inside). */
#ifndef WSGATE_TEST_DOC_H
#define WSGATE_TEST_DOC_H

#include <stddef.h>

typedef struct doc {
    const char *p;
    size_t len;
} doc;

/* A string literal with its exact length (NUL bytes allowed inside). */
#define D(s)                                                                                       \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }

#endif
