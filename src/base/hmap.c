/* hmap.c: open-addressing string -> pointer map (see hmap.h), hashed by hash.c. */
#include "wsgate/hmap.h"

#include "wsgate/hash.h"
#include "wsgate/xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define HMAP_MIN_CAP 2

void hmap_init(hmap *m)
{
    memset(m, 0, sizeof(*m));
}

void hmap_fini(hmap *m)
{
    free(m->slots);
    hmap_init(m);
}

/* The slot holding the key of len bytes at key, or the empty slot where it
 * belongs. cap > 0. */
static hmap_slot *hmap_slot_of_n(const hmap *m, const char *key, size_t len, uint64_t hash)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        hmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == hash && strncmp(s->key, key, len) == 0 && s->key[len] == '\0'))
            return s;
    }
}

/* The same for a NUL-terminated key. */
static hmap_slot *hmap_slot_of(const hmap *m, const char *key, uint64_t hash)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        hmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == hash && strcmp(s->key, key) == 0))
            return s;
    }
}

/* Double the table (or create it), re-placing every entry. */
static void hmap_grow(hmap *m)
{
    hmap old = *m;
    m->cap = old.cap ? old.cap * 2 : HMAP_MIN_CAP;
    m->slots = xcalloc(m->cap, sizeof(hmap_slot));
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].key)
            *hmap_slot_of(m, old.slots[i].key, old.slots[i].hash) = old.slots[i];
    free(old.slots);
}

void *hmap_get(const hmap *m, const char *key)
{
    if (m->count == 0)
        return NULL;
    return hmap_slot_of(m, key, hash_str(key))->value;
}

void *hmap_getn(const hmap *m, const char *key, size_t len)
{
    if (m->count == 0)
        return NULL;
    return hmap_slot_of_n(m, key, len, hash_bytes(key, len))->value;
}

void *hmap_getnh(const hmap *m, const char *key, size_t len, uint64_t hash)
{
    if (m->count == 0)
        return NULL;
    return hmap_slot_of_n(m, key, len, hash)->value;
}

void *hmap_put(hmap *m, const char *key, void *value)
{
    return hmap_puth(m, key, value, hash_str(key));
}

void *hmap_puth(hmap *m, const char *key, void *value, uint64_t hash)
{
    if ((m->count + 1) * 2 > m->cap)
        hmap_grow(m);
    hmap_slot *s = hmap_slot_of(m, key, hash);
    void *old = s->key ? s->value : NULL;
    if (!s->key)
        m->count++;
    *s = (hmap_slot){key, value, hash}; /* the new key: the old one may die with the old value */
    return old;
}

void *hmap_del(hmap *m, const char *key)
{
    if (m->count == 0)
        return NULL;
    size_t mask = m->cap - 1;
    hmap_slot *s = hmap_slot_of(m, key, hash_str(key));
    if (!s->key)
        return NULL;
    void *value = s->value;
    /* Backward shift: move later entries of the probe run into the hole
     * when the hole lies between their home slot and where they are. */
    size_t hole = (size_t)(s - m->slots);
    for (size_t i = (hole + 1) & mask; m->slots[i].key; i = (i + 1) & mask) {
        size_t home = m->slots[i].hash & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            m->slots[hole] = m->slots[i];
            hole = i;
        }
    }
    m->slots[hole] = (hmap_slot){NULL, NULL, 0};
    m->count--;
    return value;
}

hmap_slot *hmap_next(const hmap *m, size_t *i)
{
    for (; *i < m->cap; (*i)++)
        if (m->slots[*i].key)
            return &m->slots[(*i)++];
    return NULL;
}

void hmap_clear(hmap *m)
{
    if (m->slots)
        memset(m->slots, 0, m->cap * sizeof(hmap_slot));
    m->count = 0;
}

size_t hmap_count(const hmap *m)
{
    return m->count;
}
