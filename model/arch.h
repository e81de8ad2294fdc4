/* Network architectures described by text spec files (model/archs/NAME.spec).
 *
 * The C code knows layer *types*; a spec file lists the layers of one network
 * in order, with their hyper-parameters, the PyTorch state_dict keys of their
 * parameters and the names under which their outputs can be observed.  The
 * parser resolves every layer's input and output shape for a given width
 * multiplier, input size and number of classes, and derives the CNN-F
 * top-down plan (docs/cnnf-semantics.md §2).  Syntax: docs/spec-files.md.
 */
#ifndef NCMP_MODEL_ARCH_H
#define NCMP_MODEL_ARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"
#include "datasets/preprocess.h"

typedef enum ncmp_layer_type {
    NCMP_LAYER_CONV,
    NCMP_LAYER_INSNORM,
    NCMP_LAYER_BIAS,
    NCMP_LAYER_RELU,
    NCMP_LAYER_ADARELU,
    NCMP_LAYER_MAXPOOL,
    NCMP_LAYER_ADAPOOL,
    NCMP_LAYER_AVGPOOL, /* adaptive average pooling to out x out */
    NCMP_LAYER_FLATTEN,
    NCMP_LAYER_LINEAR,
    NCMP_LAYER_DROPOUT /* identity at inference */
} ncmp_layer_type;

const char *ncmp_layer_type_name(ncmp_layer_type type);

#define NCMP_NAME_MAX 64
#define NCMP_KEY_MAX  128

/* A feature map or vector: c x h x w (vectors have h = w = 1 and flat = true). */
typedef struct ncmp_shape {
    int c, h, w;
    bool flat;
} ncmp_shape;

size_t ncmp_shape_size(ncmp_shape s);
/* The most activations (c x h x w) or weights one layer of a spec may declare. */
#define NCMP_ARCH_MAX_ELEMENTS (1 << 28)
/* "64x112x112" or "4096" */
void ncmp_shape_string(ncmp_shape s, char *buf, size_t size);

typedef struct ncmp_layer_desc {
    ncmp_layer_type type;
    char name[NCMP_NAME_MAX];
    char alias[NCMP_NAME_MAX]; /* observation name ("block1"), or "" */
    int line;                  /* line in the spec file, for messages */
    int kernel, stride, pad;   /* conv and pools */
    int out_size;              /* avgpool: output is out_size x out_size */
    char weight_key[NCMP_KEY_MAX];
    char bias_key[NCMP_KEY_MAX]; /* conv/linear with bias, and bias layers */
    bool bias_broadcast;         /* bias layer saved as [1,C,1,1] / [1,C] (the CNN-F reference), else [C] */
    ncmp_shape in, out;
    bool stage_start; /* conv, linear, flatten, avgpool begin a top-down stage */
} ncmp_layer_desc;

/* One step of the top-down (feedback) pass, in execution order. */
typedef enum ncmp_topdown_op {
    NCMP_TD_INSNORM, /* g := insnorm(g), at the top of a conv stage */
    NCMP_TD_LAYER    /* the transpose / feedback rule of layer `layer` */
} ncmp_topdown_op;

typedef struct ncmp_topdown_step {
    ncmp_topdown_op op;
    int layer;        /* the layer whose rule runs (for INSNORM: the insnorm layer) */
    ncmp_shape shape; /* shape of g after this step */
} ncmp_topdown_step;

typedef struct ncmp_arch {
    char name[NCMP_NAME_MAX];
    char source[4096]; /* file the spec came from */
    ncmp_shape input;
    ncmp_scaling scaling; /* the `preprocess` line */
    double width;
    int num_classes;
    bool cnnf;        /* has a feedback pass */
    int update_layer; /* CNN-F: index of the layer whose output is iterated */
    double step;      /* CNN-F step size (0.1) */
    ncmp_layer_desc *layers;
    int n_layers;
    ncmp_topdown_step *topdown; /* CNN-F only */
    int n_topdown;
} ncmp_arch;

typedef struct ncmp_arch_options {
    double width;             /* 0: the spec's default (1) */
    int input_size;           /* 0: the spec's default; else height = width = input_size */
    int num_classes;          /* 0: the spec's default */
    const char *update_layer; /* NULL: the spec's `cnnf update=` */
    int input_channels;       /* 0: the spec's; 1 (grey) or 3 (RGB) */
    char update_buf[64];      /* storage for an update layer read from a weights file */
} ncmp_arch_options;

/* Fill the options a user left unset (0 / NULL) from the attributes a
 * weights file written by neurocmp records (width, input_size,
 * input_channels, num_classes, update_layer), so `--weights FILE` alone
 * recreates the network the weights were trained as.  Files without them
 * (e.g. converted with scripts/torch_to_h5.py) change nothing. */
void ncmp_arch_options_from_weights(ncmp_arch_options *opts, const char *weights_path);

/* The architecture a neurocmp weights file was trained as (its `arch`
 * attribute: a built-in name such as "cnnf-fmnist"), copied into buf; NULL
 * if the file has none (e.g. converted from PyTorch) or cannot be read. */
const char *ncmp_arch_name_from_weights(const char *weights_path, char *buf, size_t size);

/* Load a built-in architecture by name ("vgg16-cnnf", looked up as
 * model/archs/<name>.spec in the shipped data) or a spec file by path
 * (anything containing '/' or ending in .spec).  opts may be NULL.
 * Errors name the file and line.  Free with ncmp_arch_free. */
ncmp_status ncmp_arch_load(const char *name_or_path, const ncmp_arch_options *opts, ncmp_arch **arch, ncmp_error *err);
/* Parse spec text directly (source names it in messages). */
ncmp_status ncmp_arch_parse(const char *text, const char *source, const ncmp_arch_options *opts, ncmp_arch **arch,
                            ncmp_error *err);
void ncmp_arch_free(ncmp_arch *arch);

/* Index of the layer called `name` (its own name or its observation alias), or -1. */
int ncmp_arch_find_layer(const ncmp_arch *arch, const char *name);
/* Fail with a message listing the observable names if `name` is unknown. */
ncmp_status ncmp_arch_require_layer(const ncmp_arch *arch, const char *name, int *index, ncmp_error *err);
/* The name users see for a layer: its alias if it has one, else its name. */
const char *ncmp_arch_layer_label(const ncmp_arch *arch, int layer);
/* Multiply-accumulates of one forward pass for one input, and of one
 * feedback pass (CNN-F), for GFLOP/s reports (1 MAC = 2 FLOP). */
double ncmp_arch_forward_macs(const ncmp_arch *arch, int from_layer);
double ncmp_arch_feedback_macs(const ncmp_arch *arch);
/* Preprocessing that produces this architecture's input (channels, size, scaling). */
ncmp_preprocess_options ncmp_arch_preprocess(const ncmp_arch *arch, bool center_crop);

#endif
