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

#include "json.h"
#include "log.h"
#include "msgset.h"
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

/* Reusable buffers for one line's payload. */
struct line_state {
    struct rp_buf data;   /* the payload bytes */
    struct rp_buf bodies; /* decoded base64 bodies, back to back */
    struct rp_msgset ms;  /* the message set to encode */
};

/* Build the payload of line 'v' into st->data.  Returns 0, or -1 with the
** reason in 'why' (at least 256 bytes). */
static int
line_payload(struct line_state *st, const struct rp_json *root, char *why,
             size_t why_len)
{
    const struct rp_json *data = rp_json_get(root, "data");
    const struct rp_json *msgs = rp_json_get(root, "messages");
    const struct rp_json *attrs = rp_json_get(root, "attributes");
    struct rp_error err = {0};
    size_t *offs = NULL, k = 0;
    int rc = -1;

    rp_buf_reset(&st->data);
    if (data != NULL) {
        if (data->type != RP_JSON_STRING) {
            snprintf(why, why_len, "\"data\" must be a base64 string");
            return -1;
        }
        if (rp_base64_decode(&st->data, data->str, data->len, &err) < 0) {
            snprintf(why, why_len, "\"data\": %.400s", err.msg);
            return -1;
        }
        return 0;
    }
    if (msgs == NULL) {
        snprintf(why, why_len, "needs \"data\" or \"messages\"");
        return -1;
    }
    if (msgs->type != RP_JSON_ARRAY) {
        snprintf(why, why_len, "\"messages\" must be an array");
        return -1;
    }
    if (attrs != NULL && attrs->type != RP_JSON_OBJECT) {
        snprintf(why, why_len, "\"attributes\" must be an object");
        return -1;
    }
    rp_msgset_reset(&st->ms);
    rp_buf_reset(&st->bodies);
    for (const struct rp_json *a = attrs ? attrs->child : NULL; a;
         a = a->next) {
        if (a->type != RP_JSON_STRING) {
            snprintf(why, why_len, "attribute \"%.64s\" must be a string",
                     a->key);
            return -1;
        }
        rp_msgset_add_attr(&st->ms, a->key, a->key_len, a->str, a->len);
    }
    /* Bodies in base64 are decoded into one buffer, which may move while
    ** it grows: keep their offsets (SIZE_MAX for text bodies), point at
    ** them once all are decoded. */
    offs = rp_xcalloc(msgs->len + 1, sizeof(*offs));
    for (const struct rp_json *m = msgs->child; m; m = m->next, k++) {
        const struct rp_json *c = rp_json_get(m, "contract");
        const struct rp_json *b = rp_json_get(m, "body");
        const struct rp_json *b64 = rp_json_get(m, "bodyBase64");

        if (m->type != RP_JSON_OBJECT) {
            snprintf(why, why_len, "message %zu must be an object", k);
            goto done;
        }
        if (c == NULL || c->type != RP_JSON_STRING || c->len == 0) {
            snprintf(why, why_len,
                     "message %zu: \"contract\" must be a non-empty string", k);
            goto done;
        }
        if (b != NULL && b->type == RP_JSON_STRING) {
            offs[k] = SIZE_MAX;
            rp_msgset_add_msg(&st->ms, c->str, c->len,
                              (const unsigned char *)b->str, b->len);
        } else if (b == NULL && b64 != NULL && b64->type == RP_JSON_STRING) {
            size_t at = st->bodies.len;

            if (rp_base64_decode(&st->bodies, b64->str, b64->len, &err) < 0) {
                snprintf(why, why_len, "message %zu: \"bodyBase64\": %.400s", k,
                         err.msg);
                goto done;
            }
            offs[k] = at;
            rp_msgset_add_msg(&st->ms, c->str, c->len, NULL,
                              st->bodies.len - at);
        } else {
            snprintf(why, why_len,
                     "message %zu: needs \"body\" (a string) or "
                     "\"bodyBase64\"",
                     k);
            goto done;
        }
    }
    for (size_t i = 0; i < k; i++)
        if (offs[i] != SIZE_MAX)
            st->ms.msgs[i].body =
                (const unsigned char *)st->bodies.data + offs[i];
    if (rp_msgset_encode(&st->data, &st->ms) < 0) {
        snprintf(why, why_len, "message set too large");
        goto done;
    }
    rc = 0;
done:
    free(offs);
    return rc;
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
    struct line_state ls;
    FILE *in = NULL;
    char *text = NULL, name[256], why[512];
    size_t cap = 0;
    uint64_t lineno = 0, existing;
    int status = 1, rc;

    rp_buf_init(&ls.data, 0);
    rp_buf_init(&ls.bodies, 0);
    rp_msgset_init(&ls.ms);
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
        struct rp_json_doc *doc = NULL;
        const struct rp_json *root, *key;
        uint64_t count;
        size_t i;

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
        for (i = 0;
             i < (size_t)len && text[i] != '\0' && strchr(" \t\r\n", text[i]);
             i++)
            ;
        if (i == (size_t)len)
            continue; /* a blank line */
        if (rp_json_parse(&doc, text, (size_t)len, &err) < 0) {
            fprintf(stderr, "replicator: import: %s line %" PRIu64 ": %s\n",
                    input, lineno, err.msg);
            goto done;
        }
        root = rp_json_root(doc);
        key = rp_json_get(root, "key");
        why[0] = '\0';
        if (root->type != RP_JSON_OBJECT)
            snprintf(why, sizeof(why), "not a JSON object");
        else if (key == NULL)
            snprintf(why, sizeof(why), "no \"key\"");
        else if (key->type != RP_JSON_STRING)
            snprintf(why, sizeof(why), "\"key\" must be a string");
        else if (!rp_utf8_valid(key->str, key->len, NULL))
            snprintf(why, sizeof(why), "\"key\" is not valid UTF-8");
        else
            line_payload(&ls, root, why, sizeof(why));
        if (why[0] == '\0') {
            count = rp_store_stream_version(st, key->str, key->len) + 1;
            if (rp_storewrite_append(w, (int64_t)count, key->str, key->len,
                                     ls.data.data ? ls.data.data : "",
                                     ls.data.len, &err) < 0)
                snprintf(why, sizeof(why), "%.500s", err.msg);
            else
                rp_store_set_stream_version(st, key->str, key->len, count);
        }
        rp_json_free(doc);
        if (why[0] != '\0') {
            fprintf(stderr, "replicator: import: %s line %" PRIu64 ": %s\n",
                    input, lineno, why);
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
    rp_buf_dispose(&ls.data);
    rp_buf_dispose(&ls.bodies);
    rp_msgset_dispose(&ls.ms);
    return status;
}
