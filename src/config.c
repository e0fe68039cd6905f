/* The settings table: one row per setting gives its name, type, range and
** help, so the config table, the flags and --help all read the same list. */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum kind {
    STRING,   /* char *, owned */
    BOOL,     /* int, 0 or 1 */
    NUMBER,   /* uint64_t within [min, max] */
    LEVEL,    /* int, an enum rp_log_level */
    PARTITION /* int, an enum rp_partition */
};

/* Where a setting may be given (struct setting's 'only'). */
#define FLAG_ONLY 1  /* on the command line, not in the config table */
#define TABLE_ONLY 2 /* in the config table, not on the command line */

struct setting {
    const char *name; /* as in the config table; the flag is --name with
                         '-' for '_' */
    enum kind kind;   /* how the value is parsed */
    size_t offset;    /* of the field in struct rp_config */
    uint64_t min;     /* NUMBER: smallest value */
    uint64_t max;     /* NUMBER: largest value */
    int only;         /* 0 (anywhere), FLAG_ONLY or TABLE_ONLY */
    const char *help; /* one line for --help */
};

#define FIELD(f) offsetof(struct rp_config, f)
#define MIB (1024u * 1024u)

static const struct setting settings[] = {
    {"script", STRING, FIELD(script), 0, 0, 1, "FILE  the Lua script"},
    {"store", STRING, FIELD(store), 0, 0, 0,
     "DIR  folder of the Lokad store to read"},
    {"target", STRING, FIELD(target), 0, 0, 0,
     "URL[,URL]  EventStoreDB base URL (http://host:2113; several: a "
     "cluster), or a gRPC connection string (kurrentdb://host:2113)"},
    {"source_id", STRING, FIELD(source_id), 0, 0, 0,
     "ID  source name in event ids and metadata (default: store folder name)"},
    {"source_metadata", BOOL, FIELD(source_metadata), 0, 0, 0,
     "add \"replicatedFrom\" to each event's metadata (default on)"},
    {"time_limit_ms", NUMBER, FIELD(time_limit_ms), 1, 86400000, 0,
     "MS  longest one convert() call may run (1000)"},
    {"memory_limit_mb", NUMBER, FIELD(memory_limit_mb), 1, 1u << 20, 0,
     "MB  most memory the script may use (256)"},
    {"max_event_bytes", NUMBER, FIELD(max_event_bytes), 1, 4 * MIB, 0,
     "N  most data + metadata bytes of one event (4194304)"},
    {"batch_events", NUMBER, FIELD(batch_events), 1, 100000, 0,
     "N  most events in one append request (500)"},
    {"batch_bytes", NUMBER, FIELD(batch_bytes), 1024, 64 * MIB, 0,
     "N  most bytes in one append request: the events' types, data and "
     "metadata, and 64 each for id and framing (1048576)"},
    {"poll_ms", NUMBER, FIELD(poll_ms), 1, 3600000, 0,
     "MS  how often a live store is checked for new records (500)"},
    {"checkpoint", STRING, FIELD(checkpoint), 0, 0, 0,
     "FILE  local checkpoint file"},
    {"checkpoint_max_count", NUMBER, FIELD(checkpoint_max_count), 0, 0x7FFFFFFF,
     0,
     "N  checkpoint events the target keeps ($maxCount of the checkpoint "
     "stream, set when a run creates it; 0: all) (10000)"},
    {"log_level", LEVEL, FIELD(log_level), 0, 0, 0,
     "LEVEL  error, warn, info or debug (info)"},
    {"max_in_flight", NUMBER, FIELD(max_in_flight), 1, 1024, 0,
     "N  requests out at once, one per stream (16)"},
    {"gossip_seed", STRING, FIELD(gossip_seed), 0, 0, 0,
     "URL[,URL]  cluster nodes to ask for the leader (GET /gossip)"},
    {"credentials", STRING, FIELD(credentials), 0, 0, 0,
     "FILE  'user:password' on one line (else env REPLICATOR_USER and "
     "REPLICATOR_PASSWORD)"},
    {"cacert", STRING, FIELD(cacert), 0, 0, 0,
     "FILE  CA certificates that verify an https target"},
    {"insecure_skip_tls_verify", BOOL, FIELD(insecure_skip_tls_verify), 0, 0, 0,
     "do not verify the target's TLS certificate (default: verify)"},
    {"connect_timeout_ms", NUMBER, FIELD(connect_timeout_ms), 1, 3600000, 0,
     "MS  connection set-up limit (5000)"},
    {"request_timeout_ms", NUMBER, FIELD(request_timeout_ms), 1, 3600000, 0,
     "MS  limit of one request (30000)"},
    {"workers", NUMBER, FIELD(workers), 1, 256, 0,
     "N  Lua states converting records at once, a thread each (1)"},
    {"partition", PARTITION, FIELD(partition), 0, 0, TABLE_ONLY,
     "MODE  none or key: what convert() keeps between records (the script "
     "says; see workers)"},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

void
rp_config_init(struct rp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->source_metadata = 1;
    cfg->time_limit_ms = 1000;
    cfg->memory_limit_mb = 256;
    cfg->max_event_bytes = 4 * MIB;
    cfg->batch_events = 500;
    cfg->batch_bytes = 1 * MIB;
    cfg->poll_ms = 500;
    cfg->checkpoint_max_count = 10000;
    cfg->log_level = RP_LOG_INFO;
    cfg->max_in_flight = 16;
    cfg->connect_timeout_ms = 5000;
    cfg->request_timeout_ms = 30000;
    cfg->workers = 1;
}

void
rp_config_dispose(struct rp_config *cfg)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].kind == STRING) {
            char **p = (char **)((char *)cfg + settings[i].offset);

            free(*p);
            *p = NULL;
        }
    }
}

static const struct setting *
find(const char *name, size_t len)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].name) == len &&
            memcmp(settings[i].name, name, len) == 0)
            return &settings[i];
    return NULL;
}

int
rp_config_known(const char *name)
{
    const struct setting *s = find(name, strlen(name));

    return s != NULL && s->only != FLAG_ONLY;
}

/* Parse 'value' into the field of 's'. */
static int
apply(struct rp_config *cfg, const struct setting *s, const char *value,
      const char *origin, struct rp_error *err)
{
    void *field = (char *)cfg + s->offset;
    uint64_t n;
    enum rp_log_level level;

    switch (s->kind) {
    case STRING:
        if (value[0] == '\0')
            return rp_error_set(err, RP_EINVAL, "%s: %s must not be empty",
                                origin, s->name);
        if (!rp_utf8_valid(value, strlen(value), NULL))
            return rp_error_set(err, RP_EINVAL, "%s: %s is not valid UTF-8",
                                origin, s->name);
        free(*(char **)field);
        *(char **)field = rp_xstrdup(value);
        return 0;
    case BOOL:
        if (strcmp(value, "true") == 0)
            *(int *)field = 1;
        else if (strcmp(value, "false") == 0)
            *(int *)field = 0;
        else
            return rp_error_set(err, RP_EINVAL,
                                "%s: %s must be true or false, not '%s'",
                                origin, s->name, value);
        return 0;
    case NUMBER:
        if (rp_parse_u64(value, &n, NULL) != 0 || n < s->min || n > s->max)
            return rp_error_set(err, RP_EINVAL,
                                "%s: %s must be a whole number from %llu "
                                "to %llu, not '%s'",
                                origin, s->name, (unsigned long long)s->min,
                                (unsigned long long)s->max, value);
        *(uint64_t *)field = n;
        return 0;
    case LEVEL:
        if (rp_log_parse_level(value, &level) != 0)
            return rp_error_set(err, RP_EINVAL,
                                "%s: %s must be error, warn, info or debug, "
                                "not '%s'",
                                origin, s->name, value);
        *(int *)field = (int)level;
        return 0;
    case PARTITION:
        if (strcmp(value, "none") == 0)
            *(int *)field = RP_PARTITION_NONE;
        else if (strcmp(value, "key") == 0)
            *(int *)field = RP_PARTITION_KEY;
        else
            return rp_error_set(err, RP_EINVAL,
                                "%s: %s must be \"none\" or \"key\", not "
                                "'%s'",
                                origin, s->name, value);
        return 0;
    }
    return 0;
}

int
rp_config_set(struct rp_config *cfg, const char *name, const char *value,
              const char *origin, struct rp_error *err)
{
    const struct setting *s = find(name, strlen(name));

    if (s == NULL)
        return rp_error_set(err, RP_ENOENT, "%s: unknown setting '%s'", origin,
                            name);
    return apply(cfg, s, value, origin, err);
}

int
rp_config_flag(struct rp_config *cfg, int argc, char **argv, int *i,
               struct rp_error *err)
{
    const char *arg = argv[*i], *value = NULL, *eq;
    char name[64];
    size_t len;
    int negated = 0;
    const struct setting *s;

    if (strncmp(arg, "--", 2) != 0)
        return 0;
    arg += 2;
    eq = strchr(arg, '=');
    len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (strncmp(arg, "no-", 3) == 0 && eq == NULL) {
        negated = 1;
        arg += 3;
        len -= 3;
    }
    if (len == 0 || len >= sizeof(name))
        return 0;
    for (size_t k = 0; k < len; k++)
        name[k] = arg[k] == '-' ? '_' : arg[k] == '_' ? '\0' : arg[k];
    name[len] = '\0';
    if (strlen(name) != len) /* underscores are not flag spelling */
        return 0;
    s = find(name, len);
    if (s == NULL || (negated && s->kind != BOOL))
        return 0;
    if (s->only == TABLE_ONLY)
        return rp_error_set(err, RP_EINVAL,
                            "--%s is not an option: the script states it "
                            "(config.%s in its config table)",
                            argv[*i] + 2, s->name);
    if (eq != NULL)
        value = eq + 1;
    else if (s->kind == BOOL)
        value = negated ? "false" : "true";
    else if (*i + 1 < argc)
        value = argv[++*i];
    else
        return rp_error_set(err, RP_EINVAL, "option --%s needs a value",
                            argv[*i] + 2);
    return apply(cfg, s, value, "command line", err) < 0 ? RP_EINVAL : 1;
}

int
rp_config_parse_args(struct rp_config *cfg, int argc, char **argv,
                     rp_config_option_fn option, void *ctx, int *help,
                     struct rp_error *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (help != NULL)
                *help = 1;
            continue;
        }
        rc = option != NULL ? option(ctx, argc, argv, &i, err) : 0;
        if (rc == 0)
            rc = rp_config_flag(cfg, argc, argv, &i, err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return rp_error_set(err, RP_EINVAL, "unknown option '%s'", a);
    }
    return 0;
}

int
rp_config_finish(struct rp_config *cfg, struct rp_error *err)
{
    const char *end, *start;

    if (cfg->workers > 1 && cfg->partition == RP_PARTITION_UNSET)
        return rp_error_set(
            err, RP_EINVAL,
            "workers = %llu, but the script %s does not say what convert() "
            "keeps from one record to the next: set partition = \"none\" "
            "in its config table when it keeps nothing (any record may go "
            "to any worker), or partition = \"key\" when it keeps state "
            "per store key (all records of a key go to one worker, in "
            "order); a script that keeps anything else needs workers = 1",
            (unsigned long long)cfg->workers, cfg->script ? cfg->script : "");
    if (cfg->source_id != NULL || cfg->store == NULL)
        return 0;
    end = cfg->store + strlen(cfg->store);
    while (end > cfg->store + 1 && end[-1] == '/')
        end--;
    start = end;
    while (start > cfg->store && start[-1] != '/')
        start--;
    if (start == end || (end - start == 1 && *start == '.') ||
        (end - start == 2 && start[0] == '.' && start[1] == '.'))
        return rp_error_set(err, RP_EINVAL,
                            "cannot name the source after store '%s': set "
                            "source_id",
                            cfg->store);
    cfg->source_id = rp_xstrndup(start, (size_t)(end - start));
    return 0;
}

int
rp_config_start(struct rp_config *cfg, int argc, char **argv,
                rp_config_option_fn option, void *ctx, void (*usage)(FILE *out),
                struct rp_error *err)
{
    int help = 0;
    int rc = rp_config_parse_args(cfg, argc, argv, option, ctx, &help, err);

    if (rc != 0)
        return rc;
    if (help) {
        usage(stdout);
        return 1;
    }
    if (cfg->script == NULL)
        return rp_error_set(err, RP_ENOENT, "--script FILE is required");
    return 0;
}

int
rp_config_complete(struct rp_config *cfg, int argc, char **argv,
                   rp_config_option_fn option, void *ctx, struct rp_error *err)
{
    int rc = rp_config_parse_args(cfg, argc, argv, option, ctx, NULL, err);

    if (rc == 0)
        rc = rp_config_finish(cfg, err);
    if (rc == 0 && cfg->store == NULL)
        rc = rp_error_set(err, RP_EINVAL,
                          "no store: set config.store in %s or give --store "
                          "DIR",
                          cfg->script);
    return rc;
}

void
rp_config_usage(FILE *out)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        const char *help = s->help, *sp = strstr(help, "  ");
        char left[96];
        size_t k = 0;

        /* "--name META" ("--[no-]name" for booleans); the help text
        ** starts with the metavariable and two spaces, if any. */
        k += (size_t)snprintf(left, sizeof(left), "%s",
                              s->only == TABLE_ONLY ? "config."
                              : s->kind == BOOL     ? "--[no-]"
                                                    : "--");
        for (size_t j = 0; s->name[j] != '\0' && k < sizeof(left) - 1; j++)
            left[k++] =
                s->name[j] == '_' && s->only != TABLE_ONLY ? '-' : s->name[j];
        left[k] = '\0';
        if (sp != NULL && s->kind != BOOL) {
            snprintf(left + k, sizeof(left) - k, " %.*s", (int)(sp - help),
                     help);
            help = sp + 2;
        }
        fprintf(out, "  %-31s %s\n", left, help);
    }
}
