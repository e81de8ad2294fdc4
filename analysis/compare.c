/* Paired bootstrap, sign-flip permutation and sign tests between two models' predictivity (Efron & Tibshirani 1993;
 * definitions in analysis/compare.h). */
#include "analysis/compare.h"

#include "analysis/linalg.h"
#include "analysis/metrics.h"
#include "core/mt19937.h"

#include <gsl/gsl_cdf.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A resampled or permuted column whose centred sum of squares is below this
 * fraction of its raw sum of squares is constant up to rounding: its r is NaN,
 * as ncmp_pearson's.  Columns are shifted near their split mean first, so a
 * real column sits near 1 and a constant one near the rounding error
 * (~rows x 1e-16). */
#define CONSTANT_RELATIVE 1e-12

/* Sums over a split's rows of one model's shifted columns (per neuroid). */
enum { SUM_Y, SUM_YY, SUM_A, SUM_AA, SUM_AY, SUM_B, SUM_BB, SUM_BY, N_SUMS };

typedef struct compare_workspace {
    size_t n_splits, q;
    const size_t *offset;
    double *y, *a, *b;           /* [rows][q] shifted copies: observed by its split mean, A and B by a common shift */
    double *totals;              /* [n_splits][N_SUMS][q] sums over each split's rows (for the permutations) */
    unsigned char *constant;     /* [n_splits][3][q]: observed, A, B constant (bit-equal) within the split */
    double *acc;                 /* [N_SUMS][q] */
    double *ra, *rb, *work;      /* [q] */
    double *median_a, *median_b; /* [n_splits] */
    size_t *draw;                /* [max rows of a split] */
    unsigned *count;             /* [max rows of a split] */
    double *weight;              /* [max rows of a split] counts of the rows drawn at least once */
    const double **row_y, **row_a, **row_b; /* [max rows of a split] those rows */
} compare_workspace;

static void workspace_free(compare_workspace *w)
{
    free(w->y);
    free(w->a);
    free(w->b);
    free(w->totals);
    free(w->constant);
    free(w->acc);
    free(w->ra);
    free(w->rb);
    free(w->work);
    free(w->median_a);
    free(w->median_b);
    free(w->draw);
    free(w->count);
    free(w->weight);
    free(w->row_y);
    free(w->row_a);
    free(w->row_b);
}

static int workspace_alloc(compare_workspace *w, size_t n_splits, size_t q, const size_t *offset)
{
    memset(w, 0, sizeof *w);
    w->n_splits = n_splits;
    w->q = q;
    w->offset = offset;
    size_t rows = offset[n_splits], max_m = 1;
    for (size_t s = 0; s < n_splits; s++)
        if (offset[s + 1] - offset[s] > max_m)
            max_m = offset[s + 1] - offset[s];
    w->y = malloc(rows * q * sizeof *w->y);
    w->a = malloc(rows * q * sizeof *w->a);
    w->b = malloc(rows * q * sizeof *w->b);
    w->totals = malloc(n_splits * N_SUMS * q * sizeof *w->totals);
    w->constant = malloc(n_splits * 3 * q);
    w->acc = malloc(N_SUMS * q * sizeof *w->acc);
    w->ra = malloc(q * sizeof *w->ra);
    w->rb = malloc(q * sizeof *w->rb);
    w->work = malloc(q * sizeof *w->work);
    w->median_a = malloc(n_splits * sizeof *w->median_a);
    w->median_b = malloc(n_splits * sizeof *w->median_b);
    w->draw = malloc(max_m * sizeof *w->draw);
    w->count = malloc(max_m * sizeof *w->count);
    w->weight = malloc(max_m * sizeof *w->weight);
    w->row_y = malloc(max_m * sizeof *w->row_y);
    w->row_a = malloc(max_m * sizeof *w->row_a);
    w->row_b = malloc(max_m * sizeof *w->row_b);
    if (!w->y || !w->a || !w->b || !w->totals || !w->constant || !w->acc || !w->ra || !w->rb || !w->work ||
        !w->median_a || !w->median_b || !w->draw || !w->count || !w->weight || !w->row_y || !w->row_a || !w->row_b) {
        workspace_free(w);
        return 0;
    }
    return 1;
}

/* Exact constancy of column j over rows r0..r1-1 of x[rows][q]. */
static int column_constant(const double *x, size_t q, size_t r0, size_t r1, size_t j)
{
    for (size_t r = r0 + 1; r < r1; r++)
        if (x[r * q + j] != x[r0 * q + j])
            return 0;
    return 1;
}

/* Shift each split's columns (Pearson r does not depend on a shift) so the
 * one-pass sums of the replicates do not cancel: observed by its split mean,
 * A and B by the same shift (their average split mean) so that swapping a
 * row between them in a permutation stays consistent.  Then the per-split sums. */
static void workspace_prepare(compare_workspace *w, const double *observed, const double *pa, const double *pb)
{
    size_t q = w->q;
    for (size_t s = 0; s < w->n_splits; s++) {
        size_t r0 = w->offset[s], r1 = w->offset[s + 1];
        double m = (double)(r1 - r0);
        double *tot = w->totals + s * N_SUMS * q;
        unsigned char *cst = w->constant + s * 3 * q;
        for (size_t j = 0; j < q; j++) {
            double my = 0, mab = 0;
            for (size_t r = r0; r < r1; r++) {
                my += observed[r * q + j];
                mab += pa[r * q + j] + pb[r * q + j];
            }
            my /= m;
            mab /= 2 * m;
            cst[j] = (unsigned char)column_constant(observed, q, r0, r1, j);
            cst[q + j] = (unsigned char)column_constant(pa, q, r0, r1, j);
            cst[2 * q + j] = (unsigned char)column_constant(pb, q, r0, r1, j);
            for (size_t r = r0; r < r1; r++) {
                w->y[r * q + j] = cst[j] ? 0 : observed[r * q + j] - my;
                w->a[r * q + j] = pa[r * q + j] - mab;
                w->b[r * q + j] = pb[r * q + j] - mab;
            }
        }
        memset(tot, 0, N_SUMS * q * sizeof *tot);
        for (size_t r = r0; r < r1; r++) {
            const double *y = w->y + r * q, *a = w->a + r * q, *b = w->b + r * q;
            for (size_t j = 0; j < q; j++) {
                tot[SUM_Y * q + j] += y[j];
                tot[SUM_YY * q + j] += y[j] * y[j];
                tot[SUM_A * q + j] += a[j];
                tot[SUM_AA * q + j] += a[j] * a[j];
                tot[SUM_AY * q + j] += a[j] * y[j];
                tot[SUM_B * q + j] += b[j];
                tot[SUM_BB * q + j] += b[j] * b[j];
                tot[SUM_BY * q + j] += b[j] * y[j];
            }
        }
    }
}

static double pearson_from_sums(double n, double sx, double sxx, double sy, double syy, double sxy)
{
    double vx = sxx - sx * sx / n, vy = syy - sy * sy / n;
    if (!(vx > CONSTANT_RELATIVE * sxx && vy > CONSTANT_RELATIVE * syy))
        return NAN;
    double r = (sxy - sx * sy / n) / sqrt(vx * vy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* k-th smallest of x[n] (x reordered), by quickselect with a median-of-three pivot. */
static double select_kth(double *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        double p0 = x[lo], p1 = x[mid], p2 = x[hi];
        double pivot = p0 < p1 ? (p1 < p2 ? p1 : (p0 < p2 ? p2 : p0)) : (p0 < p2 ? p0 : (p1 < p2 ? p2 : p1));
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j) {
                double t = x[i];
                x[i] = x[j];
                x[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return x[k];
    }
    return x[k];
}

/* As ncmp_nan_median (the same order statistics, so the same value) in O(n)
 * instead of a sort: the replicates take a median per split and model. */
static double nan_median(const double *x, size_t n, double *work)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            work[k++] = x[i];
    if (!k)
        return NAN;
    double upper = select_kth(work, k, k / 2);
    if (k % 2)
        return upper;
    /* After the selection work[0 .. k/2-1] are all <= upper: the lower middle is their maximum. */
    double lower = work[0];
    for (size_t i = 1; i < k / 2; i++)
        lower = work[i] > lower ? work[i] : lower;
    return 0.5 * (lower + upper);
}

/* Mean of the non-NaN split medians, as ncmp_score_aggregate's raw. */
static double mean_of_medians(const double *median, size_t n_splits)
{
    double sum = 0;
    size_t k = 0;
    for (size_t s = 0; s < n_splits; s++)
        if (!isnan(median[s])) {
            sum += median[s];
            k++;
        }
    return k ? sum / (double)k : NAN;
}

/* The hot loops, as functions so that restrict lets the compiler vectorise
 * over neuroids without aliasing checks. */
static void accumulate_rows(size_t q, size_t n_rows, const double *c, const double *const *y, const double *const *a,
                            const double *const *b, double *restrict sy, double *restrict syy, double *restrict sa,
                            double *restrict saa, double *restrict say, double *restrict sb, double *restrict sbb,
                            double *restrict sby)
{
    /* Four rows per pass over the accumulators: they are loaded and stored a
     * quarter as often, and each is still summed row by row in order. */
    size_t i = 0;
    for (; i + 4 <= n_rows; i += 4) {
        const double *restrict y0 = y[i], *restrict y1 = y[i + 1], *restrict y2 = y[i + 2], *restrict y3 = y[i + 3];
        const double *restrict a0 = a[i], *restrict a1 = a[i + 1], *restrict a2 = a[i + 2], *restrict a3 = a[i + 3];
        const double *restrict b0 = b[i], *restrict b1 = b[i + 1], *restrict b2 = b[i + 2], *restrict b3 = b[i + 3];
        double c0 = c[i], c1 = c[i + 1], c2 = c[i + 2], c3 = c[i + 3];
        for (size_t j = 0; j < q; j++) {
            double cy0 = c0 * y0[j], cy1 = c1 * y1[j], cy2 = c2 * y2[j], cy3 = c3 * y3[j];
            double ca0 = c0 * a0[j], ca1 = c1 * a1[j], ca2 = c2 * a2[j], ca3 = c3 * a3[j];
            double cb0 = c0 * b0[j], cb1 = c1 * b1[j], cb2 = c2 * b2[j], cb3 = c3 * b3[j];
            sy[j] = sy[j] + cy0 + cy1 + cy2 + cy3;
            syy[j] = syy[j] + cy0 * y0[j] + cy1 * y1[j] + cy2 * y2[j] + cy3 * y3[j];
            sa[j] = sa[j] + ca0 + ca1 + ca2 + ca3;
            saa[j] = saa[j] + ca0 * a0[j] + ca1 * a1[j] + ca2 * a2[j] + ca3 * a3[j];
            say[j] = say[j] + ca0 * y0[j] + ca1 * y1[j] + ca2 * y2[j] + ca3 * y3[j];
            sb[j] = sb[j] + cb0 + cb1 + cb2 + cb3;
            sbb[j] = sbb[j] + cb0 * b0[j] + cb1 * b1[j] + cb2 * b2[j] + cb3 * b3[j];
            sby[j] = sby[j] + cb0 * y0[j] + cb1 * y1[j] + cb2 * y2[j] + cb3 * y3[j];
        }
    }
    for (; i < n_rows; i++) {
        const double *restrict y0 = y[i], *restrict a0 = a[i], *restrict b0 = b[i];
        double c0 = c[i];
        for (size_t j = 0; j < q; j++) {
            double cy0 = c0 * y0[j], ca0 = c0 * a0[j], cb0 = c0 * b0[j];
            sy[j] += cy0;
            syy[j] += cy0 * y0[j];
            sa[j] += ca0;
            saa[j] += ca0 * a0[j];
            say[j] += ca0 * y0[j];
            sb[j] += cb0;
            sbb[j] += cb0 * b0[j];
            sby[j] += cb0 * y0[j];
        }
    }
}

static void accumulate_swaps(size_t q, size_t n_rows, const double *const *y, const double *const *a,
                             const double *const *b, double *restrict d1, double *restrict d2, double *restrict dy)
{
    size_t i = 0;
    for (; i + 4 <= n_rows; i += 4) {
        const double *restrict y0 = y[i], *restrict y1 = y[i + 1], *restrict y2 = y[i + 2], *restrict y3 = y[i + 3];
        const double *restrict a0 = a[i], *restrict a1 = a[i + 1], *restrict a2 = a[i + 2], *restrict a3 = a[i + 3];
        const double *restrict b0 = b[i], *restrict b1 = b[i + 1], *restrict b2 = b[i + 2], *restrict b3 = b[i + 3];
        for (size_t j = 0; j < q; j++) {
            double e0 = b0[j] - a0[j], e1 = b1[j] - a1[j], e2 = b2[j] - a2[j], e3 = b3[j] - a3[j];
            d1[j] = d1[j] + e0 + e1 + e2 + e3;
            d2[j] = d2[j] + e0 * (b0[j] + a0[j]) + e1 * (b1[j] + a1[j]) + e2 * (b2[j] + a2[j]) + e3 * (b3[j] + a3[j]);
            dy[j] = dy[j] + e0 * y0[j] + e1 * y1[j] + e2 * y2[j] + e3 * y3[j];
        }
    }
    for (; i < n_rows; i++) {
        const double *restrict y0 = y[i], *restrict a0 = a[i], *restrict b0 = b[i];
        for (size_t j = 0; j < q; j++) {
            double e0 = b0[j] - a0[j];
            d1[j] += e0;
            d2[j] += e0 * (b0[j] + a0[j]);
            dy[j] += e0 * y0[j];
        }
    }
}

/* One bootstrap replicate: resample every split's rows (the same for A and B). */
static void bootstrap_replicate(compare_workspace *w, ncmp_mt19937 *mt, double *score_a, double *score_b)
{
    size_t q = w->q;
    for (size_t s = 0; s < w->n_splits; s++) {
        size_t r0 = w->offset[s], m = w->offset[s + 1] - r0;
        ncmp_mt19937_randint(mt, m, w->draw, m);
        memset(w->count, 0, m * sizeof *w->count);
        for (size_t k = 0; k < m; k++)
            w->count[w->draw[k]]++;
        memset(w->acc, 0, N_SUMS * q * sizeof *w->acc);
        double *sy = w->acc + SUM_Y * q, *syy = w->acc + SUM_YY * q, *sa = w->acc + SUM_A * q,
               *saa = w->acc + SUM_AA * q, *say = w->acc + SUM_AY * q, *sb = w->acc + SUM_B * q,
               *sbb = w->acc + SUM_BB * q, *sby = w->acc + SUM_BY * q;
        size_t n_rows = 0;
        for (size_t i = 0; i < m; i++)
            if (w->count[i]) {
                w->weight[n_rows] = (double)w->count[i];
                w->row_y[n_rows] = w->y + (r0 + i) * q;
                w->row_a[n_rows] = w->a + (r0 + i) * q;
                w->row_b[n_rows] = w->b + (r0 + i) * q;
                n_rows++;
            }
        accumulate_rows(q, n_rows, w->weight, w->row_y, w->row_a, w->row_b, sy, syy, sa, saa, say, sb, sbb, sby);
        const unsigned char *cst = w->constant + s * 3 * q;
        double n = (double)m;
        for (size_t j = 0; j < q; j++) {
            w->ra[j] = cst[j] || cst[q + j] ? NAN : pearson_from_sums(n, sa[j], saa[j], sy[j], syy[j], say[j]);
            w->rb[j] = cst[j] || cst[2 * q + j] ? NAN : pearson_from_sums(n, sb[j], sbb[j], sy[j], syy[j], sby[j]);
        }
        w->median_a[s] = nan_median(w->ra, q, w->work);
        w->median_b[s] = nan_median(w->rb, q, w->work);
    }
    *score_a = mean_of_medians(w->median_a, w->n_splits);
    *score_b = mean_of_medians(w->median_b, w->n_splits);
}

/* One permutation: swap A's and B's rows where the coin says 1; only the
 * swapped rows change the split sums, by (b - a), (b^2 - a^2), (b - a) y. */
static double permutation_replicate(compare_workspace *w, ncmp_mt19937 *mt)
{
    size_t q = w->q;
    for (size_t s = 0; s < w->n_splits; s++) {
        size_t r0 = w->offset[s], m = w->offset[s + 1] - r0;
        ncmp_mt19937_randint(mt, 2, w->draw, m);
        memset(w->acc, 0, 3 * q * sizeof *w->acc);
        double *d1 = w->acc, *d2 = w->acc + q, *dy = w->acc + 2 * q;
        size_t n_rows = 0;
        for (size_t i = 0; i < m; i++)
            if (w->draw[i]) {
                w->row_y[n_rows] = w->y + (r0 + i) * q;
                w->row_a[n_rows] = w->a + (r0 + i) * q;
                w->row_b[n_rows] = w->b + (r0 + i) * q;
                n_rows++;
            }
        accumulate_swaps(q, n_rows, w->row_y, w->row_a, w->row_b, d1, d2, dy);
        const double *tot = w->totals + s * N_SUMS * q;
        const unsigned char *cst = w->constant + s * 3 * q;
        double n = (double)m;
        for (size_t j = 0; j < q; j++) {
            if (cst[j]) {
                w->ra[j] = w->rb[j] = NAN;
                continue;
            }
            double ty = tot[SUM_Y * q + j], tyy = tot[SUM_YY * q + j];
            w->ra[j] = pearson_from_sums(n, tot[SUM_A * q + j] + d1[j], tot[SUM_AA * q + j] + d2[j], ty, tyy,
                                         tot[SUM_AY * q + j] + dy[j]);
            w->rb[j] = pearson_from_sums(n, tot[SUM_B * q + j] - d1[j], tot[SUM_BB * q + j] - d2[j], ty, tyy,
                                         tot[SUM_BY * q + j] - dy[j]);
        }
        w->median_a[s] = nan_median(w->ra, q, w->work);
        w->median_b[s] = nan_median(w->rb, q, w->work);
    }
    return mean_of_medians(w->median_a, w->n_splits) - mean_of_medians(w->median_b, w->n_splits);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double ncmp_percentile_sorted(const double *sorted, size_t n, double q)
{
    /* numpy 1.24 _quantile, method "linear": virtual index (n-1) q, and _lerp's
     * two-sided form (from the upper point when the weight is >= 0.5). */
    double h = (double)(n - 1) * q;
    if (h >= (double)(n - 1))
        return sorted[n - 1];
    if (h < 0)
        return sorted[0];
    size_t lo = (size_t)floor(h);
    double t = h - (double)lo, a = sorted[lo], b = sorted[lo + 1], d = b - a;
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

double ncmp_sign_test(size_t k, size_t n)
{
    ncmp_gsl_init();
    if (!n)
        return 1;
    size_t lo = k < n - k ? k : n - k;
    double p = 2 * gsl_cdf_binomial_P((unsigned)lo, 0.5, (unsigned)n);
    return p < 1 ? p : 1;
}

/* Percentile interval of the non-NaN values of x[n] (sorted into `sorted`). */
static size_t percentile_interval(const double *x, size_t n, double confidence, double *sorted, double ci[2])
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            sorted[k++] = x[i];
    if (!k) {
        ci[0] = ci[1] = NAN;
        return n;
    }
    qsort(sorted, k, sizeof *sorted, cmp_double);
    /* As np.percentile(x, [100 (1-c)/2, 100 (1+c)/2]) divides by 100. */
    ci[0] = ncmp_percentile_sorted(sorted, k, 100.0 * (1 - confidence) / 2 / 100);
    ci[1] = ncmp_percentile_sorted(sorted, k, 100.0 * (1 + confidence) / 2 / 100);
    return n - k;
}

static ncmp_status check_inputs(const ncmp_predictions *a, const ncmp_predictions *b, const ncmp_compare_options *o,
                                ncmp_error *err)
{
    if (!a || !b || !o)
        return ncmp_fail(err, NCMP_ERR_USAGE, "compare: missing predictions of model %s", !a ? "A" : "B");
    if (!(o->confidence > 0 && o->confidence < 1))
        return ncmp_fail(err, NCMP_ERR_USAGE, "compare: confidence %g is not in (0, 1)", o->confidence);
    if (a->n_splits != b->n_splits || a->n_neuroids != b->n_neuroids)
        return ncmp_fail(err, NCMP_ERR_SHAPE,
                         "compare: the two models were not scored on the same splits/responses: model A has %zu "
                         "splits x %zu neuroids, model B %zu x %zu",
                         a->n_splits, a->n_neuroids, b->n_splits, b->n_neuroids);
    if (!a->n_splits || !a->n_neuroids)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "compare: %zu splits x %zu neuroids; need at least one of each",
                         a->n_splits, a->n_neuroids);
    const ncmp_predictions *m[2] = {a, b};
    for (int k = 0; k < 2; k++)
        if (!m[k]->test_offset || !m[k]->test || !m[k]->observed || !m[k]->predicted)
            return ncmp_fail(err, NCMP_ERR_USAGE,
                             "compare: model %c has a NULL test_offset, test, observed or "
                             "predicted array",
                             "AB"[k]);
    size_t S = a->n_splits, q = a->n_neuroids;
    for (size_t s = 0; s < S; s++) {
        if (a->test_offset[s + 1] != b->test_offset[s + 1] || a->test_offset[s] != b->test_offset[s])
            return ncmp_fail(err, NCMP_ERR_SHAPE,
                             "compare: the two models were not scored on the same splits/responses: split %zu has "
                             "test rows %zu..%zu in model A but %zu..%zu in model B",
                             s, a->test_offset[s], a->test_offset[s + 1], b->test_offset[s], b->test_offset[s + 1]);
        if (a->test_offset[s + 1] < a->test_offset[s] + 2)
            return ncmp_fail(err, NCMP_ERR_SHAPE,
                             "compare: split %zu has %zu test rows (offsets %zu..%zu); Pearson r needs at least 2", s,
                             a->test_offset[s + 1] >= a->test_offset[s] ? a->test_offset[s + 1] - a->test_offset[s] : 0,
                             a->test_offset[s], a->test_offset[s + 1]);
    }
    for (size_t s = 0; s < S; s++)
        for (size_t r = a->test_offset[s]; r < a->test_offset[s + 1]; r++) {
            if (a->test[r] != b->test[r])
                return ncmp_fail(err, NCMP_ERR_VALUE,
                                 "compare: the two models were not scored on the same splits/responses: split %zu "
                                 "row %zu is stimulus %zu in model A but %zu in model B",
                                 s, r - a->test_offset[s], a->test[r], b->test[r]);
            if (memcmp(a->observed + r * q, b->observed + r * q, q * sizeof *a->observed))
                return ncmp_fail(err, NCMP_ERR_VALUE,
                                 "compare: the two models were not scored on the same splits/responses: the observed "
                                 "responses of split %zu row %zu (stimulus %zu) differ between model A and model B",
                                 s, r - a->test_offset[s], a->test[r]);
            for (size_t j = 0; j < q; j++) {
                if (!isfinite(a->observed[r * q + j]))
                    return ncmp_fail(err, NCMP_ERR_VALUE,
                                     "compare: observed response is %g at split %zu row %zu (stimulus %zu) neuroid %zu",
                                     a->observed[r * q + j], s, r - a->test_offset[s], a->test[r], j);
                for (int k = 0; k < 2; k++)
                    if (!isfinite(m[k]->predicted[r * q + j]))
                        return ncmp_fail(
                            err, NCMP_ERR_VALUE,
                            "compare: model %c predicts %g at split %zu row %zu (stimulus %zu) neuroid %zu", "AB"[k],
                            m[k] -> predicted[r * q + j], s, r - a -> test_offset[s], a -> test[r], j);
            }
        }
    return NCMP_OK;
}

void ncmp_comparison_free(ncmp_comparison *c)
{
    if (!c)
        return;
    free(c->per_neuroid_a);
    free(c->per_neuroid_b);
    free(c->per_neuroid_difference);
    free(c->bootstrap_a);
    free(c->bootstrap_b);
    free(c->bootstrap_difference);
    free(c);
}

/* r_sj with ncmp_pearson, NaN for a column constant in the split (ncmp_pearson
 * can miss a constant that sum/n does not reproduce exactly), then the score. */
static void point_estimate(const ncmp_predictions *p, const compare_workspace *w, int model, double *r,
                           double *split_median, double *score, double *per_neuroid)
{
    size_t S = p->n_splits, q = p->n_neuroids;
    for (size_t s = 0; s < S; s++) {
        size_t r0 = p->test_offset[s], m = p->test_offset[s + 1] - r0;
        const unsigned char *cst = w->constant + s * 3 * q;
        for (size_t j = 0; j < q; j++)
            r[s * q + j] = cst[j] || cst[(size_t)(1 + model) * q + j]
                               ? NAN
                               : ncmp_pearson(p->predicted + r0 * q + j, q, p->observed + r0 * q + j, q, m);
    }
    double error;
    ncmp_score_aggregate(r, S, q, split_median, score, &error);
    for (size_t j = 0; j < q; j++) {
        double sum = 0;
        size_t k = 0;
        for (size_t s = 0; s < S; s++)
            if (!isnan(r[s * q + j])) {
                sum += r[s * q + j];
                k++;
            }
        per_neuroid[j] = k ? sum / (double)k : NAN;
    }
}

ncmp_status ncmp_compare_predictions(const ncmp_predictions *a, const ncmp_predictions *b,
                                     const ncmp_compare_options *options, ncmp_comparison **out, ncmp_error *err)
{
    ncmp_gsl_init();
    if (!out)
        return ncmp_fail(err, NCMP_ERR_USAGE, "compare: no output pointer");
    *out = NULL;
    ncmp_compare_options o = options ? *options : NCMP_COMPARE_DEFAULTS;
    ncmp_status st = check_inputs(a, b, &o, err);
    if (st)
        return st;
    size_t S = a->n_splits, q = a->n_neuroids, B = o.n_bootstrap, P = o.n_permutations;

    compare_workspace w;
    if (!workspace_alloc(&w, S, q, a->test_offset))
        return ncmp_fail(err, NCMP_ERR_NOMEM, "compare: out of memory for %zu rows x %zu neuroids", a->test_offset[S],
                         q);
    ncmp_comparison *c = calloc(1, sizeof *c);
    double *r = malloc(S * q * sizeof *r), *split_median = malloc(S * sizeof *split_median);
    double *sorted = malloc((B ? B : 1) * sizeof *sorted);
    if (c) {
        c->per_neuroid_a = malloc(q * sizeof *c->per_neuroid_a);
        c->per_neuroid_b = malloc(q * sizeof *c->per_neuroid_b);
        c->per_neuroid_difference = malloc(q * sizeof *c->per_neuroid_difference);
        if (B) {
            c->bootstrap_a = malloc(B * sizeof *c->bootstrap_a);
            c->bootstrap_b = malloc(B * sizeof *c->bootstrap_b);
            c->bootstrap_difference = malloc(B * sizeof *c->bootstrap_difference);
        }
    }
    if (!c || !r || !split_median || !sorted || !c->per_neuroid_a || !c->per_neuroid_b || !c->per_neuroid_difference ||
        (B && (!c->bootstrap_a || !c->bootstrap_b || !c->bootstrap_difference))) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "compare: out of memory for %zu bootstrap replicates x %zu neuroids", B, q);
        goto done;
    }
    c->n_splits = S;
    c->n_neuroids = q;
    c->n_bootstrap = B;
    c->n_permutations = P;
    c->confidence = o.confidence;
    c->seed = o.seed;
    workspace_prepare(&w, a->observed, a->predicted, b->predicted);

    point_estimate(a, &w, 0, r, split_median, &c->score_a, c->per_neuroid_a);
    point_estimate(b, &w, 1, r, split_median, &c->score_b, c->per_neuroid_b);
    if (isnan(c->score_a) || isnan(c->score_b)) {
        st = ncmp_fail(err, NCMP_ERR_VALUE,
                       "compare: model %s has no defined Pearson r in any of the %zu splits (constant predictions or "
                       "responses?); there is nothing to compare",
                       isnan(c->score_a) ? "A" : "B", S);
        goto done;
    }
    c->difference = c->score_a - c->score_b;

    for (size_t j = 0; j < q; j++) {
        double d = c->per_neuroid_a[j] - c->per_neuroid_b[j];
        c->per_neuroid_difference[j] = d;
        if (isnan(d))
            c->n_undefined_neuroids++;
        else if (fabs(d) <= 1e-15)
            c->n_ties++;
        else if (d > 0)
            c->n_a_better++;
        else
            c->n_b_better++;
    }
    c->p_sign = ncmp_sign_test(c->n_a_better, c->n_a_better + c->n_b_better);

    ncmp_mt19937 mt;
    ncmp_mt19937_seed(&mt, o.seed);
    for (size_t rep = 0; rep < B; rep++) {
        bootstrap_replicate(&w, &mt, &c->bootstrap_a[rep], &c->bootstrap_b[rep]);
        c->bootstrap_difference[rep] = c->bootstrap_a[rep] - c->bootstrap_b[rep];
    }
    if (B) {
        percentile_interval(c->bootstrap_a, B, o.confidence, sorted, c->ci_a);
        percentile_interval(c->bootstrap_b, B, o.confidence, sorted, c->ci_b);
        c->n_bootstrap_undefined =
            percentile_interval(c->bootstrap_difference, B, o.confidence, sorted, c->ci_difference);
    } else {
        c->ci_a[0] = c->ci_a[1] = c->ci_b[0] = c->ci_b[1] = c->ci_difference[0] = c->ci_difference[1] = NAN;
    }

    if (P) {
        double threshold = fabs(c->difference) - 1e-12 * fmax(1, fabs(c->difference));
        size_t extreme = 0;
        for (size_t rep = 0; rep < P; rep++) {
            double d = permutation_replicate(&w, &mt);
            if (isnan(d)) {
                c->n_permutation_undefined++;
                extreme++;
            } else if (fabs(d) >= threshold) {
                extreme++;
            }
        }
        c->p_permutation = (double)(1 + extreme) / (double)(1 + P);
    } else {
        c->p_permutation = NAN;
    }

done:
    workspace_free(&w);
    free(r);
    free(split_median);
    free(sorted);
    if (st) {
        ncmp_comparison_free(c);
        return st;
    }
    *out = c;
    return NCMP_OK;
}
