/* layout: named segments of the flat parameter vector (see layout.h). */
#include "layout.h"

#include <string.h>

static size_t layout_cap(const layout_t *L) {
    return L->t ? ((size_t *)L->t)[-1] : 0;
}

rk_status layout_init(layout_t *L, size_t capacity) {
    memset(L, 0, sizeof *L);
    if (capacity == 0) capacity = 16;
    /* capacity stored in a header word in front of the tensor array */
    size_t *mem = rk_malloc(sizeof(size_t) + capacity * sizeof(layout_tensor));
    if (!mem) return RK_ENOMEM;
    mem[0] = capacity;
    L->t = (layout_tensor *)(mem + 1);
    return RK_OK;
}

rk_status layout_add(layout_t *L, const char *name, size_t rows, size_t cols) {
    layout_tag none = {LAYOUT_ROLE_NONE, LAYOUT_NO_TYPE, LAYOUT_NO_TYPE, 0};
    return layout_add_tagged(L, name, rows, cols, none);
}

rk_status layout_add_tagged(layout_t *L, const char *name, size_t rows, size_t cols,
                            layout_tag tag) {
    RK_ASSERT(L->t);
    size_t cap = layout_cap(L);
    if (L->n_tensors == cap) {
        size_t ncap = 2 * cap;
        size_t *mem = realloc((size_t *)L->t - 1, sizeof(size_t) + ncap * sizeof(layout_tensor));
        if (!mem) return err_set(RK_ENOMEM, "out of memory growing the parameter layout");
        mem[0] = ncap;
        L->t = (layout_tensor *)(mem + 1);
    }
    layout_tensor *t = &L->t[L->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows;
    t->cols = cols;
    t->size = rows * cols;
    t->offset = L->n_params;
    t->tag = tag;
    L->n_params += t->size;
    return RK_OK;
}

void layout_free(layout_t *L) {
    if (L->t) free((size_t *)L->t - 1);
    memset(L, 0, sizeof *L);
}

size_t layout_find(const layout_t *L, size_t p) {
    size_t lo = 0, hi = L->n_tensors;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (L->t[mid].offset <= p)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

size_t layout_lookup(const layout_t *L, layout_role role, size_t centre, size_t neighbour,
                     size_t layer) {
    for (size_t k = 0; k < L->n_tensors; k++) {
        const layout_tag *g = &L->t[k].tag;
        if (g->role == role && g->centre == centre && g->neighbour == neighbour &&
            (layer == 0 || g->layer == layer))
            return k;
    }
    return L->n_tensors;
}

int layout_role_is_bias(layout_role role) {
    return role == LAYOUT_EMBED_B || role == LAYOUT_FIT_B || role == LAYOUT_OUT_B;
}

int layout_role_is_timestep(layout_role role) {
    return role == LAYOUT_EMBED_IDT || role == LAYOUT_FIT_IDT;
}
