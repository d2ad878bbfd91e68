/* jsonscan.h: allocation-free validation of JSON text (RFC 8259); UTF-8 alone is utf8.h. */
#ifndef WSGATE_JSONSCAN_H
#define WSGATE_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define JSONSCAN_MAX_DEPTH 128 /* deeper nesting is reported as invalid */

/* Is p[0..n) exactly one JSON value (any type) with optional surrounding
 * white space, valid UTF-8 throughout, nesting at most JSONSCAN_MAX_DEPTH? */
bool jsonscan_valid(const char *p, size_t n);

#endif
