/* Option parsing and help for neurocmp subcommands (see args.h). */
#include "cli/args.h"
#include "core/log.h"
#include "core/suggest.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

const char *cli_suggest(const char *word, const char *const *candidates, size_t n)
{
    return ncmp_suggest(word, candidates, n);
}

static bool common_quiet, common_verbose, common_help;

static const cli_option common_options[] = {
    {"quiet", 'q', CLI_FLAG, &common_quiet, NULL, "only print errors (no progress, no info)"},
    {"verbose", 'v', CLI_FLAG, &common_verbose, NULL, "print debugging detail"},
    {"help", 'h', CLI_FLAG, &common_help, NULL, "show this help and exit"},
};
enum { N_COMMON = sizeof common_options / sizeof common_options[0] };

static const cli_option *find_long(const cli_command *cmd, const char *name, size_t len)
{
    for (size_t i = 0; i < cmd->n_options; i++)
        if ((strlen(cmd->options[i].name) == len && strncmp(cmd->options[i].name, name, len) == 0) ||
            (cmd->options[i].alias && strlen(cmd->options[i].alias) == len &&
             strncmp(cmd->options[i].alias, name, len) == 0))
            return &cmd->options[i];
    for (size_t i = 0; i < N_COMMON; i++)
        if (strlen(common_options[i].name) == len && strncmp(common_options[i].name, name, len) == 0)
            return &common_options[i];
    return NULL;
}

static const cli_option *find_short(const cli_command *cmd, char c)
{
    for (size_t i = 0; i < cmd->n_options; i++)
        if (cmd->options[i].short_name == c)
            return &cmd->options[i];
    for (size_t i = 0; i < N_COMMON; i++)
        if (common_options[i].short_name == c)
            return &common_options[i];
    return NULL;
}

static ncmp_status unknown_option(const cli_command *cmd, const char *arg, ncmp_error *err)
{
    const char *names[128];
    size_t n = 0;
    for (size_t i = 0; i < cmd->n_options && n < 120; i++)
        names[n++] = cmd->options[i].name;
    for (size_t i = 0; i < N_COMMON; i++)
        names[n++] = common_options[i].name;
    const char *word = arg;
    while (*word == '-')
        word++;
    char stem[128];
    snprintf(stem, sizeof stem, "%s", word);
    char *eq = strchr(stem, '=');
    if (eq)
        *eq = '\0';
    const char *guess = cli_suggest(stem, names, n);
    if (guess)
        return ncmp_fail(err, NCMP_ERR_USAGE, "unknown option '%s' for 'neurocmp %s'; did you mean '--%s'?", arg,
                         cmd->name, guess);
    return ncmp_fail(err, NCMP_ERR_USAGE, "unknown option '%s' for 'neurocmp %s' (see 'neurocmp %s --help')", arg,
                     cmd->name, cmd->name);
}

static ncmp_status set_value(const cli_option *opt, const char *value, ncmp_error *err)
{
    char *end = NULL;
    errno = 0;
    switch (opt->kind) {
    case CLI_FLAG:
        *(bool *)opt->target = true;
        return NCMP_OK;
    case CLI_STRING:
        *(const char **)opt->target = value;
        return NCMP_OK;
    case CLI_INT: {
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end)
            return ncmp_fail(err, NCMP_ERR_USAGE, "option --%s expects an integer, got '%s'", opt->name, value);
        *(long *)opt->target = v;
        return NCMP_OK;
    }
    case CLI_DOUBLE: {
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v))
            return ncmp_fail(err, NCMP_ERR_USAGE, "option --%s expects a number, got '%s'", opt->name, value);
        *(double *)opt->target = v;
        return NCMP_OK;
    }
    }
    return ncmp_fail(err, NCMP_ERR_INTERNAL, "bad option kind");
}

/* Required options given, outputs not in the way (cli_parse). */
static ncmp_status check_prologue(const cli_command *cmd, ncmp_error *err)
{
    char missing[1024] = "";
    size_t len = 0, n_missing = 0;
    for (size_t i = 0; i < cmd->n_options; i++) {
        const cli_option *o = &cmd->options[i];
        if (!o->required)
            continue;
        if (*(const char **)o->target || len + 80 >= sizeof missing)
            continue;
        len += (size_t)snprintf(missing + len, sizeof missing - len, "%s--%s %s", n_missing ? ", " : "", o->name,
                                o->metavar ? o->metavar : "VALUE");
        n_missing++;
    }
    if (n_missing)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s needs %s (see 'neurocmp %s --help')", cmd->name, missing, cmd->name);
    bool force = false;
    for (size_t i = 0; i < cmd->n_options; i++)
        if (cmd->options[i].kind == CLI_FLAG && !strcmp(cmd->options[i].name, "force"))
            force = *(const bool *)cmd->options[i].target;
    struct stat sb;
    for (size_t i = 0; !force && i < cmd->n_options; i++) {
        const cli_option *o = &cmd->options[i];
        const char *path = o->output && o->kind == CLI_STRING ? *(const char **)o->target : NULL;
        if (path && stat(path, &sb) == 0)
            return ncmp_fail(err, NCMP_ERR_EXISTS, "'%s' exists; use --force to replace it", path);
    }
    return NCMP_OK;
}

void cli_printf(const char *fmt, ...)
{
    if (ncmp_log_get_level() < NCMP_LOG_INFO)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

ncmp_status cli_parse(const cli_command *cmd, int argc, char **argv, cli_parsed *out, ncmp_error *err)
{
    memset(out, 0, sizeof *out);
    common_quiet = common_verbose = common_help = false;
    out->positional = calloc((size_t)(argc > 0 ? argc : 1), sizeof(char *));
    if (!out->positional)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            out->positional[out->n_positional++] = argv[i];
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        const cli_option *opt;
        const char *inline_value = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            opt = find_long(cmd, name, len);
            if (eq)
                inline_value = eq + 1;
        } else {
            if (arg[2] != '\0') /* -abc is not supported: it is more often a typo for --abc */
                return unknown_option(cmd, arg, err);
            opt = find_short(cmd, arg[1]);
        }
        if (!opt)
            return unknown_option(cmd, arg, err);
        if (opt->kind == CLI_FLAG) {
            if (inline_value)
                return ncmp_fail(err, NCMP_ERR_USAGE, "option --%s takes no value", opt->name);
            set_value(opt, NULL, err);
            continue;
        }
        const char *value = inline_value;
        if (!value) {
            if (i + 1 >= argc)
                return ncmp_fail(err, NCMP_ERR_USAGE, "option --%s needs a value (%s)", opt->name,
                                 opt->metavar ? opt->metavar : "VALUE");
            value = argv[++i];
        }
        ncmp_status st = set_value(opt, value, err);
        if (st)
            return st;
    }
    if (common_verbose)
        ncmp_log_set_level(NCMP_LOG_DEBUG);
    if (common_quiet)
        ncmp_log_set_level(NCMP_LOG_QUIET);
    out->help = common_help;
    if (out->help)
        return NCMP_OK;
    if (out->n_positional < cmd->min_positional)
        return ncmp_fail(err, NCMP_ERR_USAGE, "'neurocmp %s' needs %s (see 'neurocmp %s --help')", cmd->name,
                         cmd->usage && cmd->usage[0] ? cmd->usage : "more arguments", cmd->name);
    if (cmd->max_positional >= 0 && out->n_positional > cmd->max_positional)
        return ncmp_fail(err, NCMP_ERR_USAGE, "'neurocmp %s' got an unexpected argument '%s'", cmd->name,
                         out->positional[cmd->max_positional]);
    return check_prologue(cmd, err);
}

void cli_parsed_free(cli_parsed *p)
{
    free(p->positional);
    p->positional = NULL;
}

static void print_option(const cli_option *o, FILE *s)
{
    char left[96];
    if (o->kind == CLI_FLAG)
        snprintf(left, sizeof left, "%s%c%s--%s", o->short_name ? "-" : "", o->short_name ? o->short_name : ' ',
                 o->short_name ? ", " : "  ", o->name);
    else
        snprintf(left, sizeof left, "%s%c%s--%s %s", o->short_name ? "-" : "", o->short_name ? o->short_name : ' ',
                 o->short_name ? ", " : "  ", o->name, o->metavar ? o->metavar : "VALUE");
    char def[160] = "";
    switch (o->kind) {
    case CLI_FLAG:
        break;
    case CLI_STRING: {
        const char *v = *(const char **)o->target;
        snprintf(def, sizeof def, " [default: %s]", v ? v : "none");
        break;
    }
    case CLI_INT:
        snprintf(def, sizeof def, " [default: %ld]", *(long *)o->target);
        break;
    case CLI_DOUBLE:
        snprintf(def, sizeof def, " [default: %g]", *(double *)o->target);
        break;
    }
    if (o->required)
        snprintf(def, sizeof def, " (required)");
    char alias[80] = "";
    if (o->alias)
        snprintf(alias, sizeof alias, " (also --%s)", o->alias);
    fprintf(s, "  %-28s %s%s%s\n", left, o->help, alias, def);
}

void cli_print_help(const cli_command *cmd, FILE *s)
{
    fprintf(s, "usage: neurocmp %s [options]%s%s\n\n", cmd->name, cmd->usage && cmd->usage[0] ? " " : "",
            cmd->usage ? cmd->usage : "");
    fprintf(s, "%s\n", cmd->summary);
    if (cmd->description && cmd->description[0])
        fprintf(s, "\n%s\n", cmd->description);
    fprintf(s, "\noptions:\n");
    for (size_t i = 0; i < cmd->n_options; i++)
        print_option(&cmd->options[i], s);
    for (size_t i = 0; i < N_COMMON; i++)
        print_option(&common_options[i], s);
}

ncmp_status cli_parse_time_window(const char *text, bool allow_none, double *start, double *end_ms, ncmp_error *err)
{
    *start = *end_ms = NAN;
    if (allow_none && !strcmp(text, "none"))
        return NCMP_OK;
    char *end;
    *start = strtod(text, &end);
    if (end == text || *end != ':')
        return ncmp_fail(err, NCMP_ERR_USAGE, "--time-window '%s': expected START:END in ms, e.g. 70:170%s", text,
                         allow_none ? ", or none" : "");
    const char *second = end + 1;
    *end_ms = strtod(second, &end);
    if (end == second || *end || !isfinite(*start) || !isfinite(*end_ms) || *end_ms <= *start)
        return ncmp_fail(err, NCMP_ERR_USAGE, "--time-window '%s': expected START:END in ms with START < END", text);
    return NCMP_OK;
}
