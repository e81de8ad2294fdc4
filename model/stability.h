/* Routing-stability check for CNN-F iterates (docs/cnnf-semantics.md, numerics).
 *
 * Feedback routes through discrete choices (AdaPool argmax/argmin, AdaReLU
 * masks); where a choice is near a tie, rounding differences change the
 * route and iterations t >= 1 diverge while t = 0 agrees.  This reruns the
 * float32 engine on the input moved by one ulp (every value to the next
 * float32 towards +infinity), or compares float32 with float64 arithmetic,
 * and reports, per observed layer and iteration, how far the two runs are
 * apart.
 */
#ifndef NCMP_MODEL_STABILITY_H
#define NCMP_MODEL_STABILITY_H

#include "model/cnnf.h"

typedef struct ncmp_stability {
    int iterations;     /* T: rows 0..T */
    int n_layers;       /* observed layers (columns) */
    int *layers;        /* their indices */
    double *divergence; /* [(T+1) * n_layers]: max |a - b| / max |a| over the batch (a: the reference run) */
    size_t *near_ties;  /* [(T+1) * n_layers]: ncmp_cnnf_near_ties of the unperturbed run */
    size_t *route_ties; /* [(T+1) * arch layers]: near ties of every layer (0 where none) */
    int n_arch_layers;
} ncmp_stability;

/* Run `input` through float32 engines twice (as given, and one ulp up) for
 * `iterations` cycles, comparing `layers` (n_layers indices). */
ncmp_status ncmp_stability_check(const ncmp_net *net, const ncmp_tensor *input, int iterations, const int *layers,
                                 int n_layers, ncmp_stability **report, ncmp_error *err);
/* Run `input` through a float64 engine (the reference) and a float32 engine,
 * `batch` samples at a time (0: all at once), for `iterations` cycles,
 * comparing `layers`: how far float arithmetic strays from double (the
 * largest divergence over the batches; near_ties summed, of the float64 run). */
ncmp_status ncmp_precision_check(const ncmp_net *net, const ncmp_tensor *input, size_t batch, int iterations,
                                 const int *layers, int n_layers, ncmp_stability **report, ncmp_error *err);
void ncmp_stability_free(ncmp_stability *report);

#endif
