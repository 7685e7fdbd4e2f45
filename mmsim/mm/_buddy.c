/*
 * mmsim/mm/_buddy.c - optional compiled versions of the buddy allocator's
 * innermost loops.
 *
 * Each function here does exactly what a Python function of mmsim/mm does,
 * on the same arrays, in the same order, so every result is identical; the
 * Python versions stay the reference (read them, not this file, to learn the
 * kernel) and run whenever this module is missing:
 *
 *   free_runs    page_alloc._free_runs         __free_one_page for runs of
 *                                              order-0 frames: merge, unlink the
 *                                              buddies, insert at head or tail
 *   free_order0  page_alloc.free_order0_pages  free_unref_page for a list of
 *                                              pages, with free_pcppages_bulk
 *                                              each time a per-cpu list is full
 *   take_heads   compaction._take_heads        the free scanner taking free
 *                                              blocks off their lists
 *
 * Anything unusual (a bad pfn, an Isolate pageblock, a block of half a
 * pageblock or more) is handed back to the Python function that handles it.
 * Where the C is stricter than its twin it raises ValueError/RuntimeError
 * instead of corrupting memory: free_runs checks every run (inside the zone,
 * migratetype 0-7) before changing anything; per-cpu lists holding fewer
 * pages than pcp.count is an error here (the Python loop would spin); after
 * an error part-way the list heads are written back, so the free lists stay
 * consistent, as the Python loop leaves them when it stops at the same point.
 *
 * benchmarks/fastpath_check.py and tests/test_fastpaths.py run both versions
 * on random layouts and compare every array and counter.
 *
 * Built by setup.py as an optional extension: when no C compiler is present
 * the install still succeeds and mmsim runs the Python loops.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <string.h>

/* Constants handed over once by mmsim.mm.page_alloc (one source of truth). */
static long NIL = -1, NOT_BUDDY = 0xFF, MT_ISOLATE = 5, MT_CMA = 4;
static long MAX_ORDER = 11, PB_ORDER = 9;
static long FRAME_FREE = 0, FRAME_PCP = 1, PCPTYPES = 3, MT_MOVABLE = 1;
static int configured = 0;

#define MAX_KEYS 256

#define MAX_STATES 16

static PyObject *
configure(PyObject *self, PyObject *args)
{
    long nil, not_buddy, isolate, cma, max_order, pb_order, frame_free, frame_pcp, pcptypes,
        movable;
    if (!PyArg_ParseTuple(args, "llllllllll", &nil, &not_buddy, &isolate, &cma, &max_order,
                          &pb_order, &frame_free, &frame_pcp, &pcptypes, &movable))
        return NULL;
    if (max_order < 2 || max_order > MAX_KEYS / 8 || pb_order < 0 || pb_order >= max_order ||
        pcptypes < 1 || pcptypes > 8 || movable < 0 || movable >= pcptypes ||
        isolate < 0 || isolate > 7 || cma < 0 || cma > 7 || not_buddy < max_order ||
        not_buddy > 255 || frame_free < 0 || frame_free >= MAX_STATES || frame_pcp < 0 ||
        frame_pcp >= MAX_STATES) {
        PyErr_SetString(PyExc_ValueError, "_buddy.configure: a constant is out of the range "
                        "these loops were written for");
        return NULL;
    }
    NIL = nil;
    NOT_BUDDY = not_buddy;
    MT_ISOLATE = isolate;
    MT_CMA = cma;
    MAX_ORDER = max_order;
    PB_ORDER = pb_order;
    FRAME_FREE = frame_free;
    FRAME_PCP = frame_pcp;
    PCPTYPES = pcptypes;
    MT_MOVABLE = movable;
    configured = 1;
    Py_RETURN_NONE;
}

/* ---- access to the node's arrays and the zone's list heads ------------- */

typedef struct {
    Py_buffer bo, bmt, zid, nxt, prv, pbmt;
    int nbuf;
    unsigned char *bo_p, *bmt_p, *zid_p, *pbmt_p;
    int *nxt_p, *prv_p;
    long base, pb_base, zstart, zend, my_zone, span;
    PyObject *zone_node;
    PyObject *head, *tail, *nr_list, *nr_free; /* the zone's lists */
    long h[MAX_KEYS], t[MAX_KEYS], nl[MAX_KEYS], nf[MAX_KEYS];
    long h0[MAX_KEYS], t0[MAX_KEYS], nl0[MAX_KEYS], nf0[MAX_KEYS];
    long nkeys;
} Ctx;

static int
get_buf(PyObject *owner, const char *name, Py_buffer *view, Py_ssize_t itemsize)
{
    PyObject *o = PyObject_GetAttrString(owner, name);
    if (o == NULL)
        return -1;
    int rc = PyObject_GetBuffer(o, view, PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_C_CONTIGUOUS);
    Py_DECREF(o);
    if (rc < 0)
        return -1;
    if (view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "_buddy: %s has items of %zd bytes, expected %zd",
                     name, view->itemsize, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int
get_long(PyObject *owner, const char *name, long *out)
{
    PyObject *o = PyObject_GetAttrString(owner, name);
    if (o == NULL)
        return -1;
    *out = PyLong_AsLong(o);
    Py_DECREF(o);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
load_list(PyObject *lst, long *dst, long *copy, long n, const char *name)
{
    if (!PyList_Check(lst) || PyList_GET_SIZE(lst) < n) {
        PyErr_Format(PyExc_TypeError, "_buddy: zone.%s is not a list of %ld ints", name, n);
        return -1;
    }
    for (long k = 0; k < n; k++) {
        long v = PyLong_AsLong(PyList_GET_ITEM(lst, k));
        if (v == -1 && PyErr_Occurred())
            return -1;
        dst[k] = copy[k] = v;
    }
    return 0;
}

static int
store_list(PyObject *lst, const long *src, const long *old, long n)
{
    for (long k = 0; k < n; k++) {
        if (src[k] != old[k]) {
            PyObject *v = PyLong_FromLong(src[k]);
            if (v == NULL || PyList_SetItem(lst, k, v) < 0) /* steals v */
                return -1;
        }
    }
    return 0;
}

static void
ctx_release(Ctx *c)
{
    Py_buffer *views[6] = {&c->bo, &c->bmt, &c->zid, &c->nxt, &c->prv, &c->pbmt};
    for (int k = 0; k < c->nbuf; k++)
        PyBuffer_Release(views[k]);
    c->nbuf = 0;
    Py_XDECREF(c->zone_node);
    Py_XDECREF(c->head);
    Py_XDECREF(c->tail);
    Py_XDECREF(c->nr_list);
    Py_XDECREF(c->nr_free);
}

static int
ctx_open(Ctx *c, PyObject *zone)
{
    memset(c, 0, offsetof(Ctx, h));
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "_buddy.configure() was not called");
        return -1;
    }
    PyObject *node = PyObject_GetAttrString(zone, "node");
    if (node == NULL)
        return -1;
    long spanned;
    int rc = -1;
    if (get_buf(node, "_buddy_order", &c->bo, 1) < 0) goto out;
    c->nbuf++;
    if (get_buf(node, "_buddy_mt", &c->bmt, 1) < 0) goto out;
    c->nbuf++;
    if (get_buf(node, "_zone_id", &c->zid, 1) < 0) goto out;
    c->nbuf++;
    if (get_buf(node, "_nxt", &c->nxt, sizeof(int)) < 0) goto out;
    c->nbuf++;
    if (get_buf(node, "_prv", &c->prv, sizeof(int)) < 0) goto out;
    c->nbuf++;
    if (get_buf(node, "_pageblock_mt", &c->pbmt, 1) < 0) goto out;
    c->nbuf++;
    if (get_long(node, "node_start_pfn", &c->base) < 0) goto out;
    if (get_long(node, "pb_base", &c->pb_base) < 0) goto out;
    if (get_long(zone, "zone_start_pfn", &c->zstart) < 0) goto out;
    if (get_long(zone, "spanned_pages", &spanned) < 0) goto out;
    if (get_long(zone, "idx", &c->my_zone) < 0) goto out;
    c->zend = c->zstart + spanned;
    c->span = c->bo.len;
    if (c->bmt.len != c->span || c->zid.len != c->span ||
        c->nxt.len != c->span * (Py_ssize_t)sizeof(int) ||
        c->prv.len != c->span * (Py_ssize_t)sizeof(int) ||
        c->zstart < c->base || c->zend > c->base + c->span ||
        c->pbmt.len < ((c->base + c->span - 1) >> PB_ORDER) - c->pb_base + 1) {
        PyErr_SetString(PyExc_ValueError, "_buddy: node arrays and zone span disagree");
        goto out;
    }
    c->bo_p = c->bo.buf;
    c->bmt_p = c->bmt.buf;
    c->zid_p = c->zid.buf;
    c->pbmt_p = c->pbmt.buf;
    c->nxt_p = c->nxt.buf;
    c->prv_p = c->prv.buf;
    c->nkeys = MAX_ORDER << 3;
    if ((c->head = PyObject_GetAttrString(zone, "_head")) == NULL) goto out;
    if ((c->tail = PyObject_GetAttrString(zone, "_tail")) == NULL) goto out;
    if ((c->nr_list = PyObject_GetAttrString(zone, "_nr_list")) == NULL) goto out;
    if ((c->nr_free = PyObject_GetAttrString(zone, "_nr_free")) == NULL) goto out;
    if (load_list(c->head, c->h, c->h0, c->nkeys, "_head") < 0) goto out;
    if (load_list(c->tail, c->t, c->t0, c->nkeys, "_tail") < 0) goto out;
    if (load_list(c->nr_list, c->nl, c->nl0, c->nkeys, "_nr_list") < 0) goto out;
    if (load_list(c->nr_free, c->nf, c->nf0, MAX_ORDER, "_nr_free") < 0) goto out;
    rc = 0;
out:
    c->zone_node = node; /* released by ctx_release */
    return rc;
}

static int
ctx_commit(Ctx *c)
{
    if (store_list(c->head, c->h, c->h0, c->nkeys) < 0) return -1;
    if (store_list(c->tail, c->t, c->t0, c->nkeys) < 0) return -1;
    if (store_list(c->nr_list, c->nl, c->nl0, c->nkeys) < 0) return -1;
    if (store_list(c->nr_free, c->nf, c->nf0, MAX_ORDER) < 0) return -1;
    return 0;
}

/* On an error part-way: the arrays were written as the loop went, so write the
 * list heads and counters too (the lists stay consistent, as with the Python
 * loop that stops at the same point), keeping the pending exception. */
static void
ctx_commit_on_error(Ctx *c)
{
    if (c->head == NULL || c->tail == NULL || c->nr_list == NULL || c->nr_free == NULL)
        return;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    if (ctx_commit(c) < 0)
        PyErr_Clear();
    PyErr_Restore(et, ev, tb);
}

/* del_from_free_area on the context: unlink the block headed at index j. */
static inline void
unlink_block(Ctx *c, long j, long order)
{
    long base = c->base;
    long key = (order << 3) | (c->bmt_p[j] & 7);
    long n = c->nxt_p[j], p = c->prv_p[j];
    if (p == NIL)
        c->h[key] = n;
    else
        c->nxt_p[p - base] = (int)n;
    if (n == NIL)
        c->t[key] = p;
    else
        c->prv_p[n - base] = (int)p;
    c->bo_p[j] = (unsigned char)NOT_BUDDY;
    c->nl[key] -= 1;
    c->nf[order] -= 1;
}

static inline long
floor_log2(unsigned long x)
{
    long r = -1;
    while (x) {
        x >>= 1;
        r++;
    }
    return r;
}

static inline long
trailing_zeros(unsigned long x)
{
    long r = 0;
    while (!(x & 1)) {
        x >>= 1;
        r++;
    }
    return r;
}

static int
pfn_list(PyObject *seq, const char *name, PyObject **fast)
{
    *fast = PySequence_Fast(seq, name);
    return *fast == NULL ? -1 : 0;
}

/* Free the order-0 frames [s, e) as their maximal aligned blocks, each with
 * __free_one_page's merge and head/tail insertion; mt_run < 0: each block takes
 * its pageblock's migratetype.  page_alloc._free_runs, one run. */
static void
free_block_run(Ctx *c, long s, long e, long mt_run, long *added, long *added_cma)
{
    long base = c->base, zstart = c->zstart, zend = c->zend, top = MAX_ORDER - 1;
    unsigned char *bo = c->bo_p, *bmt = c->bmt_p, *zid = c->zid_p;
    int *nxt = c->nxt_p, *prv = c->prv_p;
    long p = s;
    while (p < e) {
        long order = p ? trailing_zeros((unsigned long)p) : top;
        long room = floor_log2((unsigned long)(e - p));
        if (room < order) order = room;
        if (order > top) order = top;
        long size = 1L << order;
        long mt = mt_run >= 0 ? mt_run : c->pbmt_p[(p >> PB_ORDER) - c->pb_base] & 7;
        if (mt != MT_ISOLATE) {
            *added += size;
            if (mt == MT_CMA) *added_cma += size;
        }
        long pfn = p, buddy_pfn = NIL;
        while (order < top) {
            buddy_pfn = pfn ^ (1L << order);
            if (!(zstart <= buddy_pfn && buddy_pfn < zend)) break;
            long j = buddy_pfn - base;
            if (bo[j] != order || zid[j] != c->my_zone) break;
            unlink_block(c, j, order);
            pfn &= buddy_pfn;
            order += 1;
        }
        int at_tail = 0;
        if (order < top - 1 && buddy_pfn != NIL) {
            long higher = (buddy_pfn & pfn) ^ (1L << (order + 1));
            if (zstart <= higher && higher < zend) {
                long j = higher - base;
                at_tail = bo[j] == order + 1 && zid[j] == c->my_zone;
            }
        }
        long i = pfn - base, key = (order << 3) | mt;
        if (at_tail) {
            long old = c->t[key];
            prv[i] = (int)old;
            nxt[i] = (int)NIL;
            if (old == NIL) c->h[key] = pfn;
            else nxt[old - base] = (int)pfn;
            c->t[key] = pfn;
        } else {
            long old = c->h[key];
            nxt[i] = (int)old;
            prv[i] = (int)NIL;
            if (old == NIL) c->t[key] = pfn;
            else prv[old - base] = (int)pfn;
            c->h[key] = pfn;
        }
        bo[i] = (unsigned char)order;
        bmt[i] = (unsigned char)mt;
        c->nl[key] += 1;
        c->nf[order] += 1;
        p += size;
    }
}

/* free_runs(zone, starts, ends, mts or None) -> (added, added_cma) */
static PyObject *
free_runs(PyObject *self, PyObject *args)
{
    PyObject *zone, *starts, *ends, *mts;
    if (!PyArg_ParseTuple(args, "OOOO", &zone, &starts, &ends, &mts))
        return NULL;
    PyObject *fs = NULL, *fe = NULL, *fm = NULL, *res = NULL;
    Ctx c;
    if (ctx_open(&c, zone) < 0) {
        ctx_release(&c);
        return NULL;
    }
    if (pfn_list(starts, "starts must be a sequence", &fs) < 0) goto out;
    if (pfn_list(ends, "ends must be a sequence", &fe) < 0) goto out;
    if (mts != Py_None && pfn_list(mts, "mts must be a sequence", &fm) < 0) goto out;
    Py_ssize_t nruns = PySequence_Fast_GET_SIZE(fs);
    if (PySequence_Fast_GET_SIZE(fe) != nruns ||
        (fm != NULL && PySequence_Fast_GET_SIZE(fm) != nruns)) {
        PyErr_SetString(PyExc_ValueError, "_buddy.free_runs: starts, ends and mts differ in length");
        goto out;
    }
    long zstart = c.zstart, zend = c.zend;
    long added = 0, added_cma = 0;
    /* pass 1 checks every run, so that nothing is changed unless all of it can be done
     * (an empty run, s >= e, frees nothing, as in the Python loop) */
    for (Py_ssize_t k = 0; k < nruns; k++) {
        long s = PyLong_AsLong(PySequence_Fast_GET_ITEM(fs, k));
        if (s == -1 && PyErr_Occurred()) goto out;
        long e = PyLong_AsLong(PySequence_Fast_GET_ITEM(fe, k));
        if (e == -1 && PyErr_Occurred()) goto out;
        long run_mt = 0;
        if (fm) {
            run_mt = PyLong_AsLong(PySequence_Fast_GET_ITEM(fm, k));
            if (run_mt == -1 && PyErr_Occurred()) goto out;
            if (run_mt < 0 || run_mt > 7) {
                PyErr_Format(PyExc_ValueError, "_buddy.free_runs: mts[%zd] = %ld is not a "
                             "migratetype (0-7)", k, run_mt);
                goto out;
            }
        }
        if (s < e && (s < zstart || e > zend)) {
            PyErr_Format(PyExc_ValueError, "_buddy.free_runs: run [%ld, %ld) outside the zone "
                         "[%ld, %ld)", s, e, zstart, zend);
            goto out;
        }
    }
    for (Py_ssize_t k = 0; k < nruns; k++) {
        long s = PyLong_AsLong(PySequence_Fast_GET_ITEM(fs, k));
        long e = PyLong_AsLong(PySequence_Fast_GET_ITEM(fe, k));
        long run_mt = fm ? PyLong_AsLong(PySequence_Fast_GET_ITEM(fm, k)) : -1;
        if (s < e)
            free_block_run(&c, s, e, run_mt, &added, &added_cma);
    }
    if (ctx_commit(&c) < 0) goto out;
    res = Py_BuildValue("ll", added, added_cma);
out:
    Py_XDECREF(fs);
    Py_XDECREF(fe);
    Py_XDECREF(fm);
    ctx_release(&c);
    return res;
}


/* ---- helpers on Python objects ------------------------------------------ */

/* old + delta with Python's int arithmetic (no overflow of a C long) */
static PyObject *
plus(PyObject *old, long delta)
{
    PyObject *d = PyLong_FromLong(delta);
    if (d == NULL)
        return NULL;
    PyObject *r = PyNumber_Add(old, d);
    Py_DECREF(d);
    return r;
}

/* obj.name = nv, consuming the new reference nv (NULL: an error already set) */
static int
set_attr_new(PyObject *obj, const char *name, PyObject *nv)
{
    if (nv == NULL)
        return -1;
    int rc = PyObject_SetAttrString(obj, name, nv);
    Py_DECREF(nv);
    return rc;
}

static int
add_attr(PyObject *obj, const char *name, long delta)
{
    if (!delta)
        return 0;
    PyObject *old = PyObject_GetAttrString(obj, name);
    if (old == NULL)
        return -1;
    PyObject *nv = plus(old, delta);
    Py_DECREF(old);
    return set_attr_new(obj, name, nv);
}

static int
set_attr_long(PyObject *obj, const char *name, long v)
{
    return set_attr_new(obj, name, PyLong_FromLong(v));
}

static int
add_item(PyObject *lst, long k, long delta)
{
    if (!delta)
        return 0;
    if (!PyList_Check(lst) || k < 0 || k >= PyList_GET_SIZE(lst)) {
        PyErr_SetString(PyExc_TypeError, "_buddy: counter list too short");
        return -1;
    }
    PyObject *nv = plus(PyList_GET_ITEM(lst, k), delta);
    if (nv == NULL)
        return -1;
    return PyList_SetItem(lst, k, nv);
}

/* The pages free_pcppages_bulk takes off the per-cpu lists, in its order
 * (page_alloc._pcp_take): a new list of `count` pfns; *pcp_count drops. */
static PyObject *
pcp_take(PyObject *lists, long count, long *pcp_count)
{
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    PyObject *pops[8] = {NULL};
    if (!PyList_Check(lists) || PyList_GET_SIZE(lists) < PCPTYPES) {
        PyErr_SetString(PyExc_TypeError, "_buddy: pcp.lists is not a list of deques");
        goto fail;
    }
    for (long m = 0; m < PCPTYPES; m++)
        if ((pops[m] = PyObject_GetAttrString(PyList_GET_ITEM(lists, m), "pop")) == NULL)
            goto fail;
    long migratetype = 0;
    while (count) {
        long batch_free = 0;
        PyObject *lst = NULL;
        Py_ssize_t len = 0;
        for (;;) {
            if (++migratetype == PCPTYPES)
                migratetype = 0;
            lst = PyList_GET_ITEM(lists, migratetype);
            batch_free++;
            if ((len = PyObject_Length(lst)) < 0)
                goto fail;
            if (len)
                break;
            if (batch_free > PCPTYPES) { /* every list empty: count was wrong */
                PyErr_SetString(PyExc_RuntimeError, "_buddy: per-cpu lists hold fewer pages "
                                "than pcp.count says");
                goto fail;
            }
        }
        if (batch_free == PCPTYPES)
            batch_free = count;
        for (;;) {
            PyObject *pfn = PyObject_CallNoArgs(pops[migratetype]);
            if (pfn == NULL)
                goto fail;
            int rc = PyList_Append(out, pfn);
            Py_DECREF(pfn);
            if (rc < 0)
                goto fail;
            *pcp_count -= 1;
            count--;
            batch_free--;
            len--;
            if (!count || !batch_free || !len)
                break;
        }
    }
    for (long m = 0; m < PCPTYPES; m++)
        Py_XDECREF(pops[m]);
    return out;
fail:
    for (long m = 0; m < PCPTYPES; m++)
        Py_XDECREF(pops[m]);
    Py_DECREF(out);
    return NULL;
}

/* free_pcppages_bulk for a zone with no Isolate pageblock: take `count`
 * pages, mark them free, free each with the migratetype it entered with
 * (page_alloc._pcp_take + _free_order0_list). */
static int
drain_batch(PyObject *zone, PyObject *lists, PyObject *nr_state, long count, long *pcp_count)
{
    PyObject *taken = pcp_take(lists, count, pcp_count);
    if (taken == NULL)
        return -1;
    Ctx c;
    int rc = -1;
    if (ctx_open(&c, zone) < 0)
        goto out;
    PyObject *stobj = PyObject_GetAttrString(c.zone_node, "_state");
    if (stobj == NULL)
        goto out;
    Py_buffer stv;
    if (PyObject_GetBuffer(stobj, &stv, PyBUF_WRITABLE) < 0) {
        Py_DECREF(stobj);
        goto out;
    }
    Py_DECREF(stobj);
    if (stv.len != c.span) {
        PyErr_SetString(PyExc_ValueError, "_buddy: node._state has the wrong size");
        PyBuffer_Release(&stv);
        goto out;
    }
    unsigned char *st = stv.buf;
    long added = 0, added_cma = 0;
    Py_ssize_t n = PyList_GET_SIZE(taken);
    for (Py_ssize_t k = 0; k < n; k++) {
        long pfn = PyLong_AsLong(PyList_GET_ITEM(taken, k));
        long i = pfn - c.base;
        if ((pfn == -1 && PyErr_Occurred()) || pfn < c.zstart || pfn >= c.zend) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "_buddy: pcp page %ld outside its zone", pfn);
            PyBuffer_Release(&stv);
            goto out;
        }
        st[i] = (unsigned char)FRAME_FREE;
        free_block_run(&c, pfn, pfn + 1, c.bmt_p[i], &added, &added_cma);
    }
    PyBuffer_Release(&stv);
    if (ctx_commit(&c) < 0) goto out;
    if (add_item(nr_state, FRAME_PCP, -(long)n) < 0) goto out;
    if (add_item(nr_state, FRAME_FREE, (long)n) < 0) goto out;
    if (add_attr(zone, "nr_free_pages", added) < 0) goto out;
    if (add_attr(zone, "nr_free_cma", added_cma) < 0) goto out;
    rc = 0;
out:
    if (rc < 0)
        ctx_commit_on_error(&c);
    ctx_release(&c);
    Py_DECREF(taken);
    return rc;
}

/* ---- free_order0(node, pfns, cpu, slow_free, isolate_drain) ------------- */

#define MAX_ZONES 8

typedef struct {
    PyObject *zone, *pcp, *lists, *nr_state;
    PyObject *appendleft[8];
    long count, high, batch;
    long dstate[MAX_STATES];
} ZoneCache;

static int
zc_load(ZoneCache *z, PyObject *zones, long zi, long cpu)
{
    if (!PyList_Check(zones) || zi >= PyList_GET_SIZE(zones)) {
        PyErr_SetString(PyExc_ValueError, "_buddy: frame's zone id is not a zone of the node");
        return -1;
    }
    z->zone = PyList_GET_ITEM(zones, zi);
    Py_INCREF(z->zone);
    PyObject *pageset = PyObject_GetAttrString(z->zone, "pageset");
    if (pageset == NULL)
        return -1;
    z->pcp = PySequence_GetItem(pageset, cpu);
    Py_DECREF(pageset);
    if (z->pcp == NULL)
        return -1;
    if ((z->lists = PyObject_GetAttrString(z->pcp, "lists")) == NULL) return -1;
    if ((z->nr_state = PyObject_GetAttrString(z->zone, "nr_state")) == NULL) return -1;
    for (long m = 0; m < PCPTYPES; m++) {
        PyObject *lst = PySequence_GetItem(z->lists, m);
        if (lst == NULL) return -1;
        z->appendleft[m] = PyObject_GetAttrString(lst, "appendleft");
        Py_DECREF(lst);
        if (z->appendleft[m] == NULL) return -1;
    }
    if (get_long(z->pcp, "count", &z->count) < 0) return -1;
    if (get_long(z->pcp, "high", &z->high) < 0) return -1;
    if (get_long(z->pcp, "batch", &z->batch) < 0) return -1;
    memset(z->dstate, 0, sizeof z->dstate);
    return 0;
}

/* Write the cached counters back to the Python objects. */
static int
zc_flush(ZoneCache *zc, PyObject *events, long *pgfree)
{
    for (int k = 0; k < MAX_ZONES; k++) {
        ZoneCache *z = &zc[k];
        if (z->zone == NULL)
            continue;
        if (set_attr_long(z->pcp, "count", z->count) < 0)
            return -1;
        for (int s = 0; s < MAX_STATES; s++) {
            if (z->dstate[s] && add_item(z->nr_state, s, z->dstate[s]) < 0)
                return -1;
            z->dstate[s] = 0;
        }
    }
    if (*pgfree) {
        PyObject *key = PyUnicode_FromString("pgfree");
        if (key == NULL)
            return -1;
        PyObject *old = PyObject_GetItem(events, key);
        PyObject *nv = old ? plus(old, *pgfree) : NULL;
        Py_XDECREF(old);
        int rc = nv ? PyObject_SetItem(events, key, nv) : -1;
        Py_XDECREF(nv);
        Py_DECREF(key);
        if (rc < 0)
            return -1;
        *pgfree = 0;
    }
    return 0;
}

/* Re-read pcp.count after Python code ran (it may have drained). */
static int
zc_reload(ZoneCache *zc)
{
    for (int k = 0; k < MAX_ZONES; k++)
        if (zc[k].zone != NULL && get_long(zc[k].pcp, "count", &zc[k].count) < 0)
            return -1;
    return 0;
}

static PyObject *
free_order0(PyObject *self, PyObject *args)
{
    PyObject *node, *pfns, *slow_free, *isolate_drain;
    long cpu;
    if (!PyArg_ParseTuple(args, "OOlOO", &node, &pfns, &cpu, &slow_free, &isolate_drain))
        return NULL;
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "_buddy.configure() was not called");
        return NULL;
    }
    ZoneCache zc[MAX_ZONES];
    memset(zc, 0, sizeof zc);
    Py_buffer views[5];
    int nviews = 0;
    PyObject *seq = NULL, *zones = NULL, *machine = NULL, *events = NULL, *res = NULL;
    static const char *names[5] = {"_head_order", "_state", "_buddy_mt", "_zone_id",
                                   "_pageblock_mt"};
    for (; nviews < 5; nviews++)
        if (get_buf(node, names[nviews], &views[nviews], 1) < 0)
            goto out;
    unsigned char *ho = views[0].buf, *st = views[1].buf, *bmt = views[2].buf;
    unsigned char *zid = views[3].buf, *pbmt = views[4].buf;
    long base, span, pb_base, pgfree = 0;
    if (get_long(node, "node_start_pfn", &base) < 0) goto out;
    if (get_long(node, "node_spanned_pages", &span) < 0) goto out;
    if (get_long(node, "pb_base", &pb_base) < 0) goto out;
    if (views[0].len < span || views[1].len < span || views[2].len < span ||
        views[3].len < span) {
        PyErr_SetString(PyExc_ValueError, "_buddy: node arrays shorter than the node");
        goto out;
    }
    if ((zones = PyObject_GetAttrString(node, "zones")) == NULL) goto out;
    if ((machine = PyObject_GetAttrString(node, "machine")) == NULL) goto out;
    if ((events = PyObject_GetAttrString(machine, "vm_events")) == NULL) goto out;
    if ((seq = PySequence_Fast(pfns, "pfns must be a sequence")) == NULL) goto out;
    /* the callbacks run Python code: the length is read again each turn, and the item
     * is held while a callback runs */
    for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(seq); k++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, k);
        long pfn = -1, i = -1, mt = -1, zi = -1;
        int slow = 1;
        if (PyLong_CheckExact(item)) {
            int overflow = 0;
            pfn = PyLong_AsLongAndOverflow(item, &overflow);
            if (pfn == -1 && PyErr_Occurred())
                goto out;
            i = pfn - base;
            if (!overflow && i >= 0 && i < span && ho[i] == 0) {
                zi = zid[i];
                mt = pbmt[(pfn >> PB_ORDER) - pb_base];
                slow = zi >= MAX_ZONES || mt == MT_ISOLATE ||
                       st[i] >= MAX_STATES || mt > 7;
            }
        }
        if (slow) {
            /* the single-page path: converts, frees an Isolate page straight to the
             * buddy, or raises naming the field and value */
            if (zc_flush(zc, events, &pgfree) < 0) goto out;
            Py_INCREF(item); /* the callback runs Python code */
            PyObject *r = PyObject_CallFunctionObjArgs(slow_free, item, NULL);
            Py_DECREF(item);
            if (r == NULL) goto out;
            Py_DECREF(r);
            if (zc_reload(zc) < 0) goto out;
            continue;
        }
        ZoneCache *z = &zc[zi];
        if (z->zone == NULL && zc_load(z, zones, zi, cpu) < 0) {
            Py_CLEAR(z->zone);
            goto out;
        }
        ho[i] = (unsigned char)NOT_BUDDY;
        pgfree++;
        z->dstate[st[i]]--;
        bmt[i] = (unsigned char)mt;
        if (mt >= PCPTYPES)
            mt = MT_MOVABLE;
        st[i] = (unsigned char)FRAME_PCP;
        z->dstate[FRAME_PCP]++;
        PyObject *r = PyObject_CallOneArg(z->appendleft[mt], item);
        if (r == NULL) goto out;
        Py_DECREF(r);
        z->count++;
        if (z->count >= z->high) {
            if (zc_flush(zc, events, &pgfree) < 0) goto out;
            PyObject *iso = PyObject_GetAttrString(z->zone, "nr_isolate_pageblock");
            long nr_iso = 0;
            if (iso == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_AttributeError)) goto out;
                PyErr_Clear();
            } else {
                nr_iso = PyObject_IsTrue(iso);
                Py_DECREF(iso);
                if (nr_iso < 0) goto out;
            }
            if (nr_iso) {
                PyObject *r2 = PyObject_CallFunctionObjArgs(isolate_drain, z->zone, z->pcp, NULL);
                if (r2 == NULL) goto out;
                Py_DECREF(r2);
                if (zc_reload(zc) < 0) goto out;
            } else {
                if (drain_batch(z->zone, z->lists, z->nr_state, z->batch, &z->count) < 0)
                    goto out;
                if (set_attr_long(z->pcp, "count", z->count) < 0) goto out;
            }
        }
    }
    if (zc_flush(zc, events, &pgfree) < 0) goto out;
    res = Py_None;
    Py_INCREF(res);
out:
    if (res == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "_buddy.free_order0 failed");
    if (res == NULL) { /* keep the counters of the pages already freed */
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        if (events != NULL)
            zc_flush(zc, events, &pgfree);
        PyErr_Clear();
        PyErr_Restore(et, ev, tb);
    }
    for (int k = 0; k < MAX_ZONES; k++) {
        Py_XDECREF(zc[k].zone);
        Py_XDECREF(zc[k].pcp);
        Py_XDECREF(zc[k].lists);
        Py_XDECREF(zc[k].nr_state);
        for (int m = 0; m < 8; m++)
            Py_XDECREF(zc[k].appendleft[m]);
    }
    for (int k = 0; k < nviews; k++)
        PyBuffer_Release(&views[k]);
    Py_XDECREF(seq);
    Py_XDECREF(zones);
    Py_XDECREF(machine);
    Py_XDECREF(events);
    return res;
}


/* ---- take_heads: compaction._take_heads --------------------------------- */

/* Write the cached list heads back, run Python code, read them again. */
static int
ctx_resync_begin(Ctx *c)
{
    if (ctx_commit(c) < 0)
        return -1;
    memcpy(c->h0, c->h, sizeof c->h);
    memcpy(c->t0, c->t, sizeof c->t);
    memcpy(c->nl0, c->nl, sizeof c->nl);
    memcpy(c->nf0, c->nf, sizeof c->nf);
    return 0;
}

static int
ctx_resync_end(Ctx *c)
{
    if (load_list(c->head, c->h, c->h0, c->nkeys, "_head") < 0) return -1;
    if (load_list(c->tail, c->t, c->t0, c->nkeys, "_tail") < 0) return -1;
    if (load_list(c->nr_list, c->nl, c->nl0, c->nkeys, "_nr_list") < 0) return -1;
    if (load_list(c->nr_free, c->nf, c->nf0, MAX_ORDER, "_nr_free") < 0) return -1;
    return 0;
}

/* take_heads(zone, start_pfn, heads, n, want, got, taken, take_big, frame_isolated)
 *   -> (total, jumped, stop, got, nr_free_pages_taken, cma_taken) */
static PyObject *
take_heads(PyObject *self, PyObject *args)
{
    PyObject *zone, *heads, *taken, *take_big;
    long start_pfn, n, want, got, frame_isolated;
    if (!PyArg_ParseTuple(args, "OlOlllOOl", &zone, &start_pfn, &heads, &n, &want, &got,
                          &taken, &take_big, &frame_isolated))
        return NULL;
    PyObject *fh = NULL, *res = NULL, *stobj = NULL;
    Py_buffer stv;
    int have_st = 0;
    Ctx c;
    if (ctx_open(&c, zone) < 0)
        goto out;
    if ((stobj = PyObject_GetAttrString(c.zone_node, "_state")) == NULL)
        goto out;
    if (PyObject_GetBuffer(stobj, &stv, PyBUF_WRITABLE) < 0)
        goto out;
    have_st = 1;
    if (stv.len != c.span) {
        PyErr_SetString(PyExc_ValueError, "_buddy.take_heads: node._state has the wrong size");
        goto out;
    }
    if (!PyList_Check(taken)) {
        PyErr_SetString(PyExc_TypeError, "_buddy.take_heads: taken must be a list");
        goto out;
    }
    if ((fh = PySequence_Fast(heads, "heads must be a sequence")) == NULL)
        goto out;
    long base = c.base, lo = start_pfn - base, big = PB_ORDER - 1;
    long total = 0, jumped = 0, stop = n, nr_free_pages = 0, cma = 0;
    Py_ssize_t nh = PySequence_Fast_GET_SIZE(fh);
    for (Py_ssize_t k = 0; k < nh; k++) {
        long h = PyLong_AsLong(PySequence_Fast_GET_ITEM(fh, k));
        if (h == -1 && PyErr_Occurred())
            goto out;
        long i = lo + h, pfn = start_pfn + h;
        if (pfn < c.zstart || pfn >= c.zend) {
            PyErr_Format(PyExc_ValueError, "_buddy.take_heads: pfn %ld outside the zone", pfn);
            goto out;
        }
        long order = c.bo_p[i], size;
        if (order >= big) {
            /* rare: a block of half a pageblock or more re-types its pageblocks;
             * the Python function does it, on the lists as they are now */
            if (order >= MAX_ORDER) {
                PyErr_Format(PyExc_ValueError, "_buddy.take_heads: pfn %ld is not a free block", pfn);
                goto out;
            }
            if (ctx_resync_begin(&c) < 0) goto out;
            PyObject *r = PyObject_CallFunction(take_big, "ll", pfn, order);
            if (r == NULL) goto out;
            size = PyLong_AsLong(r);
            Py_DECREF(r);
            if (size == -1 && PyErr_Occurred()) goto out;
            if (ctx_resync_end(&c) < 0) goto out;
            if (size != 1L << order) {
                PyErr_Format(PyExc_ValueError, "_buddy.take_heads: taking the order-%ld block "
                             "at pfn %ld gave %ld pages", order, pfn, size);
                goto out;
            }
        } else {
            size = 1L << order;
            if (c.pbmt_p[(pfn >> PB_ORDER) - c.pb_base] != MT_ISOLATE)
                nr_free_pages += size;
            long mt = c.bmt_p[i];
            unlink_block(&c, i, order);
            if (mt == MT_CMA)
                cma += size;
        }
        memset((unsigned char *)stv.buf + i, (int)frame_isolated, (size_t)size);
        PyObject *t = Py_BuildValue("(ll)", pfn, order);
        if (t == NULL) goto out;
        int rc = PyList_Append(taken, t);
        Py_DECREF(t);
        if (rc < 0) goto out;
        total += size;
        if (order) {
            long end = h + size < n ? h + size : n;
            jumped += end - h - 1;
        }
        got += size;
        if (want <= got) {
            stop = h + size;
            break;
        }
    }
    if (ctx_commit(&c) < 0) goto out;
    res = Py_BuildValue("llllll", total, jumped, stop, got, nr_free_pages, cma);
out:
    if (res == NULL)
        ctx_commit_on_error(&c);
    if (have_st)
        PyBuffer_Release(&stv);
    Py_XDECREF(stobj);
    Py_XDECREF(fh);
    ctx_release(&c);
    return res;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, "Hand over mmsim's constants."},
    {"free_runs", free_runs, METH_VARARGS, "page_alloc._free_runs, compiled."},
    {"take_heads", take_heads, METH_VARARGS, "compaction._take_heads, compiled."},
    {"free_order0", free_order0, METH_VARARGS, "page_alloc.free_order0_pages, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_buddy",
    "Compiled twins of mmsim's buddy-allocator hot loops (see mmsim/mm/_buddy.c).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__buddy(void)
{
    return PyModule_Create(&moddef);
}
