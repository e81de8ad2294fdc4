/* Labelled image sets for training and evaluating classifiers.
 *
 * Sources:
 *   - "fashion-mnist": Debian's dataset-fashion-mnist package
 *     (/usr/share/datasets/fashion-mnist), the train (60,000 images) or the
 *     test split (t10k, 10,000);
 *   - an IDX pair: images (magic 0x803, uint8 n x rows x cols) and labels
 *     (magic 0x801, uint8 n), gzipped or not, of equal length;
 *   - a folder in torchvision ImageFolder form: one sub-folder per class,
 *     classes numbered in strcmp order of the folder names, each holding
 *     PNG/JPEG images (read as the stimulus-set reader reads a folder).
 * Every image is preprocessed for the network once, when the set is opened
 * (datasets/preprocess.h: channels, size, scaling), and kept in memory as
 * float32 [n, C, S, S]: 60,000 Fashion-MNIST images at 28x28 take 188 MB.
 * Errors name the file and what is wrong: a labels file of another length,
 * a label outside the network's classes, an empty class folder.
 */
#ifndef NCMP_DATASETS_LABELED_H
#define NCMP_DATASETS_LABELED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sha256.h"
#include "core/tensor.h"
#include "datasets/preprocess.h"

typedef enum ncmp_labeled_split { NCMP_SPLIT_TRAIN, NCMP_SPLIT_TEST } ncmp_labeled_split;

typedef struct ncmp_labeled_source {
    const char *data;         /* "fashion-mnist" or an ImageFolder directory; NULL with images/labels */
    const char *images;       /* IDX images file */
    const char *labels;       /* IDX labels file */
    ncmp_labeled_split split; /* which Fashion-MNIST split */
} ncmp_labeled_source;

typedef struct ncmp_labeled_set {
    size_t n;
    int channels, size;
    float *images;                    /* [n, channels, size, size] network inputs */
    int32_t *labels;                  /* [n] */
    int n_classes;                    /* number of class folders, or 1 + the largest label */
    char **class_names;               /* ImageFolder: folder names in class order; else NULL */
    char description[512];            /* e.g. "Fashion-MNIST train (/usr/share/...)" */
    char sha256[NCMP_SHA256_HEX_LEN]; /* fingerprint of the files and their order */
} ncmp_labeled_set;

/* Where Debian installs Fashion-MNIST, or $NEUROCMP_FASHION_MNIST if set. */
const char *ncmp_fashion_mnist_dir(void);

/* Open and preprocess a labelled set.  `classes` > 0 checks every label
 * against it.  Free with ncmp_labeled_free. */
ncmp_status ncmp_labeled_open(const ncmp_labeled_source *src, const ncmp_preprocess_options *pp, int classes,
                              ncmp_labeled_set **set, ncmp_error *err);
void ncmp_labeled_free(ncmp_labeled_set *set);

/* Copy the inputs and labels of samples idx[0..n) into a batch ([n, C, S, S]
 * in dtype, labels may be NULL). */
void ncmp_labeled_gather(const ncmp_labeled_set *set, const size_t *idx, size_t n, ncmp_dtype dtype, void *images,
                         int32_t *labels);

#endif
