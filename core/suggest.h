/* "Did you mean ...?" suggestions by edit distance. */
#ifndef NCMP_CORE_SUGGEST_H
#define NCMP_CORE_SUGGEST_H

#include <stddef.h>

/* Closest of `candidates` to `word` (Levenshtein distance, with prefixes of
 * three or more characters counting as close), or NULL if none is close. */
const char *ncmp_suggest(const char *word, const char *const *candidates, size_t n);

#endif
