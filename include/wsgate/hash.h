/* hash.h: the one hash function behind every hash table: SipHash-1-3 with a per-process key. */
#ifndef WSGATE_HASH_H
#define WSGATE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-1-3 of p[0..n) under the process key. Keys of the gateway's tables
 * (subjects, license and batch ids, client addresses) come from outside: a
 * keyed hash keeps anyone from choosing keys that all collide. The key is
 * random, drawn once at start-up, so values differ from run to run. */
uint64_t hash_bytes(const void *p, size_t n);
/* hash_bytes of a NUL-terminated string (without the NUL). */
uint64_t hash_str(const char *s);
/* Replace the process key (for tests and benchmarks that want fixed values).
 * Not thread-safe: call before any table is in use. */
void hash_set_key(const uint8_t key[16]);

#endif
