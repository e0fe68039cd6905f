/* replicator dump: the source records as this program reads them, one JSON
** object a line, with the decoded message set when the payload is one. */
#include "commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "msgset.h"
#include "store.h"
#include "util.h"

/* The options of dump. */
static void
dump_usage(FILE *out)
{
    fprintf(out,
            "usage: replicator dump --store DIR [--from N] [--count N] "
            "[--v1-no-hash]\n"
            "                      [--log-level LEVEL]\n"
            "  --store DIR     the Lokad.CQRS store folder (*.dat files)\n"
            "  --from N        start after store version N (default 0)\n"
            "  --count N       print at most N records\n"
            "  --v1-no-hash    V1 files: accept frames without checking "
            "their hash,\n"
            "                  as the .NET V1 file reader does\n"
            "  --log-level L   error, warn, info (default) or debug; corrupt "
            "frames\n"
            "                  are reported as warnings\n"
            "One JSON object a line: storeVersion, streamVersion, key, stamp, "
            "file,\noffset, data (base64), and attributes and messages when "
            "the payload is\na message set.\n");
}

/* Parse a non-negative decimal integer.  Returns 0 or -1. */
/* A JSON string of bytes that may not be valid UTF-8 (a file name): bad
** bytes become U+FFFD. */
static int
add_lossy_string(struct rp_buf *b, const char *s, size_t n)
{
    struct rp_buf tmp;
    size_t bad;
    int rc;

    if (rp_utf8_valid(s, n, NULL))
        return rp_json_add_string(b, s, n);
    rp_buf_init(&tmp, 0);
    while (n > 0) {
        if (rp_utf8_valid(s, n, &bad))
            bad = n;
        rp_buf_add(&tmp, s, bad);
        if (bad < n) {
            rp_buf_adds(&tmp, "\xef\xbf\xbd");
            bad++;
        }
        s += bad;
        n -= bad;
    }
    rc = rp_json_add_string(b, tmp.data ? tmp.data : "", tmp.len);
    rp_buf_dispose(&tmp);
    return rc;
}

/* Append the JSON line of one record (without the newline). */
static int
format_record(struct rp_buf *b, const struct rp_record *rec,
              struct rp_msgset *ms)
{
    int rc = 0;

    rc |= rp_buf_adds(b, "{\"storeVersion\":");
    rc |= rp_buf_add_u64(b, rec->store_version);
    rc |= rp_buf_adds(b, ",\"streamVersion\":");
    rc |= rp_buf_add_u64(b, rec->stream_version);
    rc |= rp_buf_adds(b, ",\"key\":");
    rc |= rp_json_add_string(b, rec->key, rec->key_len);
    rc |= rp_buf_adds(b, ",\"stamp\":");
    if (rec->stamp < 0)
        rc |= rp_buf_addc(b, '-');
    rc |= rp_buf_add_u64(b, rec->stamp < 0 ? 0 - (uint64_t)rec->stamp
                                           : (uint64_t)rec->stamp);
    rc |= rp_buf_adds(b, ",\"file\":");
    rc |= add_lossy_string(b, rec->file, strlen(rec->file));
    rc |= rp_buf_adds(b, ",\"offset\":");
    rc |= rp_buf_add_u64(b, rec->offset);
    rc |= rp_buf_adds(b, ",\"data\":\"");
    rc |= rp_base64_encode(b, rec->data, rec->data_len);
    rc |= rp_buf_addc(b, '"');
    if (rp_msgset_decode(ms, rec->data, rec->data_len, NULL) == 0) {
        rc |= rp_buf_adds(b, ",\"attributes\":{");
        for (size_t i = 0; i < ms->attr_count; i++) {
            const struct rp_attr *a = &ms->attrs[i];

            if (i > 0)
                rc |= rp_buf_addc(b, ',');
            rc |= rp_json_add_string(b, a->key, a->key_len);
            rc |= rp_buf_addc(b, ':');
            rc |= rp_json_add_string(b, a->value, a->value_len);
        }
        rc |= rp_buf_adds(b, "},\"messages\":[");
        for (size_t i = 0; i < ms->msg_count; i++) {
            const struct rp_msg *m = &ms->msgs[i];

            rc |= rp_buf_adds(b, i > 0 ? ",{\"contract\":" : "{\"contract\":");
            rc |= rp_json_add_string(b, m->contract, m->contract_len);
            if (rp_utf8_valid(m->body, m->body_len, NULL)) {
                rc |= rp_buf_adds(b, ",\"body\":");
                rc |= rp_json_add_string(b, (const char *)m->body, m->body_len);
            } else {
                rc |= rp_buf_adds(b, ",\"bodyBase64\":\"");
                rc |= rp_base64_encode(b, m->body, m->body_len);
                rc |= rp_buf_addc(b, '"');
            }
            rc |= rp_buf_addc(b, '}');
        }
        rc |= rp_buf_addc(b, ']');
    }
    rc |= rp_buf_adds(b, "}\n");
    return rc ? RP_ELIMIT : 0;
}

int
rp_cmd_dump(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t from = 0, count = UINT64_MAX, n = 0;
    int options = 0, status = 1, rc = 0;
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    struct rp_msgset ms;
    struct rp_buf line;
    char file[256];
    uint64_t off;

    rp_msgset_init(&ms);
    rp_buf_init(&line, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        const char *eq = strchr(a, '=');
        char name[32];

        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            dump_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--v1-no-hash")) {
            options |= RP_STORE_V1_NO_HASH;
            continue;
        }
        snprintf(name, sizeof(name), "%.*s",
                 eq && a[0] == '-' ? (int)(eq - a) : (int)strlen(a), a);
        if (strcmp(name, "--store") && strcmp(name, "--from") &&
            strcmp(name, "--count") && strcmp(name, "--log-level")) {
            fprintf(stderr, "replicator: dump: unknown option '%s'\n", a);
            dump_usage(stderr);
            return 2;
        }
        if (eq && a[0] == '-')
            v = eq + 1;
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            fprintf(stderr, "replicator: dump: %s needs a value\n", name);
            dump_usage(stderr);
            return 2;
        }
        if (!strcmp(name, "--store")) {
            dir = v;
        } else if (!strcmp(name, "--log-level")) {
            enum rp_log_level level;

            if (rp_log_parse_level(v, &level) < 0) {
                fprintf(stderr,
                        "replicator: dump: --log-level needs error, warn, "
                        "info or debug, not '%s'\n",
                        v);
                dump_usage(stderr);
                return 2;
            }
            rp_log_set_level(level);
        } else if (rp_parse_u64(v, !strcmp(name, "--from") ? &from : &count,
                                NULL) < 0) {
            fprintf(stderr,
                    "replicator: dump: %s needs a non-negative integer, "
                    "not '%s'\n",
                    name, v);
            dump_usage(stderr);
            return 2;
        }
    }
    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "replicator: dump: --store DIR is required\n");
        dump_usage(stderr);
        return 2;
    }
    if (rp_store_open(&st, dir, &err) < 0) {
        fprintf(stderr, "replicator: dump: %s\n", err.msg);
        goto done;
    }
    rp_store_set_options(st, options);
    setvbuf(stdout, NULL, _IOFBF, (size_t)1 << 20);
    if (rp_store_file_count(st) == 0) {
        fprintf(stderr,
                "replicator: dump: store folder %s holds no store (no .dat "
                "files)\n",
                dir);
        goto done;
    }
    if (from > 0 && (rc = rp_store_skip(st, from, &err)) < 0) {
        fprintf(stderr, "replicator: dump: %s\n", err.msg);
        goto done;
    }
    while (n < count && (rc = rp_store_next(st, &rec, &err)) == 1) {
        rp_buf_reset(&line);
        if (format_record(&line, &rec, &ms) < 0) {
            fprintf(stderr,
                    "replicator: dump: store version %" PRIu64
                    ": record too large to print\n",
                    rec.store_version);
            goto done;
        }
        if (fwrite(line.data, 1, line.len, stdout) != line.len)
            break;
        n++;
    }
    if (n < count && rc < 0) {
        fprintf(stderr, "replicator: dump: %s\n", err.msg);
        goto done;
    }
    if (n < count && rp_store_pending(st, file, &off))
        rp_log(RP_LOG_WARN,
               "store %s: file %s offset %" PRIu64
               ": the newest file ends inside a frame (a write in progress, "
               "or torn): not read, as .NET would not",
               dir, file, off);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE)
            fprintf(stderr, "replicator: dump: write: %s\n", strerror(errno));
        goto done;
    }
    status = 0;
done:
    rp_store_close(st);
    rp_msgset_dispose(&ms);
    rp_buf_dispose(&line);
    return status;
}
