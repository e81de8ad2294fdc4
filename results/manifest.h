/* The study manifest: what each step of a study ran, on which inputs, and
 * what it wrote, with content hashes (docs/reproducibility.md, Manifest).
 *
 * `neurocmp study` writes DIR/manifest.json after every step (atomically), so
 * a rerun can skip the steps whose key (a hash of their settings and inputs)
 * is unchanged and whose outputs still hash as recorded; `neurocmp verify`
 * reads it to tell up-to-date, stale, missing-input and modified outputs
 * apart.  Paths are stored relative to the manifest's directory when they
 * lie under it or can be reached from it with "../", else absolute; the
 * functions below take and return them as stored.
 *
 * The file is JSON:
 *   {"neurocmp_manifest": 1, "study": NAME, "config_path": P,
 *    "config_sha256": H, "updated_utc": T,
 *    "steps": [{"name": "export.cnnf", "kind": "export", "key": H,
 *               "state": "done"|"running", "cheap": false, "seconds": 12.5,
 *               "argv": ["neurocmp", "export", ...],
 *               "inputs":  [{"role": "weights", "path": P, "sha256": H, "bytes": N}],
 *               "outputs": [{"role": "activations", "path": P, "sha256": H, "bytes": N}]}]}
 */
#ifndef NCMP_RESULTS_MANIFEST_H
#define NCMP_RESULTS_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "core/sha256.h"
#include "core/status.h"

typedef struct ncmp_manifest_file {
    char *role; /* "weights", "stimuli", "activations", ... */
    char *path; /* as stored (relative to the manifest's directory or absolute) */
    char sha256[NCMP_SHA256_HEX_LEN];
    long long bytes;
} ncmp_manifest_file;

typedef struct ncmp_manifest_step {
    char *name;  /* unique within the study, e.g. "export.cnnf" */
    char *kind;  /* train, eval, import, export, simulate, ceiling, score, temporal, compare, report */
    char *key;   /* hex SHA-256 of the step's settings and its inputs' hashes */
    char *state; /* "done" once every output was written, "running" while it runs */
    bool cheap;  /* verify --recompute may rerun it (scores from activations) */
    double seconds;
    char **argv; /* the neurocmp command the step ran; argv[0] is "neurocmp" */
    size_t argc;
    ncmp_manifest_file *inputs;
    size_t n_inputs;
    ncmp_manifest_file *outputs;
    size_t n_outputs;
} ncmp_manifest_step;

typedef struct ncmp_manifest {
    char *study;
    char *config_path;
    char config_sha256[NCMP_SHA256_HEX_LEN];
    char *updated_utc;
    ncmp_manifest_step *steps;
    size_t n_steps;
} ncmp_manifest;

/* An empty manifest (no steps) for a study; strings copied. */
ncmp_status ncmp_manifest_create(const char *study, const char *config_path, const char *config_sha256,
                                 ncmp_manifest **out, ncmp_error *err);
/* Read DIR/manifest.json (or the named file): every field checked (types,
 * hex digests, unique step names); a clear error names the file and field. */
ncmp_status ncmp_manifest_read(const char *path, ncmp_manifest **out, ncmp_error *err);
/* Write atomically (core/atomic.h), updated_utc set to now. */
ncmp_status ncmp_manifest_write(ncmp_manifest *m, const char *path, ncmp_error *err);
void ncmp_manifest_free(ncmp_manifest *m);

/* The step named `name`, or NULL. */
ncmp_manifest_step *ncmp_manifest_find(ncmp_manifest *m, const char *name);
/* Add a deep copy of `step`, replacing a step of the same name in place. */
ncmp_status ncmp_manifest_put(ncmp_manifest *m, const ncmp_manifest_step *step, ncmp_error *err);
/* Free the strings and arrays a step owns (not the step itself). */
void ncmp_manifest_step_clear(ncmp_manifest_step *step);

/* A file path as the manifest stores it: relative to manifest_dir when
 * possible ("../data/x.nc"), else absolute.  Caller frees. */
char *ncmp_manifest_relative_path(const char *manifest_dir, const char *path);
/* The path to open for a stored path (joined to manifest_dir when relative).  Caller frees. */
char *ncmp_manifest_resolve_path(const char *manifest_dir, const char *stored);

#endif
