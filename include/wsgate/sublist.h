/* sublist.h: the subscription index, a token trie with NATS wildcards and a match cache.
 *
 * Owners (connections) are opaque pointers. The index is used from one thread. */
#ifndef WSGATE_SUBLIST_H
#define WSGATE_SUBLIST_H

#include <stddef.h>

typedef struct sublist sublist;
typedef struct sublist_entry sublist_entry; /* one (pattern, owner) subscription */

typedef struct sublist_result {
    void **owners; /* owners of every matching entry; an owner appears once per matching entry */
    size_t count;
} sublist_result;

sublist *sublist_create(void);
/* Free the index. Entries still inside are freed too (owners are not touched). */
void sublist_destroy(sublist *sl);

/* Add (pattern, owner); pattern must be valid (subject_pattern_valid).
 * O(tokens). Never fails (aborts on OOM). The caller avoids duplicates. */
sublist_entry *sublist_insert(sublist *sl, const char *pattern, void *owner);
/* Remove and free an entry returned by sublist_insert. O(tokens). */
void sublist_remove(sublist *sl, sublist_entry *e);
/* The entry's pattern / owner. */
const char *sublist_entry_pattern(const sublist_entry *e);
void *sublist_entry_owner(const sublist_entry *e);

/* Owners of every entry whose pattern matches the subject (an invalid subject
 * matches nothing). The result is cached per subject and must not be
 * modified; it stays valid until the next sublist_insert, sublist_remove or
 * sublist_match (a miss on a full cache clears the cache), so do not remove
 * entries while iterating over it. */
const sublist_result *sublist_match(sublist *sl, const char *subject);

/* Number of entries; cache hits and misses since creation (for tests/metrics). */
size_t sublist_count(const sublist *sl);
void sublist_cache_stats(const sublist *sl, size_t *hits, size_t *misses);
/* Number of trie nodes besides the root (0 once every entry is removed). */
size_t sublist_node_count(const sublist *sl);

#endif
