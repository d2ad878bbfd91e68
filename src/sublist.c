/* sublist.c: the subscription index, a token trie with NATS wildcards and a match cache. */
#include "wsgate/sublist.h"

#include "wsgate/hash.h"
#include "wsgate/hmap.h"
#include "wsgate/subject.h"
#include "wsgate/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The trie
 * --------
 * Each pattern is a path from the root, one node per token. A node has up to
 * three kinds of children: literal tokens (an hmap keyed by the child's own
 * token, so a node with thousands of children, like "batch" with one per
 * batch id, stays O(1)), a "*" child and a ">" child. The entries (pattern,
 * owner) whose pattern ends at a node sit in that node's array, their owners
 * in a parallel array that a match copies in one go; each entry knows its
 * node and its index in the arrays, so removal is a swap with the last
 * element, then the path is pruned of nodes left empty.
 *
 * Matching a subject walks the trie token by token, following at each node
 * the literal child for the token and the "*" child, and collecting the ">"
 * child's entries (">" takes all remaining tokens, at least one).
 *
 * The cache
 * ---------
 * Results are cached per subject, at most SUBLIST_CACHE_MAX of them and
 * SUBLIST_CACHE_MAX_BYTES in all (a result holds every matching owner, so
 * with many wildcard subscribers each one is big); a miss on a full cache
 * clears it. A result bigger than SUBLIST_CACHE_BIG is not cached at all:
 * it is kept only until the next match. Each result is one block: header,
 * owners, subject text; an hmap maps the subject text (the block's own) to
 * it. A hit is one hash of the subject and one lookup.
 *
 * On insert or remove of a pattern P, exactly the cached subjects that P
 * matches are dropped. Scanning all cached subjects with subject_matches
 * would cost thousands of comparisons per (un)subscribe, and clearing would
 * make every hot subject miss again, so the cached subjects are also kept in
 * a second trie of the same nodes, literal tokens only (a node there points
 * to the cached result whose subject ends at it). Walking P over that trie
 * ("*" visits every child, ">" takes whole subtrees) finds the matching
 * subjects directly: "user.u42.>" looks at the subjects under user.u42 only.
 */

#define SUBLIST_CACHE_MAX       4096
#define SUBLIST_CACHE_MAX_BYTES (8u << 20)
#define SUBLIST_CACHE_BIG       (SUBLIST_CACHE_MAX_BYTES / 8)

typedef struct sublist_node sublist_node;
typedef struct sublist_cached sublist_cached;

struct sublist_node {
    sublist_node *parent;
    hmap children;           /* literal children by token (the key is the child's token) */
    sublist_node *star;      /* the "*" child */
    sublist_node *gt;        /* the ">" child */
    sublist_entry **entries; /* entries whose pattern ends here */
    void **owners;           /* their owners, side by side (a match copies this array) */
    size_t nentries, cap;
    sublist_cached *cached; /* cache trie only: the result whose subject ends here */
    char token[];           /* this node's token ("*", ">", a literal; "" at the root) */
};

struct sublist_entry {
    sublist_node *node; /* where the pattern ends */
    size_t index;       /* position in node->entries */
    void *owner;
    char pattern[]; /* owned copy */
};

/* A cached match result: the header, then its owners, then the subject. */
struct sublist_cached {
    sublist_node *leaf; /* its node in the cache trie */
    sublist_result result;
    void *owners[]; /* result.count owners, then the NUL-terminated subject */
};

/* One token of a subject being matched. */
typedef struct sublist_token {
    const char *s;
    size_t len;
    uint64_t hash; /* hash_bytes(s, len), for every node the token is looked up in */
} sublist_token;

struct sublist {
    sublist_node *root; /* the patterns */
    size_t count;       /* entries */
    size_t nnodes;      /* nodes under root */

    sublist_node *croot; /* the cached subjects */
    size_t ncnodes;      /* nodes under croot */
    hmap cache;          /* subject (the result's own copy) -> sublist_cached */
    size_t ncached;
    size_t cbytes;            /* memory of the cached results */
    sublist_cached *uncached; /* the last result too big to cache, or NULL */
    size_t hits, misses;

    void **scratch; /* owners collected by a walk, or results to drop */
    size_t nscratch, scratch_cap;
};

/* ---- tokens ---- */

/* Length of the token at s (up to '.' or the end). */
static size_t sublist_toklen(const char *s)
{
    size_t n = 0;
    while (s[n] != '.' && s[n] != '\0')
        n++;
    return n;
}

/* ---- scratch array ---- */

static void sublist_scratch_reserve(sublist *sl, size_t more)
{
    if (sl->nscratch + more <= sl->scratch_cap)
        return;
    size_t cap = sl->scratch_cap ? sl->scratch_cap : 64;
    while (cap < sl->nscratch + more)
        cap *= 2;
    sl->scratch = xrealloc(sl->scratch, cap * sizeof *sl->scratch);
    sl->scratch_cap = cap;
}

static void sublist_scratch_push(sublist *sl, void *p)
{
    sublist_scratch_reserve(sl, 1);
    sl->scratch[sl->nscratch++] = p;
}

/* ---- trie nodes (both tries) ---- */

static sublist_node *sublist_node_new(sublist_node *parent, const char *tok, size_t len)
{
    sublist_node *n = xcalloc(1, sizeof *n + len + 1);
    n->parent = parent;
    hmap_init(&n->children);
    memcpy(n->token, tok, len);
    return n;
}

static bool sublist_node_empty(const sublist_node *n)
{
    return n->nentries == 0 && hmap_count(&n->children) == 0 && !n->star && !n->gt && !n->cached;
}

/* The literal child of n for the len bytes at tok, whose hash_bytes is hash, or NULL. */
static sublist_node *sublist_node_find(const sublist_node *n, const char *tok, size_t len,
                                       uint64_t hash)
{
    return hmap_getnh(&n->children, tok, len, hash);
}

/* The child of n for one pattern token, created (and counted in *nodes) if missing. */
static sublist_node *sublist_node_child(sublist_node *n, const char *tok, size_t len, size_t *nodes)
{
    if (len == 1 && (tok[0] == '*' || tok[0] == '>')) {
        sublist_node **slot = tok[0] == '*' ? &n->star : &n->gt;
        if (!*slot) {
            *slot = sublist_node_new(n, tok, 1);
            (*nodes)++;
        }
        return *slot;
    }
    uint64_t hash = hash_bytes(tok, len);
    sublist_node *c = sublist_node_find(n, tok, len, hash);
    if (c)
        return c;
    c = sublist_node_new(n, tok, len);
    hmap_puth(&n->children, c->token, c, hash);
    (*nodes)++;
    return c;
}

/* The node for a whole pattern (or subject) under root, created as needed. */
static sublist_node *sublist_node_path(sublist_node *root, const char *pattern, size_t *nodes)
{
    sublist_node *n = root;
    for (const char *t = pattern;;) {
        size_t len = sublist_toklen(t);
        n = sublist_node_child(n, t, len, nodes);
        t += len;
        if (*t == '\0')
            return n;
        t++;
    }
}

/* Give n's entry arrays room for cap entries. */
static void sublist_node_resize(sublist_node *n, size_t cap)
{
    n->entries = xrealloc(n->entries, cap * sizeof *n->entries);
    n->owners = xrealloc(n->owners, cap * sizeof *n->owners);
    n->cap = cap;
}

/* Unlink the empty node c from its parent and free it. */
static void sublist_node_detach(sublist_node *c)
{
    sublist_node *p = c->parent;
    if (p->star == c) {
        p->star = NULL;
    } else if (p->gt == c) {
        p->gt = NULL;
    } else {
        hmap_del(&p->children, c->token);
    }
    hmap_fini(&c->children);
    free(c->entries);
    free(c->owners);
    free(c);
}

/* Free n, then its ancestors, as long as they are empty (never the root). */
static void sublist_node_prune(sublist_node *n, size_t *nodes)
{
    while (n->parent && sublist_node_empty(n)) {
        sublist_node *parent = n->parent;
        sublist_node_detach(n);
        (*nodes)--;
        n = parent;
    }
}

/* Free n and its whole subtree, with the entries and cached results in it. */
static void sublist_node_free(sublist_node *n)
{
    hmap_slot *s;
    for (size_t i = 0; (s = hmap_next(&n->children, &i));)
        sublist_node_free(s->value); /* frees the key, which hmap_next does not read again */
    if (n->star)
        sublist_node_free(n->star);
    if (n->gt)
        sublist_node_free(n->gt);
    for (size_t i = 0; i < n->nentries; i++)
        free(n->entries[i]);
    free(n->entries);
    free(n->owners);
    hmap_fini(&n->children);
    free(n->cached);
    free(n);
}

/* ---- the cache ---- */

/* The subject text stored after the owners. */
static const char *sublist_cached_subject(const sublist_cached *c)
{
    return (const char *)&c->owners[c->result.count];
}

/* Bytes of the block of a result of n owners for a subject of len bytes. */
static size_t sublist_cached_size(size_t n, size_t len)
{
    return sizeof(sublist_cached) + n * sizeof(void *) + len + 1;
}

/* Unlink one cached result from the hash map and the cache trie, and free it. */
static void sublist_cache_drop(sublist *sl, sublist_cached *c)
{
    const char *subject = sublist_cached_subject(c);
    sl->cbytes -= sublist_cached_size(c->result.count, strlen(subject));
    hmap_del(&sl->cache, subject);
    c->leaf->cached = NULL;
    sublist_node_prune(c->leaf, &sl->ncnodes);
    sl->ncached--;
    free(c);
}

static void sublist_cache_clear(sublist *sl)
{
    sublist_node_free(sl->croot); /* frees the cached results too */
    sl->croot = sublist_node_new(NULL, "", 0);
    sl->ncnodes = 0;
    hmap_clear(&sl->cache); /* its keys died with the results */
    sl->ncached = 0;
    sl->cbytes = 0;
}

/* Cache the owners in sl->scratch as the result for subject, of len bytes
 * and hash_bytes hash (or, when too big to cache, keep them in sl->uncached
 * until the next match). */
static sublist_cached *sublist_cache_add(sublist *sl, const char *subject, size_t len,
                                         uint64_t hash)
{
    size_t n = sl->nscratch;
    size_t size = sublist_cached_size(n, len);
    sublist_cached *c = xmalloc(size);
    c->result.owners = c->owners;
    c->result.count = n;
    if (n)
        memcpy(c->owners, sl->scratch, n * sizeof(void *));
    memcpy((char *)&c->owners[n], subject, len + 1);
    if (size > SUBLIST_CACHE_BIG) {
        c->leaf = NULL;
        sl->uncached = c;
        return c;
    }
    if (sl->ncached == SUBLIST_CACHE_MAX || sl->cbytes + size > SUBLIST_CACHE_MAX_BYTES)
        sublist_cache_clear(sl);
    sl->cbytes += size;
    hmap_puth(&sl->cache, sublist_cached_subject(c), c, hash);
    c->leaf = sublist_node_path(sl->croot, subject, &sl->ncnodes);
    c->leaf->cached = c;
    sl->ncached++;
    return c;
}

/* Push onto sl->scratch every cached result in the cache subtree under n. */
static void sublist_cache_collect_all(sublist *sl, const sublist_node *n)
{
    if (n->cached)
        sublist_scratch_push(sl, n->cached);
    hmap_slot *s;
    for (size_t i = 0; (s = hmap_next(&n->children, &i));)
        sublist_cache_collect_all(sl, s->value);
}

static void sublist_cache_sweep(sublist *sl, const sublist_node *n, const char *p);

/* Child c of the cache trie took the pattern token before `rest` (NULL at the end). */
static void sublist_cache_sweep_child(sublist *sl, const sublist_node *c, const char *rest)
{
    if (!rest) {
        if (c->cached)
            sublist_scratch_push(sl, c->cached);
    } else {
        sublist_cache_sweep(sl, c, rest);
    }
}

/* Push onto sl->scratch the cached results under the cache node n whose
 * subjects' remaining tokens match the pattern tokens p. */
static void sublist_cache_sweep(sublist *sl, const sublist_node *n, const char *p)
{
    size_t len = sublist_toklen(p);
    const char *rest = p[len] == '.' ? p + len + 1 : NULL;
    if (len == 1 && (p[0] == '*' || p[0] == '>')) {
        hmap_slot *s;
        for (size_t i = 0; (s = hmap_next(&n->children, &i));) {
            if (p[0] == '>')
                sublist_cache_collect_all(sl, s->value);
            else
                sublist_cache_sweep_child(sl, s->value, rest);
        }
        return;
    }
    const sublist_node *c = sublist_node_find(n, p, len, hash_bytes(p, len));
    if (c)
        sublist_cache_sweep_child(sl, c, rest);
}

/* Drop exactly the cached results whose subjects pattern p matches. */
static void sublist_cache_invalidate(sublist *sl, const char *p)
{
    if (sl->ncached == 0)
        return;
    sl->nscratch = 0;
    sublist_cache_sweep(sl, sl->croot, p); /* collect first: dropping prunes the trie */
    for (size_t i = 0; i < sl->nscratch; i++)
        sublist_cache_drop(sl, sl->scratch[i]);
}

/* ---- matching ---- */

static void sublist_collect_entries(sublist *sl, const sublist_node *n)
{
    if (n->nentries == 0)
        return;
    sublist_scratch_reserve(sl, n->nentries);
    memcpy(&sl->scratch[sl->nscratch], n->owners, n->nentries * sizeof *n->owners);
    sl->nscratch += n->nentries;
}

/* Collect into sl->scratch the owners of the entries under n that match
 * tokens toks[i..ntoks). */
static void sublist_walk(sublist *sl, const sublist_node *n, const sublist_token *toks, size_t i,
                         size_t ntoks)
{
    if (i == ntoks) {
        sublist_collect_entries(sl, n);
        return;
    }
    if (n->gt)
        sublist_collect_entries(sl, n->gt); /* one or more tokens remain */
    if (n->star)
        sublist_walk(sl, n->star, toks, i + 1, ntoks);
    const sublist_node *c = sublist_node_find(n, toks[i].s, toks[i].len, toks[i].hash);
    if (c)
        sublist_walk(sl, c, toks, i + 1, ntoks);
}

/* ---- public API ---- */

sublist *sublist_create(void)
{
    sublist *sl = xcalloc(1, sizeof *sl);
    sl->root = sublist_node_new(NULL, "", 0);
    sl->croot = sublist_node_new(NULL, "", 0);
    hmap_init(&sl->cache);
    return sl;
}

void sublist_destroy(sublist *sl)
{
    if (!sl)
        return;
    sublist_node_free(sl->croot);
    sublist_node_free(sl->root);
    free(sl->uncached);
    hmap_fini(&sl->cache);
    free(sl->scratch);
    free(sl);
}

sublist_entry *sublist_insert(sublist *sl, const char *pattern, void *owner)
{
    sublist_node *n = sublist_node_path(sl->root, pattern, &sl->nnodes);
    size_t plen = strlen(pattern);
    sublist_entry *e = xmalloc(sizeof *e + plen + 1);
    memcpy(e->pattern, pattern, plen + 1);
    e->owner = owner;
    e->node = n;
    if (n->nentries == n->cap)
        sublist_node_resize(n, n->cap ? 2 * n->cap : 2);
    e->index = n->nentries;
    n->entries[n->nentries] = e;
    n->owners[n->nentries++] = owner;
    sl->count++;
    sublist_cache_invalidate(sl, pattern);
    return e;
}

void sublist_remove(sublist *sl, sublist_entry *e)
{
    sublist_node *n = e->node;
    sublist_entry *last = n->entries[--n->nentries];
    n->entries[e->index] = last;
    n->owners[e->index] = last->owner;
    last->index = e->index;
    if (n->cap > 8 && n->nentries < n->cap / 4) /* give memory back after mass removals */
        sublist_node_resize(n, n->cap / 2);
    sublist_node_prune(n, &sl->nnodes);
    sl->count--;
    sublist_cache_invalidate(sl, e->pattern);
    free(e);
}

const char *sublist_entry_pattern(const sublist_entry *e)
{
    return e->pattern;
}

void *sublist_entry_owner(const sublist_entry *e)
{
    return e->owner;
}

const sublist_result *sublist_match(sublist *sl, const char *subject)
{
    static const sublist_result none = {NULL, 0};
    free(sl->uncached); /* the previous big result: valid until this call */
    sl->uncached = NULL;
    size_t len = strlen(subject);
    uint64_t hash = hash_bytes(subject, len);
    sublist_cached *c = hmap_getnh(&sl->cache, subject, len, hash);
    if (c) {
        sl->hits++;
        return &c->result;
    }
    sl->misses++;
    if (!subject_valid(subject))
        return &none;
    sublist_token toks[SUBJECT_MAX_TOKENS];
    size_t ntoks = 0;
    for (const char *t = subject;;) {
        size_t tlen = sublist_toklen(t);
        toks[ntoks++] = (sublist_token){t, tlen, hash_bytes(t, tlen)};
        t += tlen;
        if (*t == '\0')
            break;
        t++;
    }
    sl->nscratch = 0;
    sublist_walk(sl, sl->root, toks, 0, ntoks);
    return &sublist_cache_add(sl, subject, len, hash)->result;
}

size_t sublist_count(const sublist *sl)
{
    return sl->count;
}

void sublist_cache_stats(const sublist *sl, size_t *hits, size_t *misses)
{
    if (hits)
        *hits = sl->hits;
    if (misses)
        *misses = sl->misses;
}

size_t sublist_node_count(const sublist *sl)
{
    return sl->nnodes;
}
