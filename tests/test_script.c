/* Tests of the Lua bridge: the record given to convert(), the events taken
** back, the sandbox, require, the limits and every refusal. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "config.h"
#include "event.h"
#include "json.h"
#include "msgset.h"
#include "script.h"
#include "store.h"
#include "util.h"
#include "testutil.h"

static char dir[256];            /* per-test folder holding the script */
static char libdir[300];         /* stands for the shipped lua/ folder */
static char path[300];           /* the script */
static struct rp_config def_cfg; /* defaults, source id "src" */

static void
setup(void)
{
    rp_test_tmpdir(dir, sizeof(dir), "rp-script");
    snprintf(libdir, sizeof(libdir), "%s/lib", dir);
    ck_assert_int_eq(mkdir(libdir, 0700), 0);
    setenv("REPLICATOR_LUA_PATH", libdir, 1);
    snprintf(path, sizeof(path), "%s/s.lua", dir);
    rp_config_init(&def_cfg);
    def_cfg.source_id = rp_xstrdup("src");
}

static void
teardown(void)
{
    rp_config_dispose(&def_cfg);
    rp_test_rmtree(dir);
}

static void
write_file(const char *p, const char *text)
{
    rp_test_write_file(p, text, strlen(text), "wb");
}

/* lua_Writer into an rp_buf. */
static int
dump_writer(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    return rp_buf_add(ud, p, n);
}

/* Load 'text' as the script with settings 'cfg' (defaults when NULL). */
static int
load(struct rp_script **s, const char *text, const struct rp_config *cfg,
     struct rp_error *err)
{
    write_file(path, text);
    return rp_script_new(s, path, cfg ? cfg : &def_cfg, err);
}

/* A record whose payload is a message set of one attribute-less commit. */
struct fake {
    struct rp_record rec;
    struct rp_buf payload;
    struct rp_msgset ms;
};

static void
fake_commit(struct fake *f, uint64_t sv, const char *key, int nmsgs)
{
    static const char *const contracts[] = {"Lokad.SaaS/CustomerCreated",
                                            "Lokad.SaaS/CustomerRenamed"};
    static const char *const bodies[] = {"\r\n{\r\n\t\"Id\": 1\r\n}\r\n",
                                         "{\"Name\":\"x\"}"};

    memset(&f->rec, 0, sizeof(f->rec));
    rp_buf_init(&f->payload, 0);
    rp_msgset_init(&f->ms);
    for (int i = 0; i < nmsgs; i++)
        rp_msgset_add_msg(&f->ms, contracts[i % 2], strlen(contracts[i % 2]),
                          (const unsigned char *)bodies[i % 2],
                          strlen(bodies[i % 2]));
    ck_assert_int_eq(rp_msgset_encode(&f->payload, &f->ms), 0);
    f->rec.store_version = sv;
    f->rec.stream_version = 2;
    f->rec.key = key;
    f->rec.key_len = strlen(key);
    f->rec.data = (const unsigned char *)f->payload.data;
    f->rec.data_len = f->payload.len;
}

static void
fake_dispose(struct fake *f)
{
    rp_buf_dispose(&f->payload);
    rp_msgset_dispose(&f->ms);
}

/* Parse 'n' bytes of JSON text; the caller frees the document. */
static const struct rp_json *
parse(struct rp_json_doc **doc, const char *text, size_t n)
{
    struct rp_error err = {0};

    ck_assert_msg(rp_json_parse(doc, text, n, &err) == 0, "%s: %.*s", err.msg,
                  (int)n, text);
    return rp_json_root(*doc);
}

static int64_t
get_int(const struct rp_json *obj, const char *key)
{
    int64_t v = -1;

    ck_assert_int_eq(rp_json_int64(rp_json_get(obj, key), &v), 0);
    return v;
}

START_TEST(test_script_record_and_events)
{
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    struct rp_events *out;
    struct fake f;
    const struct rp_event *e;
    struct rp_json_doc *doc = NULL;
    const struct rp_json *root, *rf;

    ck_assert_int_eq(
        load(&s,
             "function convert(r)\n"
             "  local ev = {}\n"
             "  for i, m in ipairs(r.messages) do\n"
             "    ev[#ev + 1] = { stream = 'c-' .. r.key:match(':(.*)$'),\n"
             "      type = m.contract:match('[^/]+$'), data = m.body,\n"
             "      metadata = { n = i, sv = r.store_version,\n"
             "                   v = r.stream_version, len = #r.data } }\n"
             "  end\n"
             "  ev[#ev + 1] = { stream = 'all', type = 'Seen',\n"
             "    data = { key = r.key, count = #r.messages,\n"
             "             attrs = next(r.attributes) == nil } }\n"
             "  return ev\n"
             "end\n",
             NULL, &err),
        0);
    rp_events_new(&out);
    fake_commit(&f, 7, "customer:42", 2);
    ck_assert_msg(rp_script_convert(s, &f.rec, out, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(rp_events_count(out), 3);

    e = rp_events_get(out, 0);
    ck_assert_str_eq(e->stream, "c-42");
    ck_assert_str_eq(e->type, "CustomerCreated");
    ck_assert_uint_eq(e->store_version, 7);
    ck_assert_uint_eq(e->index, 0);
    /* A string is sent as a JSON string holding its bytes. */
    root = parse(&doc, e->data, e->data_len);
    ck_assert_int_eq(root->type, RP_JSON_STRING);
    ck_assert_str_eq(root->str, "\r\n{\r\n\t\"Id\": 1\r\n}\r\n");
    rp_json_free(doc);
    root = parse(&doc, e->metadata, e->metadata_len);
    ck_assert_int_eq(get_int(root, "n"), 1);
    ck_assert_int_eq(get_int(root, "sv"), 7);
    ck_assert_int_eq(get_int(root, "v"), 2);
    ck_assert_int_eq(get_int(root, "len"), (int64_t)f.payload.len);
    rf = rp_json_get(root, "replicatedFrom");
    ck_assert_ptr_nonnull(rf);
    ck_assert_str_eq(rp_json_string(rp_json_get(rf, "source")), "src");
    ck_assert_int_eq(get_int(rf, "storeVersion"), 7);
    ck_assert_int_eq(get_int(rf, "streamVersion"), 2);
    ck_assert_str_eq(rp_json_string(rp_json_get(rf, "key")), "customer:42");
    ck_assert_int_eq(get_int(rf, "index"), 0);
    rp_json_free(doc);

    e = rp_events_get(out, 1);
    ck_assert_str_eq(e->type, "CustomerRenamed");
    root = parse(&doc, e->metadata, e->metadata_len);
    ck_assert_int_eq(get_int(rp_json_get(root, "replicatedFrom"), "index"), 1);
    rp_json_free(doc);

    e = rp_events_get(out, 2);
    root = parse(&doc, e->data, e->data_len);
    ck_assert_str_eq(rp_json_string(rp_json_get(root, "key")), "customer:42");
    ck_assert_int_eq(get_int(root, "count"), 2);
    ck_assert_int_eq(rp_json_get(root, "attrs")->type, RP_JSON_TRUE);
    rp_json_free(doc);

    /* The list is appended to: a second record adds after the first. */
    fake_dispose(&f);
    fake_commit(&f, 8, "customer:43", 1);
    ck_assert_int_eq(rp_script_convert(s, &f.rec, out, &err), 0);
    ck_assert_uint_eq(rp_events_count(out), 5);
    ck_assert_str_eq(rp_events_get(out, 3)->stream, "c-43");
    fake_dispose(&f);
    rp_events_free(out);
    rp_script_free(s);
}
END_TEST

START_TEST(test_script_attributes_and_raw_records)
{
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    struct rp_events *out;
    struct fake f;
    struct rp_json_doc *doc = NULL;
    const struct rp_json *root;
    static const unsigned char junk[] = {0xff, 0x00, 0x01};

    ck_assert_int_eq(
        load(&s,
             "function convert(r)\n"
             "  if r.messages == nil then\n"
             "    return {{ stream = 'raw', type = 'Raw',\n"
             "      data = { n = #r.data, a = r.attributes == nil,\n"
             "               b = r.data:byte(1) } }}\n"
             "  end\n"
             "  return {{ stream = 'audit', type = 'Audit',\n"
             "    data = { id = r.attributes.id, utc = r.attributes.utc },\n"
             "    metadata = '{not json' }}\n"
             "end\n",
             NULL, &err),
        0);
    rp_events_new(&out);
    memset(&f, 0, sizeof(f));
    rp_buf_init(&f.payload, 0);
    rp_msgset_init(&f.ms);
    rp_msgset_add_attr(&f.ms, "id", 2, "a1b2", 4);
    rp_msgset_add_attr(&f.ms, "utc", 3, "2013-03-15T12:00:00.0000000Z", 28);
    rp_msgset_add_msg(&f.ms, "Lokad.SaaS/X", 12, (const unsigned char *)"{}",
                      2);
    ck_assert_int_eq(rp_msgset_encode(&f.payload, &f.ms), 0);
    f.rec.store_version = 1;
    f.rec.stream_version = 1;
    f.rec.key = "audit";
    f.rec.key_len = 5;
    f.rec.data = (const unsigned char *)f.payload.data;
    f.rec.data_len = f.payload.len;
    ck_assert_msg(rp_script_convert(s, &f.rec, out, &err) == 0, "%s", err.msg);
    root = parse(&doc, rp_events_get(out, 0)->data,
                 rp_events_get(out, 0)->data_len);
    ck_assert_str_eq(rp_json_string(rp_json_get(root, "id")), "a1b2");
    ck_assert_str_eq(rp_json_string(rp_json_get(root, "utc")),
                     "2013-03-15T12:00:00.0000000Z");
    rp_json_free(doc);
    /* A string metadata is sent as it is (a JSON string), no source. */
    root = parse(&doc, rp_events_get(out, 0)->metadata,
                 rp_events_get(out, 0)->metadata_len);
    ck_assert_int_eq(root->type, RP_JSON_STRING);
    ck_assert_str_eq(root->str, "{not json");
    rp_json_free(doc);

    f.rec.data = junk;
    f.rec.data_len = sizeof(junk);
    ck_assert_int_eq(rp_script_convert(s, &f.rec, out, &err), 0);
    root = parse(&doc, rp_events_get(out, 1)->data,
                 rp_events_get(out, 1)->data_len);
    ck_assert_int_eq(get_int(root, "n"), 3);
    ck_assert_int_eq(get_int(root, "b"), 255);
    ck_assert_int_eq(rp_json_get(root, "a")->type, RP_JSON_TRUE);
    rp_json_free(doc);
    fake_dispose(&f);
    rp_events_free(out);
    rp_script_free(s);
}
END_TEST

START_TEST(test_script_ids_deterministic)
{
    struct rp_script *a = NULL, *b = NULL;
    struct rp_config cfg;
    struct rp_error err = {0};
    struct rp_events *x, *y;
    struct fake f;
    unsigned char expect[16];
    struct rp_idgen g;
    const char *text = "function convert(r)\n"
                       "  return { { stream = 's', type = 'A', data = {} },\n"
                       "           { stream = 's', type = 'B', data = {} },\n"
                       "           { stream = 's', type = 'C', data = {},\n"
                       "             id = 'AAAAAAAA-bbbb-4ccc-8ddd-"
                       "eeeeeeeeeeee' } }\n"
                       "end\n";

    rp_config_init(&cfg);
    cfg.source_id = rp_xstrdup("tapes");
    ck_assert_int_eq(load(&a, text, &cfg, &err), 0);
    ck_assert_int_eq(load(&b, text, &cfg, &err), 0);
    rp_events_new(&x);
    rp_events_new(&y);
    fake_commit(&f, 11, "k", 1);
    ck_assert_int_eq(rp_script_convert(a, &f.rec, x, &err), 0);
    ck_assert_int_eq(rp_script_convert(b, &f.rec, y, &err), 0);
    /* Stable across instances, distinct within a record, as documented. */
    ck_assert_mem_eq(rp_events_get(x, 0)->id, rp_events_get(y, 0)->id, 16);
    ck_assert_mem_eq(rp_events_get(x, 1)->id, rp_events_get(y, 1)->id, 16);
    ck_assert_int_ne(
        memcmp(rp_events_get(x, 0)->id, rp_events_get(x, 1)->id, 16), 0);
    rp_idgen_init(&g, "tapes", 5);
    rp_idgen_make(&g, 11, 1, expect);
    ck_assert_mem_eq(rp_events_get(x, 1)->id, expect, 16);
    {
        char id[37];

        rp_event_format_id(id, rp_events_get(x, 2)->id);
        ck_assert_str_eq(id, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    }
    /* Another record, or another source, gives other ids. */
    f.rec.store_version = 12;
    ck_assert_int_eq(rp_script_convert(a, &f.rec, x, &err), 0);
    ck_assert_int_ne(
        memcmp(rp_events_get(x, 0)->id, rp_events_get(x, 3)->id, 16), 0);
    free(cfg.source_id);
    cfg.source_id = rp_xstrdup("other");
    rp_script_apply_config(b, &cfg);
    f.rec.store_version = 11;
    ck_assert_int_eq(rp_script_convert(b, &f.rec, y, &err), 0);
    ck_assert_int_ne(
        memcmp(rp_events_get(x, 0)->id, rp_events_get(y, 3)->id, 16), 0);
    fake_dispose(&f);
    rp_events_free(x);
    rp_events_free(y);
    rp_script_free(a);
    rp_script_free(b);
    rp_config_dispose(&cfg);
}
END_TEST

START_TEST(test_script_metadata_injection)
{
    struct rp_script *s = NULL;
    struct rp_config cfg;
    struct rp_error err = {0};
    struct rp_events *out;
    struct fake f;
    struct rp_json_doc *doc = NULL;
    const struct rp_json *root;
    const char *text =
        "function convert(r)\n"
        "  return { { stream = 's', type = 'A', data = {} },\n"
        "           { stream = 's', type = 'B', data = {}, metadata = {} },\n"
        "           { stream = 's', type = 'C', data = {},\n"
        "             metadata = rawjson(' { \"x\" : [1, 2] } ') } }\n"
        "end\n";

    rp_config_init(&cfg);
    cfg.source_id = rp_xstrdup("tapes");
    ck_assert_int_eq(load(&s, text, &cfg, &err), 0);
    rp_events_new(&out);
    fake_commit(&f, 3, "k:1", 1);
    ck_assert_msg(rp_script_convert(s, &f.rec, out, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < 3; i++) {
        const struct rp_event *e = rp_events_get(out, i);

        root = parse(&doc, e->metadata, e->metadata_len);
        ck_assert_int_eq(root->type, RP_JSON_OBJECT);
        ck_assert_int_eq(get_int(rp_json_get(root, "replicatedFrom"), "index"),
                         (int)i);
        if (i == 2)
            ck_assert_uint_eq(rp_json_get(root, "x")->len, 2);
        rp_json_free(doc);
    }
    /* Switched off: no metadata unless the script gives some. */
    cfg.source_metadata = 0;
    rp_script_apply_config(s, &cfg);
    rp_events_reset(out);
    ck_assert_int_eq(rp_script_convert(s, &f.rec, out, &err), 0);
    ck_assert_ptr_null(rp_events_get(out, 0)->metadata);
    root = parse(&doc, rp_events_get(out, 1)->metadata,
                 rp_events_get(out, 1)->metadata_len);
    ck_assert_uint_eq(root->len, 0);
    rp_json_free(doc);
    fake_dispose(&f);
    rp_events_free(out);
    rp_script_free(s);
    rp_config_dispose(&cfg);
}
END_TEST

/* Check the replicatedFrom of event 'i' of 'out'. */
static void
check_source(const struct rp_events *out, size_t i, const char *source, int sv,
             const char *key, int index)
{
    const struct rp_event *e = rp_events_get(out, i);
    struct rp_json_doc *doc = NULL;
    const struct rp_json *rf;

    rf = rp_json_get(parse(&doc, e->metadata, e->metadata_len),
                     "replicatedFrom");
    ck_assert_str_eq(rp_json_string(rp_json_get(rf, "source")), source);
    ck_assert_int_eq(get_int(rf, "storeVersion"), sv);
    ck_assert_int_eq(get_int(rf, "streamVersion"), 2);
    ck_assert_str_eq(rp_json_string(rp_json_get(rf, "key")), key);
    ck_assert_int_eq(get_int(rf, "index"), index);
    rp_json_free(doc);
}

START_TEST(test_script_metadata_per_record_and_source)
{
    /* replicatedFrom is built from parts kept per source and per record:
    ** each record, and a new source id, must show in the next events. */
    struct rp_script *s = NULL;
    struct rp_config cfg;
    struct rp_error err = {0};
    struct rp_events *out;
    struct fake f, g;
    const char *text = "function convert(r)\n"
                       "  local t = {}\n"
                       "  for i = 1, #r.key do\n"
                       "    t[i] = { stream = 's', type = 'A', data = {} }\n"
                       "  end\n"
                       "  return t\n"
                       "end\n";

    rp_config_init(&cfg);
    cfg.source_id = rp_xstrdup("tapes");
    ck_assert_int_eq(load(&s, text, &cfg, &err), 0);
    rp_events_new(&out);
    fake_commit(&f, 7, "k:1", 1);
    fake_commit(&g, 8, "a\"b", 1);
    ck_assert_int_eq(rp_script_convert(s, &f.rec, out, &err), 0);
    ck_assert_int_eq(rp_script_convert(s, &g.rec, out, &err), 0);
    ck_assert_uint_eq(rp_events_count(out), 6);
    check_source(out, 0, "tapes", 7, "k:1", 0);
    check_source(out, 2, "tapes", 7, "k:1", 2);
    check_source(out, 3, "tapes", 8, "a\"b", 0);
    check_source(out, 5, "tapes", 8, "a\"b", 2);
    free(cfg.source_id);
    cfg.source_id = rp_xstrdup("other \"one\"");
    rp_script_apply_config(s, &cfg);
    rp_events_reset(out);
    ck_assert_int_eq(rp_script_convert(s, &g.rec, out, &err), 0);
    ck_assert_int_eq(rp_script_convert(s, &f.rec, out, &err), 0);
    check_source(out, 1, "other \"one\"", 8, "a\"b", 1);
    check_source(out, 3, "other \"one\"", 7, "k:1", 0);
    fake_dispose(&f);
    fake_dispose(&g);
    rp_events_free(out);
    rp_script_free(s);
    rp_config_dispose(&cfg);
}
END_TEST

START_TEST(test_script_event_fields_from_index)
{
    /* Fields are read as the script would read them: a field the event
    ** table lacks comes from its __index, and only its own keys are
    ** checked against the field names. */
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    struct rp_events *out;
    struct fake f;
    const struct rp_event *e;
    const char *text =
        "local defaults = { type = 'T', data = 'd', id = "
        "'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' }\n"
        "function convert(r)\n"
        "  return { setmetatable({ stream = 's', data = 'own' },\n"
        "                        { __index = defaults }),\n"
        "           setmetatable({ stream = 's' }, { __index = function(t, k)\n"
        "             if k == 'type' then return 'F' end\n"
        "             if k == 'data' then return { x = 1 } end\n"
        "           end }) }\n"
        "end\n";

    ck_assert_int_eq(load(&s, text, &def_cfg, &err), 0);
    rp_events_new(&out);
    fake_commit(&f, 1, "k", 1);
    ck_assert_msg(rp_script_convert(s, &f.rec, out, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(rp_events_count(out), 2);
    e = rp_events_get(out, 0);
    ck_assert_str_eq(e->type, "T");
    ck_assert_str_eq(e->data, "\"own\"");
    ck_assert_uint_eq(e->id[0], 0xaa);
    e = rp_events_get(out, 1);
    ck_assert_str_eq(e->type, "F");
    ck_assert_str_eq(e->data, "{\"x\":1}");
    fake_dispose(&f);
    rp_events_free(out);
    rp_script_free(s);
}
END_TEST

START_TEST(test_script_table_data_as_cjson)
{
    /* Tables are written byte for byte as cjson.encode writes them, whether
    ** the bridge writes them itself (objects of strings, booleans, short
    ** integers) or leaves them to cjson (arrays, floats, null, long
    ** integers, deep nesting).  Event 2i carries the table, event 2i+1
    ** cjson's text of it as a string. */
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    struct rp_events *out;
    struct fake f;
    struct rp_json_doc *doc = NULL;
    const char *text =
        "local cjson = require 'cjson'\n"
        "local deep = { v = 1 }\n"
        "for i = 1, 40 do deep = { d = deep } end\n"
        "local shapes = {\n"
        "  { a = 'x', b = true, c = false, n = 7, m = -7, z = 0 },\n"
        "  { s = '/\\127\\1\\31\"\\\\\\b\\f\\n\\r\\t\\195\\169 <>&', e = {} "
        "},\n"
        "  { big = 99999999999999, neg = -99999999999999 },\n"
        "  { big = 100000000000000 }, { neg = -100000000000000 },\n"
        "  { f = 1.5 }, { f = 2.0 }, { i = math.maxinteger },\n"
        "  { f = -0.0, g = 0.0 }, { f = 99999999999999.0, g = -3.0 },\n"
        "  { f = 1e14 }, { f = -1e14 }, { f = 0.1, g = -2.5e-7, h = 1e300 },\n"
        "  { f = 2^53, g = 12345678901234567, h = 1/3, i = -1e15 },\n"
        "  cjson.decode('{\"a\":{\"b\":12}}'),\n"
        "  { 1, 2, 3 }, { x = { 1, 'a' } }, { [1] = 'a', k = 'b' },\n"
        "  { k = cjson.null }, {}, { o = { p = { q = 'r' } } }, deep,\n"
        "}\n"
        "function convert(r)\n"
        "  local t = {}\n"
        "  for i, v in ipairs(shapes) do\n"
        "    t[#t + 1] = { stream = 's', type = 'T', data = v,\n"
        "                  metadata = { k = v } }\n"
        "    t[#t + 1] = { stream = 's', type = 'E', data = cjson.encode(v) "
        "}\n"
        "  end\n"
        "  return t\n"
        "end\n";

    ck_assert_int_eq(load(&s, text, &def_cfg, &err), 0);
    rp_events_new(&out);
    fake_commit(&f, 1, "k", 1);
    ck_assert_msg(rp_script_convert(s, &f.rec, out, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(rp_events_count(out), 44);
    for (size_t i = 0; i < 44; i += 2) {
        const struct rp_event *got = rp_events_get(out, i);
        const struct rp_event *want = rp_events_get(out, i + 1);
        const struct rp_json *w, *g;
        struct rp_json_doc *gdoc = NULL;

        w = parse(&doc, want->data, want->data_len); /* cjson's text */
        ck_assert_uint_eq(got->data_len, w->len);
        ck_assert_mem_eq(got->data, w->str, w->len);
        /* In metadata, under "k", before replicatedFrom: the same text. */
        g = rp_json_get(parse(&gdoc, got->metadata, got->metadata_len), "k");
        ck_assert_uint_eq(g->raw_len, w->len);
        ck_assert_mem_eq(g->raw, w->str, w->len);
        rp_json_free(gdoc);
        rp_json_free(doc);
    }
    fake_dispose(&f);
    rp_events_free(out);
    rp_script_free(s);
}
END_TEST

START_TEST(test_script_sandbox)
{
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    lua_State *L;
    struct rp_buf chunk, text;

    /* What a script may not reach. */
    ck_assert_msg(
        load(&s,
             "assert(io == nil and debug == nil and package == nil)\n"
             "assert(dofile == nil and loadfile == nil)\n"
             "assert(os.execute == nil and os.remove == nil and os.exit == "
             "nil)\n"
             "assert(string.dump == nil and (''):rep(1) == '')\n"
             "assert(('').dump == nil)\n"
             "assert(type(os.time()) == 'number' and os.getenv)\n"
             "assert(getmetatable(_ENV) == false)\n"
             "assert(not pcall(setmetatable, _ENV, {}))\n"
             "assert(load('return 1 + 1')() == 2)\n"
             "assert(load('return x', 'c', 't', { x = 5 })() == 5)\n"
             "local f, e = load('return 1', 'c', 'b')\n"
             "assert(f == nil and e:find('binary'))\n"
             "assert(load('return 3', 'c', 'bt')() == 3)\n"
             "secret = 1\n"
             "assert(load('return secret')() == 1)\n"
             "function convert(r) return nil end\n",
             NULL, &err) == 0,
        "%s", err.msg);
    rp_script_free(s);

    /* A binary chunk: refused as a script and through load(). */
    L = luaL_newstate();
    ck_assert_int_eq(luaL_loadstring(L, "return 1"), LUA_OK);
    rp_buf_init(&chunk, 0);
    ck_assert_int_eq(lua_dump(L, dump_writer, &chunk, 0), 0);
    lua_close(L);
    write_file(path, "");
    {
        FILE *fp = fopen(path, "wb");

        ck_assert_uint_eq(fwrite(chunk.data, 1, chunk.len, fp), chunk.len);
        fclose(fp);
    }
    ck_assert_int_eq(rp_script_new(&s, path, &def_cfg, &err), RP_ESCRIPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "binary"));
    rp_buf_init(&text, 0);
    rp_buf_adds(&text, "local chunk = \"");
    for (size_t i = 0; i < chunk.len; i++)
        rp_buf_printf(&text, "\\%03u", (unsigned char)chunk.data[i]);
    rp_buf_adds(&text, "\"\n"
                       "local f, e = load(chunk)\n"
                       "assert(f == nil and e:find('binary'), e)\n"
                       "function convert(r) end\n");
    ck_assert_msg(load(&s, text.data, NULL, &err) == 0, "%s", err.msg);
    rp_script_free(s);
    rp_buf_dispose(&text);
    rp_buf_dispose(&chunk);
}
END_TEST

START_TEST(test_script_require)
{
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    char p[400]; /* libdir (300) plus the longest suffix */

    snprintf(p, sizeof(p), "%s/near.lua", dir);
    write_file(p, "return { name = 'near', io = io }\n");
    snprintf(p, sizeof(p), "%s/shipped.lua", libdir);
    write_file(p, "leak = 1\nreturn { name = 'shipped' }\n");
    snprintf(p, sizeof(p), "%s/near.lua", libdir);
    write_file(p, "return { name = 'shadowed' }\n");
    snprintf(p, sizeof(p), "%s/sub", libdir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/sub/mod.lua", libdir);
    write_file(p, "return 'sub.mod'\n");
    snprintf(p, sizeof(p), "%s/outside.lua", "/tmp");
    ck_assert_msg(
        load(&s,
             "local near = require 'near'\n"
             "assert(near.name == 'near' and near.io == nil)\n"
             "assert(require 'near' == near)\n"
             "assert(require('shipped').name == 'shipped')\n"
             "assert(leak == nil)\n"
             "assert(require 'sub.mod' == 'sub.mod')\n"
             "local cjson = require 'cjson'\n"
             "assert(cjson.decode('[1,2]')[2] == 2)\n"
             "local safe = require 'cjson.safe'\n"
             "assert(safe.decode('{bad') == nil)\n"
             "local jsv = require 'jsv'\n"
             "assert(jsv.compact(' { \"a\" : [ 1 ] } ') == '{\"a\":[1]}')\n"
             "assert(jsv.compact('\"a\\nb\"') == nil)\n"
             "assert(jsv.unformat('{\\n\\t\"a\": 1\\n}') == '{\"a\":1}')\n"
             "assert(not pcall(cjson.decode, '{bad'))\n"
             "local ok, e = pcall(require, 'missing')\n"
             "assert(not ok and e:find('not found'), e)\n"
             "ok, e = pcall(require, '..rp-outside')\n"
             "assert(not ok and e:find('bad module name'), e)\n"
             "ok, e = pcall(require, '/etc/passwd')\n"
             "assert(not ok and e:find('bad module name'), e)\n"
             "function convert(r) end\n",
             NULL, &err) == 0,
        "%s", err.msg);
    rp_script_free(s);
}
END_TEST

START_TEST(test_script_config_table)
{
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    struct rp_config cfg;

    rp_config_init(&cfg);
    ck_assert_int_eq(load(&s,
                          "config = { store = '/data/x', batch_events = 20,\n"
                          "  source_metadata = false, log_level = 'warn',\n"
                          "  target = 'http://127.0.0.1:2113' }\n"
                          "function convert(r) end\n",
                          &cfg, &err),
                     0);
    ck_assert_int_eq(rp_script_read_config(s, &cfg, &err), 0);
    ck_assert_str_eq(cfg.store, "/data/x");
    ck_assert_str_eq(cfg.target, "http://127.0.0.1:2113");
    ck_assert_uint_eq(cfg.batch_events, 20);
    ck_assert_int_eq(cfg.source_metadata, 0);
    rp_script_free(s);
    rp_config_dispose(&cfg);
}
END_TEST

/* Scripts that are wrong in one way, and the words the refusal must hold. */
static const struct {
    const char *ret;    /* what convert() returns */
    const char *expect; /* a piece of the message */
} wrong[] = {
    {"42", "returned a number, not a list of events"},
    {"{ stream = 's', type = 't', data = {} }", "not a list of events"},
    {"{ 'x' }", "event 0 is a string, not a table"},
    {"{ { type = 't', data = {} } }", "event 0: stream is missing"},
    {"{ { stream = 7, type = 't', data = {} } }", "event 0: stream is number"},
    {"{ { stream = 's', type = '', data = {} } }",
     "event 0: type is an empty string"},
    {"{ { stream = 's', type = {}, data = {} } }", "event 0: type is table"},
    {"{ { stream = 's', type = 't' } }", "event 0: data is missing"},
    {"{ { stream = 's', type = 't', data = true } }",
     "event 0: data is a boolean"},
    {"{ { stream = 's', type = 't', data = '\\255' } }",
     "event 0: data is a string that is not valid UTF-8"},
    {"{ { stream = 's', type = 't', data = { x = '\\255' } } }",
     "event 0: data holds a string that is not valid UTF-8"},
    {"{ { stream = 's', type = 't', data = { f = print } } }",
     "event 0: data cannot be encoded as JSON"},
    {"{ { stream = 's', type = 't', data = rawjson('{x') } }",
     "event 0: data: rawjson() text is not JSON"},
    {"{ { stream = 's', type = 't', data = {}, metadata = 5 } }",
     "event 0: metadata is a number"},
    {"{ { stream = 's', type = 't', data = {}, metadata = { 1, 2 } } }",
     "event 0: metadata must be an object"},
    {"{ { stream = 's', type = 't', data = {}, metadata = { replicatedFrom "
     "= 1 } } }",
     "event 0: metadata has its own replicatedFrom"},
    {"{ { stream = 's', type = 't', data = {}, id = 'nope' } }",
     "event 0: id 'nope' is not a UUID"},
    {"{ { stream = 's', type = 't', data = {}, id = "
     "'00000000-0000-0000-0000-000000000000' } }",
     "is not a UUID"},
    {"{ { stream = 's', type = 't', data = {}, id = 5 } }",
     "event 0: id is a number"},
    {"{ { stream = 's', type = 't', data = {}, typ = 'x' } }",
     "event 0 has an unknown field 'typ'"},
    {"{ { stream = 's', type = 't', data = {} }, { stream = 's' } }",
     "event 1: type is missing"},
    {"{ { stream = 's', type = 't', data = string.rep('x', 4194305) } }",
     "event 0 is too large: 4194305 bytes of data"},
    {"{ { stream = 's', type = 't', data = string.rep('x', 4194300),"
     " metadata = { pad = 'xxxxxxxxxx' } } }",
     "event 0 is too large"},
};

START_TEST(test_script_wrong_returns)
{
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    struct rp_events *out;
    struct fake f;
    char text[512];

    snprintf(text, sizeof(text), "function convert(r)\n  return %s\nend\n",
             wrong[_i].ret);
    ck_assert_int_eq(load(&s, text, NULL, &err), 0);
    rp_events_new(&out);
    fake_commit(&f, 9, "customer:5", 1);
    ck_assert_int_eq(rp_script_convert(s, &f.rec, out, &err), RP_ESCRIPT);
    ck_assert_msg(strstr(err.msg, wrong[_i].expect) != NULL, "'%s' lacks '%s'",
                  err.msg, wrong[_i].expect);
    ck_assert_msg(strstr(err.msg, "store version 9, key 'customer:5'") != NULL,
                  "%s", err.msg);
    /* Nothing of a refused record stays in the list. */
    ck_assert_uint_eq(rp_events_count(out), 0);
    fake_dispose(&f);
    rp_events_free(out);
    rp_script_free(s);
}
END_TEST

START_TEST(test_script_runtime_error_traceback)
{
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    struct rp_events *out;
    struct fake f;

    ck_assert_int_eq(load(&s,
                          "local function helper(x)\n"
                          "  return x.missing.field\n"
                          "end\n"
                          "function convert(r)\n"
                          "  local v = helper(r)\n"
                          "  return v\n"
                          "end\n",
                          NULL, &err),
                     0);
    rp_events_new(&out);
    fake_commit(&f, 4, "user:3", 1);
    ck_assert_int_eq(rp_script_convert(s, &f.rec, out, &err), RP_ESCRIPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "store version 4, key 'user:3'"));
    ck_assert_msg(strstr(err.msg, "s.lua:2:") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "s.lua:5:") != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(rp_script_traceback(s), "stack traceback"));
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    fake_dispose(&f);
    rp_events_free(out);
    rp_script_free(s);
}
END_TEST

START_TEST(test_script_load_errors)
{
    struct rp_script *s = NULL;
    struct rp_error err = {0};

    ck_assert_int_eq(
        load(&s, "function convert(r)\n  return {\nend\n", NULL, &err),
        RP_ESCRIPT);
    ck_assert_msg(strstr(err.msg, "s.lua:3:") != NULL, "%s", err.msg);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(load(&s, "function konvert(r) end\n", NULL, &err),
                     RP_ESCRIPT);
    ck_assert_msg(strstr(err.msg, "s.lua") != NULL &&
                      strstr(err.msg, "'convert'") != NULL,
                  "%s", err.msg);
    ck_assert_int_eq(load(&s, "error('boom')\n", NULL, &err), RP_ESCRIPT);
    ck_assert_msg(strstr(err.msg, "s.lua:1: boom") != NULL, "%s", err.msg);
    ck_assert_int_eq(
        load(&s, "config = { batch_events = 'many' }\nfunction convert() end\n",
             NULL, &err),
        0);
    {
        struct rp_config cfg;

        rp_config_init(&cfg);
        ck_assert_int_eq(rp_script_read_config(s, &cfg, &err), RP_EINVAL);
        ck_assert_msg(strstr(err.msg, "batch_events") != NULL, "%s", err.msg);
        rp_config_dispose(&cfg);
    }
    rp_script_free(s);
    ck_assert_int_eq(load(&s,
                          "config = { stor = '/x' }\nfunction convert() end\n",
                          NULL, &err),
                     0);
    {
        struct rp_config cfg;

        rp_config_init(&cfg);
        ck_assert_int_eq(rp_script_read_config(s, &cfg, &err), RP_EINVAL);
        ck_assert_msg(strstr(err.msg, "config.stor is not a setting") != NULL,
                      "%s", err.msg);
        rp_config_dispose(&cfg);
    }
    rp_script_free(s);
    snprintf(path, sizeof(path), "%s/none.lua", dir);
    ck_assert_int_eq(rp_script_new(&s, path, &def_cfg, &err), RP_ENOENT);
}
END_TEST

/* Scripts that never end, each within a limit. */
static const char *const runaway[] = {
    "while true do end",
    "while true do pcall(function() while true do end end) end",
    "local t = {} while true do t[#t + 1] = {} end",
    "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 100) .. i end",
    "local s = 'x' while true do s = s .. s end",
};

START_TEST(test_script_limits_stop_runaways)
{
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    struct rp_config cfg;
    struct rp_events *out;
    struct fake f;
    char text[256];

    rp_config_init(&cfg);
    cfg.source_id = rp_xstrdup("x");
    cfg.time_limit_ms = 300;
    cfg.memory_limit_mb = 16;
    snprintf(text, sizeof(text), "function convert(r)\n  %s\nend\n",
             runaway[_i]);
    ck_assert_int_eq(load(&s, text, &cfg, &err), 0);
    rp_events_new(&out);
    fake_commit(&f, 2, "k", 1);
    ck_assert_int_eq(rp_script_convert(s, &f.rec, out, &err), RP_ELIMIT);
    ck_assert_msg(strstr(err.msg, "limit") != NULL &&
                      strstr(err.msg, "store version 2, key 'k'") != NULL,
                  "%s", err.msg);
    if (_i < 2)
        ck_assert_msg(strstr(err.msg, "time limit of 300 ms") != NULL, "%s",
                      err.msg);
    /* The state stays usable for the next call. */
    fake_dispose(&f);
    rp_events_free(out);
    rp_script_free(s);
    rp_config_dispose(&cfg);
}
END_TEST

START_TEST(test_script_limits_at_load)
{
    struct rp_script *s = NULL;
    struct rp_error err = {0};
    struct rp_config cfg;

    rp_config_init(&cfg);
    cfg.time_limit_ms = 100;
    cfg.memory_limit_mb = 8;
    ck_assert_int_eq(load(&s, "while true do end\n", &cfg, &err), RP_ELIMIT);
    ck_assert_msg(strstr(err.msg, "time limit") != NULL, "%s", err.msg);
    /* The memory limit must be what stops this one, however slow the build
    ** (sanitizers, valgrind): no time limit races it. */
    cfg.time_limit_ms = 600000;
    ck_assert_int_eq(
        load(&s, "local t = {} while true do t[#t+1] = {} end\n", &cfg, &err),
        RP_ELIMIT);
    ck_assert_msg(strstr(err.msg, "memory limit of 8 MiB") != NULL, "%s",
                  err.msg);
    rp_config_dispose(&cfg);
}
END_TEST

START_TEST(test_script_lua_dir)
{
    char d[4096];
    struct stat st;

    setenv("REPLICATOR_LUA_PATH", "/opt/x/lua", 1);
    rp_script_lua_dir(d, sizeof(d));
    ck_assert_str_eq(d, "/opt/x/lua");
    /* Unset: a lua/ folder near the binary (this runner sits in
    ** build/<variant>/tests, so ../../../lua is the checkout's), else the
    ** installed folder. */
    unsetenv("REPLICATOR_LUA_PATH");
    rp_script_lua_dir(d, sizeof(d));
    ck_assert_msg(strcmp(d, RP_LUA_DIR) == 0 ||
                      (stat(d, &st) == 0 && S_ISDIR(st.st_mode) &&
                       strstr(d, "/lua") != NULL),
                  "%s", d);
}
END_TEST

Suite *script_suite(void);

Suite *
script_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s =
        rp_test_suite("script", &core, &limits, &errors, setup, teardown);

    tcase_set_timeout(limits, 30);
    tcase_add_test(core, test_script_record_and_events);
    tcase_add_test(core, test_script_attributes_and_raw_records);
    tcase_add_test(core, test_script_ids_deterministic);
    tcase_add_test(core, test_script_metadata_injection);
    tcase_add_test(core, test_script_metadata_per_record_and_source);
    tcase_add_test(core, test_script_event_fields_from_index);
    tcase_add_test(core, test_script_table_data_as_cjson);
    tcase_add_test(core, test_script_sandbox);
    tcase_add_test(core, test_script_require);
    tcase_add_test(core, test_script_config_table);
    tcase_add_test(core, test_script_lua_dir);
    tcase_add_loop_test(limits, test_script_limits_stop_runaways, 0,
                        (int)(sizeof(runaway) / sizeof(runaway[0])));
    tcase_add_test(limits, test_script_limits_at_load);
    tcase_add_loop_test(errors, test_script_wrong_returns, 0,
                        (int)(sizeof(wrong) / sizeof(wrong[0])));
    tcase_add_test(errors, test_script_runtime_error_traceback);
    tcase_add_test(errors, test_script_load_errors);
    return s;
}
