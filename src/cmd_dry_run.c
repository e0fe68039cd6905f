/* replicator dry-run: read the store, convert each record with the script
** and print the events that replication would send, one JSON object a
** line, with data and metadata exactly as the request body carries them. */
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "event.h"
#include "json.h"
#include "log.h"
#include "pipeline.h"
#include "script.h"
#include "store.h"

/* Output is flushed when this much is buffered. */
#define FLUSH_BYTES (64 * 1024)

/* Options of dry-run itself; the settings go to struct rp_config. */
struct options {
    uint64_t from;  /* print records after this store version */
    uint64_t count; /* at most this many records (0: all) */
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: replicator dry-run --script FILE [--store DIR] "
            "[--from N] [--count N] [settings]\n\n"
            "Prints, one JSON object a line, each event the script makes of "
            "the store's\nrecords: storeVersion, index, stream, eventId, "
            "eventType, data, metadata.\n\n"
            "  --from N    start after store version N (default 0)\n"
            "  --count N   convert at most N records (default: all)\n\n"
            "Exit status: 0 done, 1 stopped on an error (script, store), 2 "
            "bad usage\nor settings.\n\n"
            "settings (flags override the script's config table):\n");
    rp_config_usage(out);
}

static int
parse_number(const char *flag, const char *text, uint64_t *out,
             struct rp_error *err)
{
    if (rp_parse_u64(text, out, NULL) != 0)
        return rp_error_set(err, RP_EINVAL, "%s needs a whole number, not '%s'",
                            flag, text);
    return 0;
}

/* dry-run's own options --from and --count (an rp_config_option_fn; 'ctx'
** is the struct options). */
static int
option(void *ctx, int argc, char **argv, int *i, struct rp_error *err)
{
    struct options *o = ctx;
    const char *a = argv[*i];
    int rc;

    if (strcmp(a, "--from") != 0 && strcmp(a, "--count") != 0)
        return 0;
    if (*i + 1 >= argc)
        return rp_error_set(err, RP_EINVAL, "%s needs a value", a);
    rc = parse_number(a, argv[++*i], a[2] == 'f' ? &o->from : &o->count, err);
    return rc < 0 ? rc : 1;
}

/* Append one output line for event 'ev' to 'out'. */
static void
add_line(struct rp_buf *out, const struct rp_event *ev)
{
    char id[37];

    rp_event_format_id(id, ev->id);
    rp_buf_adds(out, "{\"storeVersion\":");
    rp_buf_add_u64(out, ev->store_version);
    rp_buf_adds(out, ",\"index\":");
    rp_buf_add_u64(out, ev->index);
    rp_buf_adds(out, ",\"stream\":");
    rp_json_add_string(out, ev->stream, ev->stream_len);
    rp_buf_adds(out, ",\"eventId\":\"");
    rp_buf_add(out, id, 36);
    rp_buf_adds(out, "\",\"eventType\":");
    rp_json_add_string(out, ev->type, ev->type_len);
    rp_buf_adds(out, ",\"data\":");
    rp_buf_add(out, ev->data, ev->data_len);
    rp_buf_adds(out, ",\"metadata\":");
    if (ev->metadata != NULL)
        rp_buf_add(out, ev->metadata, ev->metadata_len);
    else
        rp_buf_adds(out, "null");
    rp_buf_adds(out, "}\n");
}

static int
flush(struct rp_buf *out)
{
    if (out->len > 0 && fwrite(out->data, 1, out->len, stdout) != out->len)
        return RP_EIO;
    rp_buf_reset(out);
    return 0;
}

/* Put records into the pipeline while it has room, up to the end of the
** store or of --count; *more is set to 0 there.  Returns 0 or the store's
** error. */
static int
feed(struct rp_pipeline *pipe, struct rp_store *st, const struct options *o,
     uint64_t *put, int *more, struct rp_error *err)
{
    struct rp_record rec;
    int rc;

    while (*more && rp_pipeline_room(pipe)) {
        if (o->count != 0 && *put >= o->count) {
            *more = 0;
            break;
        }
        rc = rp_store_next(st, &rec, err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            *more = 0;
            break;
        }
        if (rec.store_version <= o->from)
            continue;
        rp_pipeline_put(pipe, &rec);
        (*put)++;
    }
    if (!*more)
        rp_pipeline_flush(pipe);
    return 0;
}

int
rp_cmd_dry_run(int argc, char **argv)
{
    struct options o = {0, 0};
    struct rp_config cfg;
    struct rp_error err = {0};
    struct rp_script *s = NULL;
    struct rp_pipeline *pipe = NULL;
    struct rp_store *st = NULL;
    const struct rp_converted *c;
    struct rp_buf out;
    uint64_t put = 0;
    int status = 1, more = 1, store_failed = 0, rc;

    rp_config_init(&cfg);
    rp_buf_init(&out, 0);
    rc = rp_config_start(&cfg, argc, argv, option, &o, usage, &err);
    if (rc != 0) {
        if (rc < 0)
            rp_log(RP_LOG_ERROR, "dry-run: %s", err.msg);
        status = rc < 0 ? 2 : 0;
        goto done;
    }
    if (rp_script_new(&s, cfg.script, &cfg, &err) != 0) {
        rp_log(RP_LOG_ERROR, "dry-run: %s", err.msg);
        goto done;
    }
    if (rp_script_read_config(s, &cfg, &err) != 0) {
        rp_log(RP_LOG_ERROR, "dry-run: %s", err.msg);
        status = 2;
        goto done;
    }
    if (rp_config_complete(&cfg, argc, argv, option, &o, &err) != 0) {
        rp_log(RP_LOG_ERROR, "dry-run: %s", err.msg);
        status = 2;
        goto done;
    }
    rp_log_set_level((enum rp_log_level)cfg.log_level);
    rp_script_apply_config(s, &cfg);
    rc = rp_pipeline_new(&pipe, s, &cfg, &err);
    s = NULL; /* the pipeline's now */
    if (rc != 0) {
        rp_log(RP_LOG_ERROR, "dry-run: %s", err.msg);
        goto done;
    }
    if (rp_store_open(&st, cfg.store, &err) != 0) {
        rp_log(RP_LOG_ERROR, "dry-run: %s", err.msg);
        goto done;
    }
    /* Read ahead while there is room, print what is converted, and wait
    ** for the workers only when there is nothing else to do.  After a bad
    ** frame, what came before it is printed first. */
    for (;;) {
        rc = rp_pipeline_next(pipe, !more || !rp_pipeline_room(pipe), &c);
        if (rc > 0) {
            if (c->rc < 0) {
                flush(&out);
                rp_log(RP_LOG_ERROR, "dry-run: %s", c->error);
                goto done;
            }
            for (size_t i = 0; i < c->count; i++)
                add_line(&out, rp_pipeline_event(c, i));
            rp_pipeline_pop(pipe);
            if (out.len >= FLUSH_BYTES && flush(&out) != 0)
                goto write_failed;
            continue;
        }
        if (!more && rp_pipeline_pending(pipe) == 0)
            break;
        if (more && feed(pipe, st, &o, &put, &more, &err) != 0) {
            store_failed = 1;
            more = 0;
            rp_pipeline_flush(pipe);
        }
    }
    if (store_failed) {
        flush(&out);
        rp_log(RP_LOG_ERROR, "dry-run: %s", err.msg);
        goto done;
    }
    if (flush(&out) != 0 || fflush(stdout) != 0)
        goto write_failed;
    status = 0;
    goto done;
write_failed:
    rp_log(RP_LOG_ERROR, "dry-run: cannot write the output: %s",
           strerror(errno));
done:
    rp_pipeline_free(pipe);
    rp_store_close(st);
    rp_script_free(s);
    rp_buf_dispose(&out);
    rp_config_dispose(&cfg);
    return status;
}
