/* Labelled image sets (Fashion-MNIST, IDX pairs, ImageFolder trees) preprocessed into memory. */
#include "datasets/labeled.h"
#include "core/log.h"
#include "core/progress.h"
#include "datasets/stimuli.h"

#include <dirent.h>
#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

const char *ncmp_fashion_mnist_dir(void)
{
    const char *env = getenv("NEUROCMP_FASHION_MNIST");
    return env && *env ? env : FASHION_MNIST_DIR;
}

void ncmp_labeled_free(ncmp_labeled_set *s)
{
    if (!s)
        return;
    free(s->images);
    free(s->labels);
    if (s->class_names)
        for (int c = 0; c < s->n_classes; c++)
            free(s->class_names[c]);
    free(s->class_names);
    free(s);
}

/* IDX labels: magic 0x00000801, a count, then one byte per label. */
static ncmp_status read_idx_labels(const char *path, size_t expected, int32_t *labels, ncmp_error *err)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open labels file '%s': %s", path, strerror(errno));
    unsigned char head[8];
    ncmp_status st = NCMP_OK;
    int got = gzread(gz, head, sizeof head);
    uint32_t magic =
        got >= 4 ? (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3] : 0;
    if (got < (int)sizeof head || magic != 0x00000801) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT,
                       magic == 0x00000803 ? "'%s' is an IDX images file; --labels needs the labels file (magic 0x801)"
                                           : "'%s' is not an IDX labels file (magic 0x00000801 and a count)",
                       path);
        goto done;
    }
    uint32_t count = (uint32_t)head[4] << 24 | (uint32_t)head[5] << 16 | (uint32_t)head[6] << 8 | head[7];
    if (count != expected) {
        st = ncmp_fail(err, NCMP_ERR_SHAPE, "labels file '%s' holds %u labels, but the images are %zu", path, count,
                       expected);
        goto done;
    }
    unsigned char buf[65536];
    size_t done_count = 0;
    while (done_count < expected) {
        size_t want = expected - done_count < sizeof buf ? expected - done_count : sizeof buf;
        int r = gzread(gz, buf, (unsigned)want);
        if (r <= 0) {
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "labels file '%s' is truncated after %zu of %zu labels", path,
                           done_count, expected);
            goto done;
        }
        for (int k = 0; k < r; k++)
            labels[done_count + (size_t)k] = buf[k];
        done_count += (size_t)r;
    }
    if (gzread(gz, buf, 1) > 0)
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "labels file '%s' has data after its %zu labels", path, expected);
done:
    gzclose(gz);
    return st;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sub-folders of dir (no dotfiles), sorted. */
static ncmp_status list_class_folders(const char *dir, char ***names, int *count, ncmp_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return ncmp_fail(err, errno == ENOENT ? NCMP_ERR_NOT_FOUND : NCMP_ERR_IO, "cannot open data folder '%s': %s",
                         dir, strerror(errno));
    char **list = NULL;
    int n = 0, cap = 0;
    struct dirent *ent;
    ncmp_status st = NCMP_OK;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.')
            continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        if (stat(path, &sb) || !S_ISDIR(sb.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(list, (size_t)cap * sizeof *grown);
            if (!grown) {
                st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
                break;
            }
            list = grown;
        }
        if (!(list[n] = strdup(ent->d_name))) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (!st && n == 0)
        st = ncmp_fail(err, NCMP_ERR_FORMAT,
                       "data folder '%s' has no class sub-folders (an ImageFolder tree: DIR/<class>/<images>)", dir);
    if (st) {
        for (int k = 0; k < n; k++)
            free(list[k]);
        free(list);
        return st;
    }
    qsort(list, (size_t)n, sizeof *list, compare_names);
    *names = list;
    *count = n;
    return NCMP_OK;
}

/* Decode and preprocess every image of `set` into out (n x per floats), labels[i] = label. */
static ncmp_status load_images(ncmp_stimulus_set *set, const ncmp_preprocess_options *pp, float *out,
                               ncmp_progress *progress, ncmp_error *err)
{
    const size_t per = (size_t)pp->channels * (size_t)pp->size * (size_t)pp->size;
    for (size_t i = 0; i < ncmp_stimuli_count(set); i++) {
        ncmp_image img;
        ncmp_status st = ncmp_stimuli_load(set, i, &img, err);
        if (st)
            return st;
        st = ncmp_preprocess_image(&img, pp, out + i * per, err);
        ncmp_image_release(&img);
        if (st)
            return ncmp_error_context(err, "%s: ", ncmp_stimuli_source(set, i));
        ncmp_progress_advance(progress, 1);
    }
    return NCMP_OK;
}

static ncmp_status allocate(ncmp_labeled_set *s, size_t n, const ncmp_preprocess_options *pp, const char *what,
                            ncmp_error *err)
{
    const size_t per = (size_t)pp->channels * (size_t)pp->size * (size_t)pp->size;
    /* Held in memory whole: refuse what cannot fit rather than overflow. */
    const size_t limit = (size_t)64 << 30;
    if (n == 0 || n > limit / sizeof(float) / per)
        return ncmp_fail(err, n ? NCMP_ERR_NOMEM : NCMP_ERR_FORMAT,
                         n ? "%s: %zu images of %dx%dx%d are too many to hold in memory (limit 64 GiB)"
                           : "%s holds no images",
                         what, n, pp->channels, pp->size, pp->size);
    s->n = n;
    s->images = malloc(n * per * sizeof(float));
    s->labels = malloc(n * sizeof(int32_t));
    if (!s->images || !s->labels)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for %zu images of %dx%dx%d (%s)", n, pp->channels,
                         pp->size, pp->size, what);
    return NCMP_OK;
}

static ncmp_status open_idx_pair(ncmp_labeled_set *s, const char *images, const char *labels,
                                 const ncmp_preprocess_options *pp, ncmp_error *err)
{
    ncmp_stimulus_set *set = NULL;
    ncmp_status st = ncmp_stimuli_open(images, &set, err);
    if (st)
        return st;
    if (ncmp_stimuli_get_kind(set) != NCMP_STIMULI_IDX) {
        ncmp_stimuli_close(set);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "--images '%s' is not an IDX images file", images);
    }
    const size_t n = ncmp_stimuli_count(set);
    char img_hash[NCMP_SHA256_HEX_LEN], lab_hash[NCMP_SHA256_HEX_LEN];
    if (!(st = allocate(s, n, pp, images, err)) && !(st = read_idx_labels(labels, n, s->labels, err)) &&
        !(st = ncmp_sha256_file(images, img_hash, err)) && !(st = ncmp_sha256_file(labels, lab_hash, err))) {
        ncmp_progress *progress = ncmp_progress_start("loading images", n, "images");
        st = load_images(set, pp, s->images, progress, err);
        ncmp_progress_finish(progress);
    }
    ncmp_stimuli_close(set);
    if (st)
        return st;
    char text[2 * NCMP_SHA256_HEX_LEN + 32];
    snprintf(text, sizeof text, "idx %s %s", img_hash, lab_hash);
    ncmp_sha256_buffer(text, strlen(text), s->sha256);
    return NCMP_OK;
}

static ncmp_status open_folder(ncmp_labeled_set *s, const char *dir, const ncmp_preprocess_options *pp, ncmp_error *err)
{
    char **names = NULL;
    int n_classes = 0;
    ncmp_status st = list_class_folders(dir, &names, &n_classes, err);
    if (st)
        return st;
    s->class_names = names;
    s->n_classes = n_classes;
    ncmp_stimulus_set **sets = calloc((size_t)n_classes, sizeof *sets);
    if (!sets)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    size_t total = 0;
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, 18, (const uint8_t *)"neurocmp-labeled-1");
    for (int c = 0; c < n_classes && !st; c++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[c]);
        ncmp_error inner;
        if (ncmp_stimuli_open(path, &sets[c], &inner)) {
            st = ncmp_fail(err, inner.status, "class folder '%s' (class %d of %d): %s", path, c, n_classes,
                           inner.message);
            break;
        }
        char hex[NCMP_SHA256_HEX_LEN];
        if ((st = ncmp_stimuli_fingerprint(sets[c], hex, err)))
            break;
        sha256_update(&ctx, strlen(names[c]) + 1, (const uint8_t *)names[c]);
        sha256_update(&ctx, strlen(hex), (const uint8_t *)hex);
        total += ncmp_stimuli_count(sets[c]);
    }
    if (!st)
        st = allocate(s, total, pp, dir, err);
    if (!st) {
        const size_t per = (size_t)pp->channels * (size_t)pp->size * (size_t)pp->size;
        ncmp_progress *progress = ncmp_progress_start("loading images", total, "images");
        size_t at = 0;
        for (int c = 0; c < n_classes && !st; c++) {
            st = load_images(sets[c], pp, s->images + at * per, progress, err);
            for (size_t k = 0; k < ncmp_stimuli_count(sets[c]); k++)
                s->labels[at + k] = c;
            at += ncmp_stimuli_count(sets[c]);
        }
        ncmp_progress_finish(progress);
    }
    for (int c = 0; c < n_classes; c++)
        ncmp_stimuli_close(sets[c]);
    free(sets);
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    for (int k = 0; k < SHA256_DIGEST_SIZE; k++)
        snprintf(s->sha256 + 2 * k, 3, "%02x", digest[k]);
    return st;
}

ncmp_status ncmp_labeled_open(const ncmp_labeled_source *src, const ncmp_preprocess_options *pp, int classes,
                              ncmp_labeled_set **out, ncmp_error *err)
{
    *out = NULL;
    ncmp_labeled_set *s = calloc(1, sizeof *s);
    if (!s)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    s->channels = pp->channels;
    s->size = pp->size;
    ncmp_status st;
    if (src->data && !strcmp(src->data, "fashion-mnist")) {
        const char *dir = ncmp_fashion_mnist_dir();
        const char *stem = src->split == NCMP_SPLIT_TRAIN ? "train" : "t10k";
        char images[4096], labels[4096];
        snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, stem);
        snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, stem);
        struct stat sb;
        if (stat(images, &sb) || stat(labels, &sb)) {
            st = ncmp_fail(err, NCMP_ERR_NOT_FOUND,
                           "Fashion-MNIST is not installed (no '%s'): install Debian's dataset-fashion-mnist "
                           "(apt-get install dataset-fashion-mnist), or give --images FILE --labels FILE",
                           images);
            goto done;
        }
        st = open_idx_pair(s, images, labels, pp, err);
        snprintf(s->description, sizeof s->description, "Fashion-MNIST %s split (%s)",
                 src->split == NCMP_SPLIT_TRAIN ? "train" : "test", dir);
    } else if (src->data) {
        st = open_folder(s, src->data, pp, err);
        snprintf(s->description, sizeof s->description, "image folders '%s' (%d classes)", src->data, s->n_classes);
    } else if (src->images && src->labels) {
        st = open_idx_pair(s, src->images, src->labels, pp, err);
        snprintf(s->description, sizeof s->description, "IDX '%s' with labels '%s'", src->images, src->labels);
    } else {
        st = ncmp_fail(err, NCMP_ERR_USAGE, "give --data fashion-mnist, --data DIR, or --images FILE --labels FILE");
    }
    if (st)
        goto done;
    if (!s->class_names) {
        int32_t top = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->labels[i] > top)
                top = s->labels[i];
        s->n_classes = top + 1;
    }
    if (classes > 0)
        for (size_t i = 0; i < s->n; i++)
            if (s->labels[i] >= classes) {
                st = ncmp_fail(err, NCMP_ERR_VALUE,
                               "%s: label %d of image %zu is outside the network's %d classes (0..%d); use --classes",
                               s->description, (int)s->labels[i], i, classes, classes - 1);
                goto done;
            }
done:
    if (st) {
        ncmp_labeled_free(s);
        return st;
    }
    *out = s;
    return NCMP_OK;
}

void ncmp_labeled_gather(const ncmp_labeled_set *s, const size_t *idx, size_t n, ncmp_dtype dtype, void *images,
                         int32_t *labels)
{
    const size_t per = (size_t)s->channels * (size_t)s->size * (size_t)s->size;
    for (size_t k = 0; k < n; k++) {
        const float *src = s->images + idx[k] * per;
        if (dtype == NCMP_FLOAT32) {
            memcpy((float *)images + k * per, src, per * sizeof(float));
        } else {
            double *d = (double *)images + k * per;
            for (size_t j = 0; j < per; j++)
                d[j] = src[j];
        }
        if (labels)
            labels[k] = s->labels[idx[k]];
    }
}
