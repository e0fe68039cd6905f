/* replicator import: append JSON lines to a Lokad.CQRS store as the .NET
** writer does, all or nothing: one new data file per run. */
#include "commands.h"

#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "importline.h"
#include "log.h"
#include "store.h"
#include "storewrite.h"
#include "util.h"

/* The options of import. */
static void
import_usage(FILE *out)
{
    fprintf(out,
            "usage: replicator import --store DIR [--log-level L] [FILE]\n"
            "  --store DIR   the store folder (created when missing)\n"
            "  --log-level L error, warn, info (default) or debug\n"
            "  FILE          JSON lines to append (stdin when absent or -)\n"
            "Each line is {\"key\": K, \"data\": BASE64} or {\"key\": K, "
            "\"messages\":\n[{\"contract\": C, \"body\": TEXT}], "
            "\"attributes\": {NAME: TEXT}}.  A body may\nbe given as "
            "\"bodyBase64\" instead.  Nothing is written when a line is\n"
            "malformed.\n");
}

/* Set by SIGINT, SIGTERM and SIGHUP: the run stops and writes nothing. */
static volatile sig_atomic_t interrupted;

/* Remember the signal; the read loop notices it. */
static void
on_signal(int sig)
{
    interrupted = sig;
}

/* Catch the stop signals without SA_RESTART, so that a blocked read
** returns and the temporary file is removed on the way out. */
static void
catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* Make 'dir' when it does not exist (one level). */
static int
ensure_folder(const char *dir, struct rp_error *err)
{
    struct stat sb;

    if (stat(dir, &sb) == 0)
        return 0;
    if (errno != ENOENT || mkdir(dir, 0777) < 0)
        return rp_error_set(err, RP_EIO, "store folder %s: %s", dir,
                            strerror(errno));
    return 0;
}

int
rp_cmd_import(int argc, char **argv)
{
    const char *dir = NULL, *input = NULL;
    struct rp_store *st = NULL;
    struct rp_storewrite *w = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    struct rp_import_line line;
    FILE *in = NULL;
    char *text = NULL, name[256];
    size_t cap = 0;
    uint64_t lineno = 0, existing;
    int status = 1, rc;

    rp_import_line_init(&line);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            import_usage(stdout);
            status = 0;
            goto done;
        }
        if (!strncmp(a, "--store=", 8)) {
            dir = a + 8;
        } else if (!strcmp(a, "--store")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "replicator: import: --store needs a value\n");
                import_usage(stderr);
                status = 2;
                goto done;
            }
            dir = argv[++i];
        } else if (!strcmp(a, "--log-level") ||
                   !strncmp(a, "--log-level=", 12)) {
            const char *v = a[11] == '=' ? a + 12 : NULL;
            enum rp_log_level level;

            if (v == NULL && i + 1 < argc)
                v = argv[++i];
            if (v == NULL || rp_log_parse_level(v, &level) < 0) {
                fprintf(stderr, "replicator: import: --log-level needs "
                                "error, warn, info or debug\n");
                import_usage(stderr);
                status = 2;
                goto done;
            }
            rp_log_set_level(level);
        } else if ((a[0] != '-' || !strcmp(a, "-")) && input == NULL) {
            input = a;
        } else {
            fprintf(stderr, "replicator: import: unknown %s '%s'\n",
                    a[0] == '-' ? "option" : "argument", a);
            import_usage(stderr);
            status = 2;
            goto done;
        }
    }
    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "replicator: import: --store DIR is required\n");
        import_usage(stderr);
        status = 2;
        goto done;
    }
    if (input == NULL || !strcmp(input, "-")) {
        in = stdin;
        input = "stdin";
    } else if ((in = fopen(input, "rb")) == NULL) {
        fprintf(stderr, "replicator: import: %s: %s\n", input, strerror(errno));
        goto done;
    }
    /* The stamps continue each key's count: read the store once. */
    if (ensure_folder(dir, &err) < 0 || rp_store_open(&st, dir, &err) < 0) {
        fprintf(stderr, "replicator: import: %s\n", err.msg);
        goto done;
    }
    while ((rc = rp_store_next(st, &rec, &err)) == 1)
        ;
    if (rc < 0) {
        fprintf(stderr, "replicator: import: %s\n", err.msg);
        goto done;
    }
    {
        struct rp_store_pos pos;

        rp_store_get_pos(st, &pos);
        existing = pos.store_version;
    }
    catch_signals();
    if (rp_storewrite_open(&w, dir, existing, &err) < 0) {
        fprintf(stderr, "replicator: import: %s\n", err.msg);
        goto done;
    }
    for (;;) {
        ssize_t len = (errno = 0, getline(&text, &cap, in));
        uint64_t count;

        if (interrupted || (len < 0 && errno == EINTR)) {
            fprintf(stderr,
                    "replicator: import: interrupted at %s line %" PRIu64
                    ": nothing written\n",
                    input, lineno);
            goto done;
        }
        if (len < 0)
            break;
        lineno++;
        rc = rp_import_line_parse(&line, text, (size_t)len, &err);
        if (rc == 0)
            continue; /* a blank line */
        if (rc == 1) {
            count = rp_store_stream_version(st, line.key, line.key_len) + 1;
            rc = rp_storewrite_append(w, (int64_t)count, line.key, line.key_len,
                                      line.data, line.data_len, &err);
            if (rc == 0)
                rp_store_set_stream_version(st, line.key, line.key_len, count);
        }
        if (rc < 0) {
            fprintf(stderr, "replicator: import: %s line %" PRIu64 ": %.500s\n",
                    input, lineno, err.msg);
            goto done;
        }
    }
    if (interrupted) {
        fprintf(stderr, "replicator: import: interrupted: nothing written\n");
        goto done;
    }
    if (ferror(in)) {
        fprintf(stderr, "replicator: import: %s: read error\n", input);
        goto done;
    }
    if (rp_storewrite_commit(w, name, &err) < 0) {
        fprintf(stderr, "replicator: import: %s\n", err.msg);
        goto done;
    }
    if (name[0] == '\0')
        fprintf(stderr, "replicator: import: no records: nothing written\n");
    else
        fprintf(stderr,
                "replicator: import: %" PRIu64
                " records (store versions %" PRIu64 "-%" PRIu64
                ") written to %s/%s\n",
                rp_storewrite_count(w), existing + 1,
                existing + rp_storewrite_count(w), dir, name);
    status = 0;
done:
    rp_storewrite_free(w);
    rp_store_close(st);
    if (in != NULL && in != stdin)
        fclose(in);
    free(text);
    rp_import_line_dispose(&line);
    return status;
}
