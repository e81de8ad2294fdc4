/* Stimulus sets: the images a model is shown, each with a stimulus_id.
 *
 * Sources (chosen by what PATH is: a folder; a name ending in .csv; else by
 * magic bytes: ZIP, or gzip/IDX):
 *   - a directory of PNG/JPEG images (.png/.jpg/.jpeg, any case; dotfiles,
 *     sub-folders and other files ignored), sorted by strcmp of the file
 *     names; stimulus_id = file stem;
 *   - a ZIP of images (entries sorted by strcmp of their names; folders,
 *     __MACOSX/, dotfiles and non-images skipped; stimulus_id = stem of the
 *     entry's base name; entries are read when loaded);
 *   - a CSV stimulus set in BrainIO/Brain-Score form: columns `stimulus_id`
 *     (or the older `image_id`) and `filename` (relative to the CSV's folder),
 *     other columns kept as metadata (e.g. `object_name`); rows in file order;
 *     RFC 4180 quoting, CRLF or LF, optional UTF-8 BOM; a missing column or
 *     image file is an error naming the line;
 *   - IDX image files (magic 0x00000803, uint8 n x rows x cols; e.g.
 *     Fashion-MNIST, gzipped or not; the size must match the header);
 *     stimulus_id = "<file name without .gz>-<0-based index, 5 digits>"
 *     (e.g. "t10k-images-idx3-ubyte-00042"), and if a matching labels file exists
 *     (…-images-idx3-ubyte → …-labels-idx1-ubyte) its labels become the
 *     metadata column `object_name`.
 * Duplicate stimulus_ids are an error naming both entries; an empty set is an
 * error.  Images are decoded on demand (ncmp_stimuli_load), so memory grows
 * only with the number of stimuli times the length of their ids/metadata.
 * A set is not thread-safe (ZIP and IDX reads share one open handle).
 */
#ifndef NCMP_DATASETS_STIMULI_H
#define NCMP_DATASETS_STIMULI_H

#include <stddef.h>

#include "core/sha256.h"
#include "datasets/image.h"

typedef struct ncmp_stimulus_set ncmp_stimulus_set;

typedef enum ncmp_stimuli_kind {
    NCMP_STIMULI_DIRECTORY,
    NCMP_STIMULI_ZIP,
    NCMP_STIMULI_CSV,
    NCMP_STIMULI_IDX
} ncmp_stimuli_kind;

ncmp_status ncmp_stimuli_open(const char *path, ncmp_stimulus_set **set, ncmp_error *err);
void ncmp_stimuli_close(ncmp_stimulus_set *set);

ncmp_stimuli_kind ncmp_stimuli_get_kind(const ncmp_stimulus_set *set);
const char *ncmp_stimuli_kind_name(ncmp_stimuli_kind kind); /* "directory", "zip", "csv", "idx" */
size_t ncmp_stimuli_count(const ncmp_stimulus_set *set);
const char *ncmp_stimuli_id(const ncmp_stimulus_set *set, size_t i);
/* Where stimulus i comes from, for messages: a path, "archive.zip:entry", "file.idx[12]". */
const char *ncmp_stimuli_source(const ncmp_stimulus_set *set, size_t i);

/* Metadata columns (CSV columns other than stimulus_id/filename; IDX labels). */
size_t ncmp_stimuli_column_count(const ncmp_stimulus_set *set);
const char *ncmp_stimuli_column_name(const ncmp_stimulus_set *set, size_t column);
const char *ncmp_stimuli_value(const ncmp_stimulus_set *set, size_t i, size_t column);

/* Decode stimulus i (release with ncmp_image_release).  Errors name the stimulus and its source. */
ncmp_status ncmp_stimuli_load(ncmp_stimulus_set *set, size_t i, ncmp_image *image, ncmp_error *err);

/* SHA-256 identifying the set's content: of the file for zip/csv/idx (for a
 * CSV also of every image it lists, in order; for IDX also of the labels
 * file), of every image file for a directory, combined with the stimulus_ids
 * in order.  Precisely: SHA-256 of the text "neurocmp-stimuli-1 <kind>\n",
 * then "file <sha256>\n" (not for a directory), "labels <sha256>\n" (IDX with
 * labels), then per stimulus "<id>\n" (zip, idx) or "<id>\t<sha256 of its
 * image file>\n" (directory, csv).  Paths do not enter it: a copied folder
 * has the same fingerprint. */
ncmp_status ncmp_stimuli_fingerprint(ncmp_stimulus_set *set, char hex[NCMP_SHA256_HEX_LEN], ncmp_error *err);

#endif
