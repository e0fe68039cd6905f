/* Fuzz target: what a script's convert() returns, and its check and
** conversion into events.
**
** Input: a settings byte (bit 0: no source metadata; bit 1: events of at
** most 256 bytes), then a Lua expression.  The script returns that
** expression's value, evaluated with a fresh environment that holds
** rawjson, null (cjson.null), setmetatable, error, tostring and a few
** string functions; an expression that does not compile returns nil.  The
** record given to convert() has the expression as its payload.
**
** Promises checked: convert() either fails with a message naming the
** record, or gives events with a UTF-8 stream and type, data and metadata
** that are JSON, the source position in object metadata (unless switched
** off), sizes within the limit, and an HTTP request body that is JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atompub.h"
#include "config.h"
#include "event.h"
#include "fuzzutil.h"
#include "json.h"
#include "log.h"
#include "script.h"
#include "store.h"
#include "util.h"

static const char script_text[] =
    "-- The fuzz input is the expression convert() returns.\n"
    "local cjson = require \"cjson\"\n"
    "local function env()\n"
    "  return { rawjson = rawjson, null = cjson.null,\n"
    "           setmetatable = setmetatable, error = error,\n"
    "           tostring = tostring,\n"
    "           string = { rep = string.rep, char = string.char } }\n"
    "end\n"
    "function convert(record)\n"
    "  local chunk = load(\"return \" .. record.data, \"=result\", \"t\",\n"
    "                     env())\n"
    "  if chunk == nil then return nil end\n"
    "  return chunk()\n"
    "end\n";

static struct rp_script *script;
static struct rp_events *events;
static struct rp_config cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[512];
    struct rp_error err;

    (void)argc;
    (void)argv;
    rp_log_set_level(RP_LOG_ERROR);
    rp_fuzz_write("convert.lua", script_text, sizeof(script_text) - 1, "wb",
                  path);
    rp_config_init(&cfg);
    cfg.time_limit_ms = 50;
    cfg.memory_limit_mb = 64;
    if (rp_config_set(&cfg, "source_id", "fuzz", "fuzz", &err) < 0 ||
        rp_script_new(&script, path, &cfg, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    rp_events_new(&events);
    return 0;
}

/* Check the metadata of event 'i': a JSON object whose replicatedFrom
** names this source and record, or a string (a script's string metadata,
** which has no room for it). */
static void
check_source(const struct rp_event *ev, size_t i)
{
    struct rp_json_doc *doc = NULL;
    const struct rp_json *from;
    int64_t v;

    RP_FUZZ_CHECK(ev->metadata != NULL);
    RP_FUZZ_CHECK(rp_json_parse(&doc, ev->metadata, ev->metadata_len, NULL) ==
                  0);
    if (rp_json_root(doc)->type == RP_JSON_STRING) {
        rp_json_free(doc);
        return;
    }
    RP_FUZZ_CHECK(rp_json_root(doc)->type == RP_JSON_OBJECT);
    from = rp_json_get(rp_json_root(doc), "replicatedFrom");
    RP_FUZZ_CHECK(from != NULL && from->type == RP_JSON_OBJECT);
    RP_FUZZ_CHECK(rp_json_string(rp_json_get(from, "source")) != NULL &&
                  strcmp(rp_json_string(rp_json_get(from, "source")), "fuzz") ==
                      0);
    RP_FUZZ_CHECK(rp_json_int64(rp_json_get(from, "storeVersion"), &v) == 0 &&
                  v == 1);
    RP_FUZZ_CHECK(rp_json_int64(rp_json_get(from, "index"), &v) == 0 &&
                  v == (int64_t)i);
    rp_json_free(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_fuzz_in in = {data, size};
    unsigned set = rp_fuzz_byte(&in);
    struct rp_record rec;
    struct rp_error err;
    struct rp_buf body;
    int rc;

    cfg.source_metadata = (set & 1) == 0;
    cfg.max_event_bytes = set & 2 ? 256 : 4u << 20;
    rp_script_apply_config(script, &cfg);
    memset(&rec, 0, sizeof(rec));
    rec.store_version = 1;
    rec.stream_version = 1;
    rec.stamp = 1;
    rec.key = "fuzz:1";
    rec.key_len = 6;
    rec.data = in.p;
    rec.data_len = in.n;
    rec.file = "00000001-2013-03-15-093012.dat";
    rec.end = 100;
    rp_events_reset(events);
    err.msg[0] = '\0';
    rc = rp_script_convert(script, &rec, events, &err);
    if (rc < 0) {
        RP_FUZZ_CHECK(rp_events_count(events) == 0);
        RP_FUZZ_CHECK(strstr(err.msg, "store version 1, key 'fuzz:1'") != NULL);
        return 0;
    }
    rp_buf_init(&body, 0);
    for (size_t i = 0; i < rp_events_count(events); i++) {
        const struct rp_event *ev = rp_events_get(events, i);
        struct rp_sink_event se;

        RP_FUZZ_CHECK(ev->store_version == 1 && ev->index == i);
        RP_FUZZ_CHECK(ev->stream_len > 0 && ev->type_len > 0);
        RP_FUZZ_CHECK(rp_utf8_valid(ev->stream, ev->stream_len, NULL));
        RP_FUZZ_CHECK(rp_utf8_valid(ev->type, ev->type_len, NULL));
        RP_FUZZ_CHECK(rp_json_validate(ev->data, ev->data_len, NULL) == 0);
        if (ev->metadata != NULL)
            RP_FUZZ_CHECK(
                rp_json_validate(ev->metadata, ev->metadata_len, NULL) == 0);
        if (cfg.source_metadata)
            check_source(ev, i);
        RP_FUZZ_CHECK(ev->metadata_len <= cfg.max_event_bytes);
        memset(&se, 0, sizeof(se));
        se.id = ev->id;
        se.type = ev->type;
        se.type_len = ev->type_len;
        se.data = ev->data;
        se.data_len = ev->data_len;
        se.data_json = 1;
        se.metadata = ev->metadata;
        se.metadata_len = ev->metadata_len;
        rp_buf_reset(&body);
        RP_FUZZ_CHECK(rp_atompub_add_event(&body, &se) == 0);
        RP_FUZZ_CHECK(rp_json_validate(body.data, body.len, NULL) == 0);
    }
    rp_buf_dispose(&body);
    return 0;
}
