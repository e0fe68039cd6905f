/* replicator run: the daemon.  Reads the settings (script config table,
** then flags), the credentials (environment or a file, never flags), and
** hands over to the replication loop. */
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "pipeline.h"
#include "replicate.h"
#include "script.h"

/* Options of run itself; the settings go to struct rp_config. */
struct options {
    int until_caught_up; /* --until-caught-up */
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: replicator [run] --script FILE [--store DIR] "
            "[--target URL[,URL...]] [options]\n\n"
            "Keeps an EventStoreDB (or KurrentDB) in step with a Lokad.CQRS "
            "store: every\nrecord is converted by the script's convert() and "
            "its events appended over\nthe HTTP API, exactly once and in "
            "order, while the store grows.\n\n"
            "  --until-caught-up  exit 0 once every record of the store is "
            "acknowledged\n"
            "                     (an unreachable target is waited for, and "
            "reported)\n\n"
            "settings (flags override the script's config table):\n");
    rp_config_usage(out);
    fprintf(out,
            "\nExit status: 0 after --until-caught-up caught up or after "
            "SIGINT/SIGTERM\n(checkpoint saved); 1 when an error stopped the "
            "run; 2 on usage errors.\n");
}

/* run's own option --until-caught-up, and the refusal of credentials as
** flags (an rp_config_option_fn; 'ctx' is the struct options). */
static int
option(void *ctx, int argc, char **argv, int *i, struct rp_error *err)
{
    struct options *o = ctx;
    const char *a = argv[*i];

    (void)argc;
    if (strcmp(a, "--until-caught-up") == 0) {
        o->until_caught_up = 1;
        return 1;
    }
    if (strcmp(a, "--password") == 0 || strcmp(a, "--user") == 0)
        return rp_error_set(err, RP_EINVAL,
                            "credentials are never taken from flags: set "
                            "REPLICATOR_USER and REPLICATOR_PASSWORD, or "
                            "give --credentials FILE");
    return 0;
}

/* Credentials: the file named by --credentials ("user:password" on its
** first line), else REPLICATOR_USER / REPLICATOR_PASSWORD.  *user and
** *password are heap strings (NULL: anonymous). */
static int
credentials(const struct rp_config *cfg, char **user, char **password,
            struct rp_error *err)
{
    *user = *password = NULL;
    if (cfg->credentials != NULL) {
        struct rp_buf b;
        char *colon;
        size_t n;
        int rc;

        rp_buf_init(&b, 4096);
        rc = rp_read_file(&b, cfg->credentials, err);
        if (rc < 0) {
            rp_buf_dispose(&b);
            return rp_error_prefix(err, "--credentials");
        }
        n = b.data ? strcspn(b.data, "\r\n") : 0;
        colon = b.data ? memchr(b.data, ':', n) : NULL;
        if (colon == NULL || colon == b.data) {
            if (b.data != NULL)
                memset(b.data, 0, b.len);
            rp_buf_dispose(&b);
            return rp_error_set(err, RP_EINVAL,
                                "--credentials %s: the first line must be "
                                "user:password",
                                cfg->credentials);
        }
        *user = rp_xstrndup(b.data, (size_t)(colon - b.data));
        *password = rp_xstrndup(colon + 1, n - (size_t)(colon + 1 - b.data));
        memset(b.data, 0, b.len);
        rp_buf_dispose(&b);
        return 0;
    }
    {
        const char *u = getenv("REPLICATOR_USER");
        const char *p = getenv("REPLICATOR_PASSWORD");

        if (u != NULL && u[0] != '\0') {
            *user = rp_xstrdup(u);
            *password = rp_xstrdup(p ? p : "");
        }
    }
    return 0;
}

static void
wipe(char *s)
{
    if (s != NULL) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

int
rp_cmd_run(int argc, char **argv)
{
    struct options o;
    struct rp_config cfg;
    struct rp_error err = {0};
    struct rp_script *s = NULL;
    struct rp_pipeline *pipe = NULL;
    struct rp_replicate_options ro;
    char *user = NULL, *password = NULL;
    int status = 1, rc;

    memset(&o, 0, sizeof(o));
    rp_config_init(&cfg);
    rc = rp_config_start(&cfg, argc, argv, option, &o, usage, &err);
    if (rc != 0) {
        if (rc < 0)
            rp_log(RP_LOG_ERROR, "run: %s%s", err.msg,
                   rc == RP_ENOENT ? " (see replicator run --help)" : "");
        status = rc < 0 ? 2 : 0;
        goto done;
    }
    if (rp_script_new(&s, cfg.script, &cfg, &err) != 0 ||
        rp_script_read_config(s, &cfg, &err) != 0) {
        rp_log(RP_LOG_ERROR, "run: %s", err.msg);
        goto done;
    }
    if (rp_config_complete(&cfg, argc, argv, option, &o, &err) != 0) {
        rp_log(RP_LOG_ERROR, "run: %s", err.msg);
        status = 2;
        goto done;
    }
    rp_log_set_level((enum rp_log_level)cfg.log_level);
    if (cfg.target == NULL && cfg.gossip_seed == NULL) {
        rp_log(RP_LOG_ERROR,
               "run: no target: set config.target in %s or give --target URL",
               cfg.script);
        status = 2;
        goto done;
    }
    if (credentials(&cfg, &user, &password, &err) != 0) {
        rp_log(RP_LOG_ERROR, "run: %s", err.msg);
        status = 2;
        goto done;
    }
    rp_script_apply_config(s, &cfg);
    rc = rp_pipeline_new(&pipe, s, &cfg, &err);
    s = NULL; /* the pipeline's now */
    if (rc != 0) {
        rp_log(RP_LOG_ERROR, "run: %s", err.msg);
        goto done;
    }
    memset(&ro, 0, sizeof(ro));
    ro.cfg = &cfg;
    ro.targets = cfg.target;
    ro.gossip_seeds = cfg.gossip_seed;
    ro.max_in_flight = (size_t)cfg.max_in_flight;
    ro.username = user;
    ro.password = password;
    ro.cacert = cfg.cacert;
    ro.insecure = cfg.insecure_skip_tls_verify;
    ro.connect_timeout_ms = (long)cfg.connect_timeout_ms;
    ro.request_timeout_ms = (long)cfg.request_timeout_ms;
    ro.until_caught_up = o.until_caught_up;
    ro.progress = isatty(STDERR_FILENO) && rp_log_enabled(RP_LOG_INFO);
    if (cfg.insecure_skip_tls_verify)
        rp_log(RP_LOG_WARN, "TLS certificates of the target are not verified "
                            "(--insecure-skip-tls-verify)");
    switch (rp_replicate_run(pipe, &ro, &err)) {
    case 0:
        status = 0;
        break;
    case RP_EINVAL:
        status = 2;
        break;
    default:
        status = 1;
        break;
    }
done:
    wipe(user);
    wipe(password);
    rp_pipeline_free(pipe);
    rp_script_free(s);
    rp_config_dispose(&cfg);
    return status;
}
