/* hmap.h: a small open-addressing hash map from strings to pointers. */
#ifndef WSGATE_HMAP_H
#define WSGATE_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hmap_slot {
    const char *key; /* NULL: empty */
    void *value;
    uint64_t hash;
} hmap_slot;

/* Linear probing in a power-of-two table at most half full; deletion shifts
 * entries back (no tombstones). Keys are not copied: a key must stay valid
 * and unchanged while its entry exists (typically it lives in the value). */
typedef struct hmap {
    hmap_slot *slots;
    size_t cap, count;
} hmap;

/* An empty map (no allocation until the first put); also a valid {0} struct. */
void hmap_init(hmap *m);
/* Free the table (not the keys or values); the map is left empty and usable. */
void hmap_fini(hmap *m);
/* The value stored under key, or NULL. */
void *hmap_get(const hmap *m, const char *key);
/* The value stored under the len bytes at key (not NUL-terminated: a token
 * inside a longer string), or NULL. */
void *hmap_getn(const hmap *m, const char *key, size_t len);
/* Store value under key, replacing (and returning) the previous value, or
 * NULL when the key is new. The entry keeps the key pointer given here, also
 * on a replace (so a key inside the old value may go with it). */
void *hmap_put(hmap *m, const char *key, void *value);
/* hmap_getn and hmap_put with the key's hash given, which must be
 * hash_bytes(key, len) (hash_str(key) for hmap_puth): for a caller that
 * looks one key up in several maps, or looks it up and then stores it. */
void *hmap_getnh(const hmap *m, const char *key, size_t len, uint64_t hash);
void *hmap_puth(hmap *m, const char *key, void *value, uint64_t hash);
/* Remove key; returns its value, or NULL when absent. */
void *hmap_del(hmap *m, const char *key);
/* Iterate: `for (size_t i = 0; (s = hmap_next(m, &i));)` visits each entry
 * once, in no particular order; the map must not change meanwhile. */
hmap_slot *hmap_next(const hmap *m, size_t *i);
/* Remove every entry, keep the memory. */
void hmap_clear(hmap *m);
size_t hmap_count(const hmap *m);

#endif
