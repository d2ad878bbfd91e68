/* seqrule.c: the sequence rule of a live JetStream consumer (see seqrule.h). */
#include "wsgate/seqrule.h"

bool seqrule_deleted(const seqrule *r, uint64_t from, uint64_t to)
{
    if (from < r->floor)
        from = r->floor;
    if (from >= to)
        return true;
    size_t lo = 0, hi = r->ndel; /* the first deleted sequence >= from */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->del[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t n = to - from; /* sorted and distinct: the run from..to-1 is there if both ends are */
    return lo + n <= r->ndel && r->del[lo] == from && r->del[lo + n - 1] == to - 1;
}

bool seqrule_take(seqrule *r, uint64_t seq, uint64_t cseq, uint64_t *expected)
{
    uint64_t due = r->cseq ? r->last_seq + 1 : r->start;
    *expected = due;
    if (cseq != r->cseq + 1 || seq < due || (seq != due && !seqrule_deleted(r, due, seq)))
        return false;
    r->cseq = cseq;
    r->last_seq = seq;
    return true;
}
