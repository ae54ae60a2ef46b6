/* layout: named segments of the flat parameter vector.
 *
 * The model owns the layout; optimizers see only the layout, the weight vector and the signals
 * (error + Jacobian, or gradient). Every W, every b and every residual timestep idt is one tensor,
 * listed in parameter-vector order (SPEC §2): tensor k covers w[offset_k, offset_k + size_k),
 * contiguous, no gaps.
 */
#ifndef RLEKF_LAYOUT_H
#define RLEKF_LAYOUT_H

#include <stddef.h>

#include "err.h"

#define LAYOUT_NAME_MAX 48
/* The net field of a tensor that does not belong to one (e.g. the neighbour type of a fitting
 * net, or any type of a tensor added without a role). */
#define LAYOUT_NO_TYPE ((size_t)-1)

/* What a tensor is, so that code finds tensors by role and net instead of parsing names (names
 * are for people and files). */
typedef enum {
    LAYOUT_ROLE_NONE = 0, /* added without a role (layout_add) */
    LAYOUT_EMBED_W,       /* embedding net (centre, neighbour): a layer's W */
    LAYOUT_EMBED_B,       /*                                    a layer's b */
    LAYOUT_EMBED_IDT,     /*        a residual layer's timestep idt (resnet_dt; after its b) */
    LAYOUT_FIT_W,         /* fitting net (centre): a hidden layer's W */
    LAYOUT_FIT_B,         /*                       a hidden layer's b */
    LAYOUT_FIT_IDT,       /*        a residual hidden layer's timestep idt (fitting resnet_dt) */
    LAYOUT_OUT_W,         /* fitting net (centre): the linear output layer's W */
    LAYOUT_OUT_B          /*                       its bias, the per-type energy offset */
} layout_role;

/* Role and net of a tensor: centre type a for every net, neighbour type b for embedding nets
 * (LAYOUT_NO_TYPE otherwise); layer counts from 1 within the net. */
typedef struct {
    layout_role role;
    size_t centre, neighbour;
    size_t layer;
} layout_tag;

typedef struct {
    char name[LAYOUT_NAME_MAX]; /* e.g. "embed[0,1].l2.W", "fit[0].out.b" */
    size_t offset;
    size_t size;
    size_t rows, cols; /* W: [n_in][n_out]; b, idt: rows = 1 */
    layout_tag tag;
} layout_tensor;

typedef struct {
    size_t n_tensors;
    size_t n_params; /* N = sum of sizes */
    layout_tensor *t;
} layout_t;

rk_status layout_init(layout_t *L, size_t capacity);
/* Append a tensor of rows x cols entries at the end of the vector (role LAYOUT_ROLE_NONE). */
rk_status layout_add(layout_t *L, const char *name, size_t rows, size_t cols);
/* The same, with its role and net. */
rk_status layout_add_tagged(layout_t *L, const char *name, size_t rows, size_t cols,
                            layout_tag tag);
void layout_free(layout_t *L);
/* Index of the tensor containing parameter p. */
size_t layout_find(const layout_t *L, size_t p);
/* Index of the first tensor with this role, centre type and neighbour type (LAYOUT_NO_TYPE for
 * fitting-net roles) and, if layer > 0, this layer; L->n_tensors if there is none. */
size_t layout_lookup(const layout_t *L, layout_role role, size_t centre, size_t neighbour,
                     size_t layer);
/* 1 for the bias roles (LAYOUT_EMBED_B, LAYOUT_FIT_B, LAYOUT_OUT_B). */
int layout_role_is_bias(layout_role role);
/* 1 for the residual-timestep roles (LAYOUT_EMBED_IDT, LAYOUT_FIT_IDT). */
int layout_role_is_timestep(layout_role role);

#endif
