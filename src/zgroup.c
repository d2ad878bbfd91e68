/* zgroup.c: shared permessage-deflate compressors, one per set of subscriptions (see zgroup.h). */
#include "wsgate/zgroup.h"

#include "wsgate/hmap.h"
#include "wsgate/metrics.h"
#include "wsgate/sbuf.h"
#include "wsgate/xmalloc.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct zgroup {
    char *key;           /* "bits\npattern\n..." with the patterns sorted (the map's key) */
    uint32_t members;    /* connections attached */
    z_stream *z;         /* the shared compressor while 2+ members (and under the limit) */
    bool fresh;          /* z has compressed nothing since made: the next frame is a sync point */
    bool want_sync;      /* a member waits out of step: reset at the next chance */
    uint64_t pos;        /* group frames made: never reset, so a stale member cannot match */
    uint64_t sync_pos;   /* pos of the last frame made right after a reset */
    uint32_t since_sync; /* frames made since that reset */
    int64_t sync_ns;     /* recv_ns of that frame */
    wsg_frame *cur_src;  /* the last event compressed (a reference) ... */
    wsg_frame *cur;      /* ... and its compressed frame (NULL: compressing failed) */
    uint8_t bits;
};

struct zgroups {
    zgroups_limits lim;
    hmap groups;
    int compressors; /* groups with a compressor (bounded by lim.max_groups) */
    z_stream solo;   /* compresses frames alone (reset before each) */
    bool solo_ready;
    wsg_frame *solo_src; /* the last event compressed alone (a reference) ... */
    wsg_frame *solo_out; /* ... and the result (NULL: it did not pay) */
};

zgroups *zgroups_create(const zgroups_limits *lim)
{
    zgroups *zs = xcalloc(1, sizeof(*zs));
    zs->lim = *lim;
    hmap_init(&zs->groups);
    return zs;
}

static void zgroup_free_compressor(zgroups *zs, zgroup *g)
{
    if (!g->z)
        return;
    deflateEnd(g->z);
    free(g->z);
    g->z = NULL;
    zs->compressors--;
    metrics.deflate_groups--;
    metrics.deflate_members -= g->members;
}

static void zgroup_free(zgroups *zs, zgroup *g)
{
    zgroup_free_compressor(zs, g);
    frame_unref(g->cur);
    frame_unref(g->cur_src);
    free(g->key);
    free(g);
}

void zgroups_destroy(zgroups *zs)
{
    if (!zs)
        return;
    hmap_slot *s;
    for (size_t i = 0; (s = hmap_next(&zs->groups, &i));)
        zgroup_free(zs, s->value);
    hmap_fini(&zs->groups);
    if (zs->solo_ready)
        deflateEnd(&zs->solo);
    frame_unref(zs->solo_src);
    frame_unref(zs->solo_out);
    free(zs);
}

/* Compress f's payload with z (Z_SYNC_FLUSH, the 00 00 ff ff tail taken
 * off, RFC 7692 7.2.1) into a new frame. Returns it, or NULL when zlib
 * failed or (unless must) the result is not smaller than f. */
static wsg_frame *zgroups_deflate(z_stream *z, wsg_frame *f, bool chained, bool must)
{
    size_t cap = deflateBound(z, f->len) + 16;
    unsigned char *mem = xmalloc(FRAME_PRE + cap);
    z->next_in = frame_data(f);
    z->avail_in = (uInt)f->len;
    z->next_out = mem + FRAME_PRE;
    z->avail_out = (uInt)cap;
    int rc = deflate(z, Z_SYNC_FLUSH);
    size_t len = cap - z->avail_out;
    if (rc != Z_OK || z->avail_in != 0 || len < 4 || (!must && len - 4 >= f->len)) {
        free(mem);
        return NULL;
    }
    return frame_compressed(f, mem, len - 4, chained);
}

/* Make z a compressor of bits window (a group's or the solo one): false when
 * zlib has no memory. */
static bool zgroups_init_z(const zgroups *zs, z_stream *z, uint8_t bits)
{
    memset(z, 0, sizeof(*z));
    return deflateInit2(z, zs->lim.level, Z_DEFLATED, -(int)bits, zs->lim.mem_level,
                        Z_DEFAULT_STRATEGY) == Z_OK;
}

/* Give g a compressor when it has 2+ members and the limit allows. */
static void zgroup_want_compressor(zgroups *zs, zgroup *g)
{
    if (g->z || g->members < 2 || zs->compressors >= zs->lim.max_groups)
        return;
    g->z = xmalloc(sizeof(*g->z));
    if (!zgroups_init_z(zs, g->z, g->bits)) {
        free(g->z);
        g->z = NULL;
        return;
    }
    g->fresh = true;
    frame_unref(g->cur); /* made by an earlier compressor: no member may get it now */
    frame_unref(g->cur_src);
    g->cur = g->cur_src = NULL;
    zs->compressors++;
    metrics.deflate_groups++;
    metrics.deflate_members += g->members;
}

void zmember_init(zmember *m, uint8_t bits, bool alone)
{
    *m = (zmember){.bits = bits, .alone = alone};
}

static void zmember_detach(zgroups *zs, zmember *m)
{
    zgroup *g = m->group;
    if (!g)
        return;
    m->group = NULL;
    m->pos = 0;
    g->members--;
    if (g->z)
        metrics.deflate_members--;
    if (g->members < 2)
        zgroup_free_compressor(zs, g); /* one connection alone shares nothing: solo frames */
    if (g->members == 0) {
        hmap_del(&zs->groups, g->key);
        zgroup_free(zs, g);
    }
}

static int zgroup_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The key of bits and n patterns: "bits\np1\np2..." sorted. */
static char *zgroup_key(uint8_t bits, const char *const *patterns, size_t n)
{
    const char **v = xmalloc((n ? n : 1) * sizeof(*v));
    memcpy(v, patterns, n * sizeof(*v));
    qsort(v, n, sizeof(*v), zgroup_cmp);
    sbuf b;
    sbuf_init(&b, 0);
    sbuf_printf(&b, "%u", bits);
    for (size_t i = 0; i < n; i++) {
        sbuf_putc(&b, '\n');
        sbuf_puts(&b, v[i]);
    }
    free(v);
    return (char *)sbuf_release(&b);
}

void zmember_set(zgroups *zs, zmember *m, const char *const *patterns, size_t n)
{
    if (!m->bits || m->alone) /* not negotiated, or every frame alone: no group */
        return;
    if (n == 0) {
        zmember_detach(zs, m);
        return;
    }
    char *key = zgroup_key(m->bits, patterns, n);
    if (m->group && strcmp(m->group->key, key) == 0) {
        free(key);
        return;
    }
    zmember_detach(zs, m);
    zgroup *g = hmap_get(&zs->groups, key);
    if (g) {
        free(key);
    } else {
        g = xcalloc(1, sizeof(*g));
        g->key = key;
        g->bits = m->bits;
        hmap_put(&zs->groups, g->key, g);
    }
    g->members++;
    if (g->z)
        metrics.deflate_members++;
    m->group = g;
    m->pos = 0;
    g->want_sync = true;
    zgroup_want_compressor(zs, g);
}

void zmember_clear(zgroups *zs, zmember *m)
{
    zmember_detach(zs, m);
}

void zmember_diverge(zgroups *zs, zmember *m)
{
    if (m->pos)
        metrics.deflate_leaves++;
    m->pos = 0;
    if (m->group)
        m->group->want_sync = true;
}

/* Make g's frame for event f: reset first when the compressor is new, or when
 * a member waits and the last reset is old enough (a sync point). */
static void zgroup_compress(zgroups *zs, zgroup *g, wsg_frame *f)
{
    frame_unref(g->cur);
    frame_unref(g->cur_src);
    g->cur_src = frame_ref(f);
    bool reset = g->fresh || (g->want_sync && (g->since_sync >= ZGROUP_SYNC_FRAMES ||
                                               f->recv_ns - g->sync_ns >= ZGROUP_SYNC_NS));
    g->pos++;
    if (reset) {
        if (!g->fresh)
            deflateReset(g->z);
        g->fresh = g->want_sync = false;
        g->sync_pos = g->pos;
        g->since_sync = 0;
        g->sync_ns = f->recv_ns;
        metrics.deflate_resets++;
    }
    g->since_sync++;
    metrics.deflate_group_frames++;
    /* compressed whatever the size: the compressor has seen f, so must every member */
    g->cur = zgroups_deflate(g->z, f, true, true);
    if (!g->cur) { /* the context is lost: start afresh, the next frame is a sync point */
        deflateReset(g->z);
        g->fresh = true;
    }
}

/* f compressed alone for m, or f itself (see zmember_frame). */
static wsg_frame *zgroups_solo(zgroups *zs, zmember *m, wsg_frame *f)
{
    if (f->len > ((size_t)1 << m->bits))
        return f; /* a standalone stream never refers back further than its length */
    if (zs->solo_src != f) {
        frame_unref(zs->solo_src);
        frame_unref(zs->solo_out);
        zs->solo_src = frame_ref(f);
        zs->solo_out = NULL;
        if (!zs->solo_ready)
            zs->solo_ready = zgroups_init_z(zs, &zs->solo, 15);
        else
            deflateReset(&zs->solo);
        if (zs->solo_ready) {
            metrics.deflate_solo_frames++;
            zs->solo_out = zgroups_deflate(&zs->solo, f, false, false);
        }
    }
    return zs->solo_out ? zs->solo_out : f;
}

wsg_frame *zmember_frame(zgroups *zs, zmember *m, wsg_frame *f)
{
    if (!m->bits || f->len < zs->lim.min_bytes)
        return f;
    zgroup *g = m->group;
    if (g && g->z) {
        if (g->cur_src != f)
            zgroup_compress(zs, g, f);
        bool step = m->pos && m->pos + 1 == g->pos;
        if (g->cur && (step || g->pos == g->sync_pos)) {
            if (!step)
                metrics.deflate_joins++;
            m->pos = g->pos;
            return g->cur;
        }
        zmember_diverge(zs, m);
    }
    return zgroups_solo(zs, m, f);
}
