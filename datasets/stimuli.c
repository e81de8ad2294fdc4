/* Stimulus sets from an image folder, a ZIP, a BrainIO CSV (Brain-Score stimulus sets) or IDX files (LeCun's MNIST
 * format). */
#include "datasets/stimuli.h"

#include "core/log.h"

#include "core/sizes.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zip.h>
#include <zlib.h>

/* Entries larger than this are refused before reading (mirrors image.c's pixel limit). */
#define NCMP_STIMULUS_MAX_BYTES ((uint64_t)1 << 30)

struct ncmp_stimulus_set {
    ncmp_stimuli_kind kind;
    char *path;
    size_t n, capacity;
    char **ids;
    char **sources;    /* path, "archive.zip:entry" or "file[i]" */
    char **files;      /* directory/CSV: the image path to read (NULL otherwise) */
    uint64_t *entries; /* ZIP: entry index per stimulus */
    zip_t *zip;
    /* IDX */
    gzFile idx;
    unsigned rows, cols;
    char *labels_path;
    /* metadata: values[i * n_columns + column] */
    size_t n_columns;
    char **column_names;
    char **values;
};

/* ---- small helpers ------------------------------------------------------------ */

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* a + b + c, newly allocated. */
static char *join3(const char *a, const char *b, const char *c)
{
    size_t na = strlen(a), nb = strlen(b), nc = strlen(c);
    char *s = malloc(na + nb + nc + 1);
    if (s) {
        memcpy(s, a, na);
        memcpy(s + na, b, nb);
        memcpy(s + na + nb, c, nc + 1);
    }
    return s;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int has_image_extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* Image formats neurocmp does not decode: skipped with a warning naming one, so a set is never silently short. */
static int has_other_image_extension(const char *name)
{
    static const char *const other[] = {".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm", ".heic"};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof other / sizeof other[0]; i++)
        if (!strcasecmp(dot, other[i]))
            return 1;
    return 0;
}

static void warn_skipped(const char *where, size_t n, const char *example)
{
    if (n)
        ncmp_log_warn("%s: %zu image%s in a format neurocmp does not read (e.g. '%s') %s skipped; convert them to PNG "
                      "or JPEG to include them",
                      where, n, n > 1 ? "s" : "", example, n > 1 ? "are" : "is");
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* File name without folder and without its last extension. */
static char *stem_of(const char *path)
{
    const char *b = base_name(path);
    const char *dot = strrchr(b, '.');
    size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, b, n);
        s[n] = '\0';
    }
    return s;
}

typedef struct text_buffer {
    char *data;
    size_t length, capacity;
} text_buffer;

static int text_append(text_buffer *t, const char *s, size_t n)
{
    if (t->length + n + 1 > t->capacity) {
        size_t cap = t->capacity ? t->capacity : 256;
        while (cap < t->length + n + 1)
            cap *= 2;
        char *d = realloc(t->data, cap);
        if (!d)
            return -1;
        t->data = d;
        t->capacity = cap;
    }
    memcpy(t->data + t->length, s, n);
    t->length += n;
    t->data[t->length] = '\0';
    return 0;
}

static int text_append_str(text_buffer *t, const char *s)
{
    return text_append(t, s, strlen(s));
}

/* ---- the set ------------------------------------------------------------------ */

static ncmp_stimulus_set *set_create(ncmp_stimuli_kind kind, const char *path)
{
    ncmp_stimulus_set *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->kind = kind;
    set->path = copy_string(path);
    if (!set->path) {
        free(set);
        return NULL;
    }
    return set;
}

void ncmp_stimuli_close(ncmp_stimulus_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        free(set->ids[i]);
        free(set->sources[i]);
        if (set->files)
            free(set->files[i]);
    }
    if (set->values)
        for (size_t i = 0; i < set->n * set->n_columns; i++)
            free(set->values[i]);
    for (size_t c = 0; c < set->n_columns; c++)
        free(set->column_names[c]);
    free(set->ids);
    free(set->sources);
    free(set->files);
    free(set->entries);
    free(set->values);
    free(set->column_names);
    free(set->labels_path);
    if (set->zip)
        zip_discard(set->zip);
    if (set->idx)
        gzclose(set->idx);
    free(set->path);
    free(set);
}

/* Append a stimulus; takes ownership of id, source and file (freed on failure). */
static ncmp_status set_add(ncmp_stimulus_set *set, char *id, char *source, char *file, uint64_t entry, ncmp_error *err)
{
    if (!id || !source || (set->kind == NCMP_STIMULI_DIRECTORY && !file) || (set->kind == NCMP_STIMULI_CSV && !file))
        goto nomem;
    if (set->n == set->capacity) {
        size_t cap = set->capacity ? 2 * set->capacity : 64;
        char **ids = realloc(set->ids, cap * sizeof *ids);
        if (ids)
            set->ids = ids;
        char **sources = realloc(set->sources, cap * sizeof *sources);
        if (sources)
            set->sources = sources;
        char **files = realloc(set->files, cap * sizeof *files);
        if (files)
            set->files = files;
        uint64_t *entries = realloc(set->entries, cap * sizeof *entries);
        if (entries)
            set->entries = entries;
        if (!ids || !sources || !files || !entries)
            goto nomem;
        set->capacity = cap;
    }
    set->ids[set->n] = id;
    set->sources[set->n] = source;
    set->files[set->n] = file;
    set->entries[set->n] = entry;
    set->n++;
    return NCMP_OK;
nomem:
    free(id);
    free(source);
    free(file);
    return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory listing the stimuli of '%s'", set->path);
}

typedef struct id_ref {
    const char *id;
    size_t index;
} id_ref;

static int compare_id_ref(const void *a, const void *b)
{
    const id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->index < y->index ? -1 : x->index > y->index);
}

static ncmp_status check_unique_ids(const ncmp_stimulus_set *set, ncmp_error *err)
{
    id_ref *order = malloc(set->n * sizeof *order);
    if (!order)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory checking the stimulus_ids of '%s'", set->path);
    for (size_t i = 0; i < set->n; i++)
        order[i] = (id_ref){set->ids[i], i};
    qsort(order, set->n, sizeof *order, compare_id_ref);
    ncmp_status st = NCMP_OK;
    for (size_t k = 1; k < set->n; k++) {
        size_t a = order[k - 1].index, b = order[k].index;
        if (!strcmp(set->ids[a], set->ids[b])) {
            st = ncmp_fail(err, NCMP_ERR_VALUE, "duplicate stimulus_id '%s' in '%s': %s and %s", set->ids[a], set->path,
                           set->sources[a], set->sources[b]);
            break;
        }
    }
    free(order);
    return st;
}

/* ---- directory ------------------------------------------------------------------ */

static int directory_filter(const struct dirent *e)
{
    return e->d_name[0] != '.' && has_image_extension(e->d_name);
}

static int directory_compare(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int directory_other_filter(const struct dirent *e)
{
    return e->d_name[0] != '.' && has_other_image_extension(e->d_name);
}

static ncmp_status open_directory(ncmp_stimulus_set *set, ncmp_error *err)
{
    struct dirent **other = NULL;
    int n_other = scandir(set->path, &other, directory_other_filter, directory_compare);
    if (n_other > 0)
        warn_skipped(set->path, (size_t)n_other, other[0]->d_name);
    for (int i = 0; i < n_other; i++)
        free(other[i]);
    free(other);
    struct dirent **list = NULL;
    int n = scandir(set->path, &list, directory_filter, directory_compare);
    if (n < 0)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot list the folder '%s': %s", set->path, strerror(errno));
    ncmp_status st = NCMP_OK;
    const char *sep = set->path[0] && set->path[strlen(set->path) - 1] == '/' ? "" : "/";
    for (int i = 0; i < n; i++) {
        if (st == NCMP_OK) {
            char *full = join3(set->path, sep, list[i]->d_name);
            struct stat sb;
            if (full && stat(full, &sb) != 0) {
                /* An image name that cannot be opened (a dangling link, say) is
                 * an error: silently exporting one stimulus fewer would misalign data. */
                st = ncmp_fail(err, NCMP_ERR_IO, "stimulus image '%s' cannot be read: %s", full, strerror(errno));
                free(full);
            } else if (full && !S_ISREG(sb.st_mode)) {
                free(full); /* a folder named like an image */
            } else {
                char *source = full ? copy_string(full) : NULL;
                st = set_add(set, stem_of(list[i]->d_name), source, full, 0, err);
            }
        }
        free(list[i]);
    }
    free(list);
    return st;
}

/* ---- ZIP ---------------------------------------------------------------------- */

typedef struct zip_listing {
    const char *name;
    uint64_t index;
} zip_listing;

static int compare_listing(const void *a, const void *b)
{
    return strcmp(((const zip_listing *)a)->name, ((const zip_listing *)b)->name);
}

static int zip_entry_is_stimulus(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || name[n - 1] == '/')
        return 0; /* folder */
    if (!strncmp(name, "__MACOSX/", 9) || strstr(name, "/__MACOSX/"))
        return 0; /* macOS resource forks */
    if (base_name(name)[0] == '.')
        return 0; /* .DS_Store, ._image.jpg */
    return has_image_extension(name);
}

static ncmp_status open_zip(ncmp_stimulus_set *set, ncmp_error *err)
{
    int code = 0;
    set->zip = zip_open(set->path, ZIP_RDONLY, &code);
    if (!set->zip) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, code);
        ncmp_status st = ncmp_fail(err, code == ZIP_ER_OPEN || code == ZIP_ER_READ ? NCMP_ERR_IO : NCMP_ERR_FORMAT,
                                   "cannot open ZIP '%s': %s", set->path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return st;
    }
    zip_int64_t n = zip_get_num_entries(set->zip, 0);
    zip_listing *listing = malloc((size_t)(n > 0 ? n : 1) * sizeof *listing);
    if (!listing)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory listing ZIP '%s'", set->path);
    size_t k = 0, n_other = 0;
    const char *other = NULL;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(set->zip, (zip_uint64_t)i, ZIP_FL_ENC_GUESS);
        if (name && zip_entry_is_stimulus(name))
            listing[k++] = (zip_listing){name, (uint64_t)i};
        else if (name && base_name(name)[0] != '.' && has_other_image_extension(name) && n_other++ == 0)
            other = name;
    }
    warn_skipped(set->path, n_other, other ? other : "");
    qsort(listing, k, sizeof *listing, compare_listing);
    ncmp_status st = NCMP_OK;
    for (size_t i = 0; i < k && st == NCMP_OK; i++)
        st =
            set_add(set, stem_of(listing[i].name), join3(set->path, ":", listing[i].name), NULL, listing[i].index, err);
    free(listing);
    return st;
}

static ncmp_status load_zip_entry(ncmp_stimulus_set *set, size_t i, ncmp_image *image, ncmp_error *err)
{
    zip_stat_t sb;
    zip_stat_init(&sb);
    if (zip_stat_index(set->zip, set->entries[i], 0, &sb) != 0 || !(sb.valid & ZIP_STAT_SIZE))
        return ncmp_fail(err, NCMP_ERR_FORMAT, "cannot read '%s': %s", set->sources[i], zip_strerror(set->zip));
    if (sb.size > NCMP_STIMULUS_MAX_BYTES)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' is too large (%llu bytes)", set->sources[i],
                         (unsigned long long)sb.size);
    size_t declared = (size_t)sb.size, bytes = 0;
    if (ncmp_size_product(set->path, "a ZIP entry's uncompressed size", &declared, 1, 1, &bytes, err))
        return NCMP_ERR_FORMAT;
    unsigned char *data = malloc(sb.size ? (size_t)sb.size : 1);
    if (!data)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate %llu bytes for '%s'", (unsigned long long)sb.size,
                         set->sources[i]);
    zip_file_t *zf = zip_fopen_index(set->zip, set->entries[i], 0);
    if (!zf) {
        free(data);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "cannot open '%s': %s", set->sources[i], zip_strerror(set->zip));
    }
    zip_uint64_t got = 0;
    while (got < sb.size) {
        zip_int64_t r = zip_fread(zf, data + got, sb.size - got);
        if (r <= 0)
            break;
        got += (zip_uint64_t)r;
    }
    ncmp_status st = NCMP_OK;
    if (got != sb.size)
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "cannot read '%s' (%llu of %llu bytes): %s", set->sources[i],
                       (unsigned long long)got, (unsigned long long)sb.size, zip_file_strerror(zf));
    zip_fclose(zf);
    if (st == NCMP_OK)
        st = ncmp_image_decode(data, (size_t)sb.size, set->sources[i], image, err);
    free(data);
    return st;
}

/* ---- CSV ---------------------------------------------------------------------- */

/* RFC 4180 records: quoted fields may hold commas, newlines and doubled quotes;
 * CRLF, LF or CR end a record; a UTF-8 byte-order mark at the start is skipped. */
typedef struct csv_reader {
    FILE *file;
    const char *path;
    long line; /* current line (1-based) */
    text_buffer text;
    size_t *offsets; /* start of each field in text */
    size_t n_fields, capacity;
} csv_reader;

static int csv_end_field(csv_reader *r, size_t *start)
{
    if (text_append(&r->text, "", 1))
        return -1;
    if (r->n_fields == r->capacity) {
        size_t cap = r->capacity ? 2 * r->capacity : 16;
        size_t *o = realloc(r->offsets, cap * sizeof *o);
        if (!o)
            return -1;
        r->offsets = o;
        r->capacity = cap;
    }
    r->offsets[r->n_fields++] = *start;
    *start = r->text.length;
    return 0;
}

/* 1: a record was read (starting at *record_line), 0: end of file, otherwise an error status. */
static int csv_read_record(csv_reader *r, long *record_line, ncmp_error *err, ncmp_status *st)
{
    r->text.length = 0;
    r->n_fields = 0;
    size_t start = 0;
    int c;
    for (;;) {
        /* Skip blank lines between records. */
        c = getc(r->file);
        if (c == '\r') {
            int d = getc(r->file);
            if (d != '\n' && d != EOF)
                ungetc(d, r->file);
            r->line++;
            continue;
        }
        if (c == '\n') {
            r->line++;
            continue;
        }
        break;
    }
    if (c == EOF)
        return 0;
    *record_line = r->line;
    int quoted = 0, after_quote = 0, field_begun = 0;
    for (;; c = getc(r->file)) {
        if (quoted) {
            if (c == EOF) {
                *st = ncmp_fail(err, NCMP_ERR_FORMAT, "CSV '%s' line %ld: quoted field is never closed", r->path,
                                *record_line);
                return -1;
            }
            if (c == '"') {
                int d = getc(r->file);
                if (d == '"') {
                    if (text_append(&r->text, "\"", 1))
                        goto nomem;
                    continue;
                }
                if (d != EOF)
                    ungetc(d, r->file);
                quoted = 0;
                after_quote = 1;
                continue;
            }
            if (c == '\n')
                r->line++;
            char ch = (char)c;
            if (text_append(&r->text, &ch, 1))
                goto nomem;
            continue;
        }
        if (c == ',' || c == '\n' || c == '\r' || c == EOF) {
            if (csv_end_field(r, &start))
                goto nomem;
            field_begun = after_quote = 0;
            if (c == ',')
                continue;
            if (c == '\r') {
                int d = getc(r->file);
                if (d != '\n' && d != EOF)
                    ungetc(d, r->file);
            }
            if (c != EOF)
                r->line++;
            return 1;
        }
        if (c == '"' && !field_begun && !after_quote) {
            quoted = 1;
            field_begun = 1;
            continue;
        }
        /* Anything else is literal, including quotes inside unquoted fields (as Python's csv). */
        field_begun = 1;
        char ch = (char)c;
        if (text_append(&r->text, &ch, 1))
            goto nomem;
    }
nomem:
    *st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading CSV '%s' at line %ld", r->path, r->line);
    return -1;
}

static const char *csv_field(const csv_reader *r, size_t i)
{
    return r->text.data + r->offsets[i];
}

static ncmp_status open_csv(ncmp_stimulus_set *set, ncmp_error *err)
{
    csv_reader r = {NULL, set->path, 1, {NULL, 0, 0}, NULL, 0, 0};
    r.file = fopen(set->path, "rb");
    if (!r.file)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open CSV '%s': %s", set->path, strerror(errno));
    unsigned char bom[3];
    size_t nb = fread(bom, 1, 3, r.file);
    if (!(nb == 3 && bom[0] == 0xef && bom[1] == 0xbb && bom[2] == 0xbf))
        rewind(r.file);

    ncmp_status st = NCMP_OK;
    long line = 0;
    size_t n_header = 0;
    char **header = NULL;
    size_t *meta = NULL; /* header index of each metadata column */
    char *folder = NULL;
    size_t id_col = (size_t)-1, file_col = (size_t)-1, image_id_col = (size_t)-1;
    int got = csv_read_record(&r, &line, err, &st);
    if (got < 0)
        goto done;
    if (got == 0) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "CSV '%s' is empty (expected a header row with stimulus_id and filename)",
                       set->path);
        goto done;
    }
    n_header = r.n_fields;
    header = calloc(n_header, sizeof *header);
    meta = calloc(n_header, sizeof *meta);
    if (!header || !meta)
        goto nomem;
    text_buffer found = {NULL, 0, 0};
    for (size_t i = 0; i < n_header; i++) {
        header[i] = copy_string(csv_field(&r, i));
        if (!header[i])
            goto nomem;
        if (!strcmp(header[i], "stimulus_id") && id_col == (size_t)-1)
            id_col = i;
        else if (!strcmp(header[i], "image_id") && image_id_col == (size_t)-1)
            image_id_col = i;
        else if (!strcmp(header[i], "filename") && file_col == (size_t)-1)
            file_col = i;
        if ((i && text_append_str(&found, ", ")) || text_append_str(&found, header[i])) {
            free(found.data);
            goto nomem;
        }
    }
    if (id_col == (size_t)-1)
        id_col = image_id_col;
    if (id_col == (size_t)-1 || file_col == (size_t)-1) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT,
                       "CSV '%s' needs columns stimulus_id (or image_id) and filename; its header (line %ld) has: %s",
                       set->path, line, found.data ? found.data : "(nothing)");
        free(found.data);
        goto done;
    }
    free(found.data);
    set->column_names = calloc(n_header, sizeof *set->column_names);
    if (!set->column_names)
        goto nomem;
    for (size_t i = 0; i < n_header; i++)
        if (i != id_col && i != file_col) {
            meta[set->n_columns] = i;
            set->column_names[set->n_columns++] = header[i];
            header[i] = NULL;
        }

    const char *slash = strrchr(set->path, '/');
    folder = malloc(slash ? (size_t)(slash - set->path) + 2 : 1);
    if (!folder)
        goto nomem;
    if (slash) {
        memcpy(folder, set->path, (size_t)(slash - set->path) + 1);
        folder[slash - set->path + 1] = '\0';
    } else {
        folder[0] = '\0';
    }

    size_t values_capacity = 0;
    while ((got = csv_read_record(&r, &line, err, &st)) == 1) {
        size_t row = set->n + 1;
        if (r.n_fields != n_header) {
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "CSV '%s' line %ld (row %zu): %zu fields, but the header has %zu",
                           set->path, line, row, r.n_fields, n_header);
            goto done;
        }
        const char *id = csv_field(&r, id_col), *filename = csv_field(&r, file_col);
        if (!id[0] || !filename[0]) {
            st = ncmp_fail(err, NCMP_ERR_VALUE, "CSV '%s' line %ld (row %zu): empty %s", set->path, line, row,
                           id[0]            ? "filename"
                           : header[id_col] ? header[id_col]
                                            : "stimulus_id");
            goto done;
        }
        char *file = join3(filename[0] == '/' ? "" : folder, filename, "");
        if (!file)
            goto nomem;
        struct stat sb;
        if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            st = ncmp_fail(err, NCMP_ERR_NOT_FOUND,
                           "CSV '%s' line %ld (row %zu, stimulus '%s'): image file '%s' not found", set->path, line,
                           row, id, file);
            free(file);
            goto done;
        }
        if ((set->n + 1) * set->n_columns > values_capacity) {
            size_t cap = values_capacity ? 2 * values_capacity : 64 * (set->n_columns ? set->n_columns : 1);
            char **v = realloc(set->values, cap * sizeof *v);
            if (!v) {
                free(file);
                goto nomem;
            }
            set->values = v;
            values_capacity = cap;
        }
        /* Values are stored before set_add so that a failure there leaves them owned by the set. */
        for (size_t c = 0; c < set->n_columns; c++)
            set->values[set->n * set->n_columns + c] = NULL;
        int ok = 1;
        for (size_t c = 0; c < set->n_columns; c++)
            if (!(set->values[set->n * set->n_columns + c] = copy_string(csv_field(&r, meta[c]))))
                ok = 0;
        char *source = copy_string(file);
        if (!ok) {
            for (size_t c = 0; c < set->n_columns; c++)
                free(set->values[set->n * set->n_columns + c]);
            free(file);
            free(source);
            goto nomem;
        }
        st = set_add(set, copy_string(id), source, file, 0, err);
        if (st != NCMP_OK) {
            for (size_t c = 0; c < set->n_columns; c++)
                free(set->values[set->n * set->n_columns + c]);
            goto done;
        }
    }
    if (got < 0)
        goto done;
    if (ferror(r.file))
        st = ncmp_fail(err, NCMP_ERR_IO, "read error on CSV '%s'", set->path);
    goto done;
nomem:
    st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading CSV '%s'", set->path);
done:
    if (header)
        for (size_t i = 0; i < n_header; i++)
            free(header[i]);
    free(header);
    free(meta);
    free(folder);
    free(r.text.data);
    free(r.offsets);
    fclose(r.file);
    return st;
}

/* ---- IDX ---------------------------------------------------------------------- */

static uint32_t big_endian_u32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Read an IDX header (magic + dims) and count the bytes after it; gzip or plain (zlib reads both). */
static ncmp_status idx_scan(const char *path, uint32_t expected_magic, uint32_t *dims, uint64_t *data_bytes,
                            ncmp_error *err)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open IDX file '%s': %s", path, strerror(errno));
    unsigned char head[16];
    int ndim = (int)(expected_magic & 0xff);
    unsigned header_bytes = 4 + 4 * (unsigned)ndim;
    int got = gzread(gz, head, header_bytes);
    ncmp_status st = NCMP_OK;
    if (got < 4) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' is not an IDX file (too short)", path);
        goto done;
    }
    uint32_t magic = big_endian_u32(head);
    if (magic != expected_magic) {
        if (magic == 0x00000801 && expected_magic == 0x00000803)
            st = ncmp_fail(err, NCMP_ERR_FORMAT,
                           "'%s' is an IDX labels file; give the images file (...-images-idx3-ubyte) instead", path);
        else
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' is not an IDX %s file (magic 0x%08x, expected 0x%08x)", path,
                           expected_magic == 0x803 ? "image" : "labels", magic, expected_magic);
        goto done;
    }
    if ((unsigned)got < header_bytes) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "IDX file '%s' is truncated inside its header", path);
        goto done;
    }
    for (int d = 0; d < ndim; d++)
        dims[d] = big_endian_u32(head + 4 + 4 * d);
    enum { BLOCK = 1 << 16 };
    unsigned char *block = malloc(BLOCK);
    if (!block) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading IDX file '%s'", path);
        goto done;
    }
    uint64_t total = 0;
    int r;
    while ((r = gzread(gz, block, BLOCK)) > 0)
        total += (uint64_t)r;
    free(block);
    int zerr = Z_OK;
    const char *zmsg = gzerror(gz, &zerr);
    if (r < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR)) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "cannot read IDX file '%s': %s", path, zmsg);
        goto done;
    }
    if (zerr == Z_BUF_ERROR) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "gzip stream of IDX file '%s' is truncated", path);
        goto done;
    }
    *data_bytes = total;
done:
    gzclose(gz);
    return st;
}

/* "x-images-idx3-ubyte[.gz]" -> "x-labels-idx1-ubyte[.gz]" (or the other compression), if it exists. */
static char *find_labels_file(const char *images_path)
{
    const char *b = base_name(images_path);
    const char *img = strstr(b, "images");
    const char *idx3 = img ? strstr(img, "idx3") : NULL;
    if (!img || !idx3)
        return NULL;
    char *candidate = copy_string(images_path);
    if (!candidate)
        return NULL;
    size_t off_img = (size_t)(img - images_path), off_idx = (size_t)(idx3 - images_path);
    memcpy(candidate + off_img, "labels", 6);
    candidate[off_idx + 3] = '1';
    struct stat sb;
    if (stat(candidate, &sb) == 0 && S_ISREG(sb.st_mode))
        return candidate;
    /* Try the other compression. */
    size_t n = strlen(candidate);
    char *other = malloc(n + 4);
    if (other) {
        if (ends_with_ci(candidate, ".gz")) {
            memcpy(other, candidate, n - 3);
            other[n - 3] = '\0';
        } else {
            memcpy(other, candidate, n);
            memcpy(other + n, ".gz", 4);
        }
        if (stat(other, &sb) == 0 && S_ISREG(sb.st_mode)) {
            free(candidate);
            return other;
        }
        free(other);
    }
    free(candidate);
    return NULL;
}

static ncmp_status open_idx(ncmp_stimulus_set *set, ncmp_error *err)
{
    uint32_t dims[3] = {0, 0, 0};
    uint64_t bytes = 0;
    ncmp_status st = idx_scan(set->path, 0x00000803, dims, &bytes, err);
    if (st != NCMP_OK)
        return st;
    if (dims[1] == 0 || dims[2] == 0 || dims[1] > 65536 || dims[2] > 65536)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "IDX file '%s' has images of %ux%u pixels", set->path, dims[1], dims[2]);
    size_t per_image, all_images;
    if ((st = ncmp_size_2d(set->path, "each IDX image (rows x columns)", dims[1], dims[2], 1, &per_image, err)) ||
        (st = ncmp_size_3d(set->path, "the IDX images (count x rows x columns)", dims[0], dims[1], dims[2], 1,
                           &all_images, err)))
        return st;
    if (per_image > NCMP_STIMULUS_MAX_BYTES)
        return ncmp_fail(err, NCMP_ERR_FORMAT,
                         "IDX file '%s' has images of %ux%u pixels, more than the %llu MiB an image may hold",
                         set->path, dims[1], dims[2], (unsigned long long)(NCMP_STIMULUS_MAX_BYTES >> 20));
    const uint64_t expected = all_images;
    if (bytes != expected)
        return ncmp_fail(err, NCMP_ERR_FORMAT,
                         "IDX file '%s' is %s: its header says %u images of %ux%u (%llu bytes of pixels), it holds "
                         "%llu bytes",
                         set->path, bytes < expected ? "truncated" : "longer than its header says", dims[0], dims[1],
                         dims[2], (unsigned long long)expected, (unsigned long long)bytes);
    set->rows = dims[1];
    set->cols = dims[2];

    /* Stem: the file name without ".gz" and without a last extension. */
    char *name = copy_string(base_name(set->path));
    if (!name)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (ends_with_ci(name, ".gz"))
        name[strlen(name) - 3] = '\0';
    char *stem = stem_of(name);
    free(name);
    if (!stem)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    const char *file_name = base_name(set->path);
    for (uint32_t i = 0; i < dims[0] && st == NCMP_OK; i++) {
        char idbuf[32], srcbuf[32];
        snprintf(idbuf, sizeof idbuf, "-%05u", i);
        snprintf(srcbuf, sizeof srcbuf, "[%u]", i);
        st = set_add(set, join3(stem, idbuf, ""), join3(file_name, srcbuf, ""), NULL, i, err);
    }
    free(stem);
    if (st != NCMP_OK)
        return st;

    set->labels_path = find_labels_file(set->path);
    if (!set->labels_path)
        return NCMP_OK;
    uint32_t ldims[3] = {0, 0, 0};
    uint64_t lbytes = 0;
    st = idx_scan(set->labels_path, 0x00000801, ldims, &lbytes, err);
    if (st != NCMP_OK)
        return st;
    if (ldims[0] != dims[0] || lbytes != ldims[0])
        return ncmp_fail(err, NCMP_ERR_SHAPE, "IDX labels '%s' hold %llu labels (header: %u) for %u images in '%s'",
                         set->labels_path, (unsigned long long)lbytes, ldims[0], dims[0], set->path);
    set->column_names = malloc(sizeof *set->column_names);
    set->values = calloc(set->n, sizeof *set->values);
    if (!set->column_names || !set->values || !(set->column_names[0] = copy_string("object_name")))
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading labels '%s'", set->labels_path);
    set->n_columns = 1;
    gzFile gz = gzopen(set->labels_path, "rb");
    unsigned char label_block[4096];
    if (!gz || gzseek(gz, 8, SEEK_SET) != 8) {
        if (gz)
            gzclose(gz);
        return ncmp_fail(err, NCMP_ERR_IO, "cannot read labels '%s'", set->labels_path);
    }
    for (size_t i = 0; i < set->n && st == NCMP_OK;) {
        size_t want = set->n - i < sizeof label_block ? set->n - i : sizeof label_block;
        int got = gzread(gz, label_block, (unsigned)want);
        if (got <= 0) {
            st = ncmp_fail(err, NCMP_ERR_IO, "read error on labels '%s'", set->labels_path);
            break;
        }
        for (int k = 0; k < got; k++, i++) {
            char v[8];
            snprintf(v, sizeof v, "%u", label_block[k]);
            if (!(set->values[i] = copy_string(v))) {
                st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading labels '%s'", set->labels_path);
                break;
            }
        }
    }
    gzclose(gz);
    return st;
}

static ncmp_status load_idx_image(ncmp_stimulus_set *set, size_t i, ncmp_image *image, ncmp_error *err)
{
    if (!set->idx && !(set->idx = gzopen(set->path, "rb")))
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open IDX file '%s': %s", set->path, strerror(errno));
    size_t bytes = (size_t)set->rows * set->cols;
    z_off_t offset = (z_off_t)(16 + (uint64_t)i * bytes);
    unsigned char *pixels = malloc(bytes);
    if (!pixels)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate %ux%u pixels for '%s'", set->rows, set->cols,
                         set->sources[i]);
    /* Sequential reads (the usual pattern) need no seek; gzseek backwards restarts decompression. */
    if (gztell(set->idx) != offset && gzseek(set->idx, offset, SEEK_SET) != offset) {
        free(pixels);
        return ncmp_fail(err, NCMP_ERR_IO, "cannot seek to '%s'", set->sources[i]);
    }
    int got = gzread(set->idx, pixels, (unsigned)bytes); /* bytes <= NCMP_STIMULUS_MAX_BYTES (open_idx) */
    if (got < 0 || (size_t)got != bytes) {
        free(pixels);
        gzclose(set->idx);
        set->idx = NULL;
        return ncmp_fail(err, NCMP_ERR_FORMAT, "cannot read '%s' (file changed since it was opened?)", set->sources[i]);
    }
    image->width = (int)set->cols;
    image->height = (int)set->rows;
    image->channels = 1;
    image->pixels = pixels;
    return NCMP_OK;
}

/* ---- public API ------------------------------------------------------------------ */

ncmp_status ncmp_stimuli_open(const char *path, ncmp_stimulus_set **out, ncmp_error *err)
{
    if (!out)
        return ncmp_fail(err, NCMP_ERR_USAGE, "ncmp_stimuli_open: no output");
    *out = NULL;
    if (!path || !path[0])
        return ncmp_fail(err, NCMP_ERR_USAGE, "no stimulus set given");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open stimulus set '%s': %s", path, strerror(errno));
    ncmp_stimuli_kind kind;
    if (S_ISDIR(sb.st_mode)) {
        kind = NCMP_STIMULI_DIRECTORY;
    } else if (ends_with_ci(path, ".csv")) {
        kind = NCMP_STIMULI_CSV;
    } else {
        unsigned char magic[4] = {0, 0, 0, 0};
        FILE *f = fopen(path, "rb");
        if (!f)
            return ncmp_fail(err, NCMP_ERR_IO, "cannot open stimulus set '%s': %s", path, strerror(errno));
        size_t got = fread(magic, 1, 4, f);
        fclose(f);
        if (got >= 4 && magic[0] == 'P' && magic[1] == 'K' &&
            ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6)))
            kind = NCMP_STIMULI_ZIP;
        else if ((got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) ||
                 (got >= 4 && magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08))
            kind = NCMP_STIMULI_IDX;
        else
            return ncmp_fail(err, NCMP_ERR_FORMAT,
                             "'%s' is not a stimulus set: expected a folder of images, a .zip, a .csv (BrainIO) or "
                             "an IDX file",
                             path);
    }
    ncmp_stimulus_set *set = set_create(kind, path);
    if (!set)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory opening '%s'", path);
    ncmp_status st;
    switch (kind) {
    case NCMP_STIMULI_DIRECTORY:
        st = open_directory(set, err);
        break;
    case NCMP_STIMULI_ZIP:
        st = open_zip(set, err);
        break;
    case NCMP_STIMULI_CSV:
        st = open_csv(set, err);
        break;
    default:
        st = open_idx(set, err);
        break;
    }
    if (st == NCMP_OK && set->n == 0)
        st = ncmp_fail(err, NCMP_ERR_VALUE, "stimulus set '%s' (%s) holds no images%s", path,
                       ncmp_stimuli_kind_name(kind),
                       kind == NCMP_STIMULI_DIRECTORY || kind == NCMP_STIMULI_ZIP ? " (.png, .jpg or .jpeg)" : "");
    if (st == NCMP_OK)
        st = check_unique_ids(set, err);
    if (st != NCMP_OK) {
        ncmp_stimuli_close(set);
        return st;
    }
    *out = set;
    return NCMP_OK;
}

ncmp_stimuli_kind ncmp_stimuli_get_kind(const ncmp_stimulus_set *set)
{
    return set->kind;
}

const char *ncmp_stimuli_kind_name(ncmp_stimuli_kind kind)
{
    switch (kind) {
    case NCMP_STIMULI_DIRECTORY:
        return "directory";
    case NCMP_STIMULI_ZIP:
        return "zip";
    case NCMP_STIMULI_CSV:
        return "csv";
    case NCMP_STIMULI_IDX:
        return "idx";
    }
    return "unknown";
}

size_t ncmp_stimuli_count(const ncmp_stimulus_set *set)
{
    return set ? set->n : 0;
}

const char *ncmp_stimuli_id(const ncmp_stimulus_set *set, size_t i)
{
    return set && i < set->n ? set->ids[i] : NULL;
}

const char *ncmp_stimuli_source(const ncmp_stimulus_set *set, size_t i)
{
    return set && i < set->n ? set->sources[i] : NULL;
}

size_t ncmp_stimuli_column_count(const ncmp_stimulus_set *set)
{
    return set ? set->n_columns : 0;
}

const char *ncmp_stimuli_column_name(const ncmp_stimulus_set *set, size_t column)
{
    return set && column < set->n_columns ? set->column_names[column] : NULL;
}

const char *ncmp_stimuli_value(const ncmp_stimulus_set *set, size_t i, size_t column)
{
    return set && i < set->n && column < set->n_columns ? set->values[i * set->n_columns + column] : NULL;
}

ncmp_status ncmp_stimuli_load(ncmp_stimulus_set *set, size_t i, ncmp_image *image, ncmp_error *err)
{
    if (!set || !image)
        return ncmp_fail(err, NCMP_ERR_USAGE, "ncmp_stimuli_load: missing set or image");
    image->width = image->height = image->channels = 0;
    image->pixels = NULL;
    if (i >= set->n)
        return ncmp_fail(err, NCMP_ERR_USAGE, "stimulus index %zu out of range (set '%s' has %zu)", i, set->path,
                         set->n);
    ncmp_status st;
    switch (set->kind) {
    case NCMP_STIMULI_ZIP:
        st = load_zip_entry(set, i, image, err);
        break;
    case NCMP_STIMULI_IDX:
        st = load_idx_image(set, i, image, err);
        break;
    default:
        st = ncmp_image_read(set->files[i], image, err);
        break;
    }
    if (st != NCMP_OK)
        ncmp_error_context(err, "stimulus '%s'", set->ids[i]);
    return st;
}

ncmp_status ncmp_stimuli_fingerprint(ncmp_stimulus_set *set, char hex[NCMP_SHA256_HEX_LEN], ncmp_error *err)
{
    if (!set || !hex)
        return ncmp_fail(err, NCMP_ERR_USAGE, "ncmp_stimuli_fingerprint: missing set or output");
    /* A manifest: format version, kind, file hashes, then one line per stimulus. */
    text_buffer t = {NULL, 0, 0};
    char h[NCMP_SHA256_HEX_LEN];
    ncmp_status st = NCMP_OK;
    int fail = text_append_str(&t, "neurocmp-stimuli-1 ") || text_append_str(&t, ncmp_stimuli_kind_name(set->kind)) ||
               text_append_str(&t, "\n");
    if (!fail && set->kind != NCMP_STIMULI_DIRECTORY) {
        if ((st = ncmp_sha256_file(set->path, h, err)) != NCMP_OK)
            goto done;
        fail = text_append_str(&t, "file ") || text_append_str(&t, h) || text_append_str(&t, "\n");
    }
    if (!fail && set->labels_path) {
        if ((st = ncmp_sha256_file(set->labels_path, h, err)) != NCMP_OK)
            goto done;
        fail = text_append_str(&t, "labels ") || text_append_str(&t, h) || text_append_str(&t, "\n");
    }
    for (size_t i = 0; i < set->n && !fail; i++) {
        fail = text_append_str(&t, set->ids[i]);
        if (!fail && set->files && set->files[i]) {
            if ((st = ncmp_sha256_file(set->files[i], h, err)) != NCMP_OK) {
                ncmp_error_context(err, "fingerprint of stimulus '%s'", set->ids[i]);
                goto done;
            }
            fail = text_append_str(&t, "\t") || text_append_str(&t, h);
        }
        fail = fail || text_append_str(&t, "\n");
    }
    if (fail) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory fingerprinting '%s'", set->path);
        goto done;
    }
    ncmp_sha256_buffer(t.data, t.length, hex);
done:
    free(t.data);
    return st;
}
