/* subject.h: NATS subject and pattern syntax, matching and pattern containment. */
#ifndef WSGATE_SUBJECT_H
#define WSGATE_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

#define SUBJECT_MAX_LEN    256 /* bytes */
#define SUBJECT_MAX_TOKENS 16
#define SUBJECT_MAX_TOKEN  64 /* characters per token */

/* A published subject: 1..16 tokens of 1..64 chars from [A-Za-z0-9_-], joined
 * by '.', at most 256 bytes, no wildcard. */
bool subject_valid(const char *s);
/* A character of an id token (a batch id, a country code, a cursor's id):
 * A-Z a-z 0-9 - _. */
bool subject_id_char(char c);
/* A subscription pattern: like a subject, but a token may be "*" and the last
 * token may be ">". */
bool subject_pattern_valid(const char *p);
/* Does the valid pattern p match the valid subject s? (NATS semantics:
 * "*" = exactly one token, final ">" = one or more tokens.) */
bool subject_matches(const char *p, const char *s);
/* Is every subject matched by pattern `inner` also matched by pattern `outer`?
 * ("license.>" contains "license.b42.*"; "license.*.assigned" does not
 * contain "license.>".) Both must be valid patterns. */
bool subject_contains(const char *outer, const char *inner);

#endif
