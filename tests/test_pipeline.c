/* Tests of the conversion pipeline: records leave in the order they came
** with the events one worker would give, whatever the number of workers
** and the partition; errors name the record as with one worker; reloading
** reloads every state; what waits is bounded. */
#include <check.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "event.h"
#include "pipeline.h"
#include "script.h"
#include "store.h"
#include "util.h"
#include "testutil.h"

#define KEYS 13

static char dir[256];  /* per-test folder holding the script */
static char path[300]; /* the script */
static struct rp_config cfg;

static void
setup(void)
{
    rp_test_tmpdir(dir, sizeof(dir), "rp-pipeline");
    snprintf(path, sizeof(path), "%s/s.lua", dir);
    setenv("REPLICATOR_LUA_PATH", dir, 1);
    rp_config_init(&cfg);
    cfg.source_id = rp_xstrdup("src");
    cfg.script = rp_xstrdup(path);
}

static void
teardown(void)
{
    rp_config_dispose(&cfg);
    rp_test_rmtree(dir);
}

static void
write_script(const char *text)
{
    rp_test_write_file(path, text, strlen(text), "wb");
}

/* A pipeline of 'workers' over the script 'text', whose config table is
** read as the commands read it (so it states the partition). */
static struct rp_pipeline *
make(const char *text, uint64_t workers)
{
    struct rp_script *s = NULL;
    struct rp_pipeline *p = NULL;
    struct rp_error err = {0};

    write_script(text);
    cfg.workers = workers;
    ck_assert_msg(rp_script_new(&s, path, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_msg(rp_script_read_config(s, &cfg, &err) == 0, "%s", err.msg);
    cfg.workers = workers;
    rp_script_apply_config(s, &cfg);
    ck_assert_msg(rp_pipeline_new(&p, s, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(rp_pipeline_workers(p), workers);
    return p;
}

/* The records of a made-up store: key "k<n % KEYS>", data "payload <n>"
** ('pad' more bytes when set), stream versions counted per key. */
struct feeder {
    uint64_t sv;
    uint64_t counts[KEYS];
    size_t pad;
    char key[16];
    struct rp_buf data;
    struct rp_record rec;
};

static void
feeder_init(struct feeder *f, size_t pad)
{
    memset(f, 0, sizeof(*f));
    f->pad = pad;
    rp_buf_init(&f->data, 0);
}

static const struct rp_record *
feeder_next(struct feeder *f)
{
    size_t k;

    f->sv++;
    k = (size_t)(f->sv % KEYS);
    snprintf(f->key, sizeof(f->key), "k%zu", k);
    rp_buf_reset(&f->data);
    rp_buf_printf(&f->data, "payload %llu", (unsigned long long)f->sv);
    for (size_t i = 0; i < f->pad; i++)
        rp_buf_addc(&f->data, '.');
    memset(&f->rec, 0, sizeof(f->rec));
    f->rec.store_version = f->sv;
    f->rec.stream_version = ++f->counts[k];
    f->rec.key = f->key;
    f->rec.key_len = strlen(f->key);
    f->rec.data = (const unsigned char *)f->data.data;
    f->rec.data_len = f->data.len;
    f->rec.file = "00000001-x.dat";
    f->rec.offset = f->sv * 100;
    return &f->rec;
}

/* Append every event of 'c' to 'out', a line each, with every field the
** target gets. */
static void
add_events(struct rp_buf *out, const struct rp_converted *c)
{
    for (size_t i = 0; i < c->count; i++) {
        const struct rp_event *e = rp_pipeline_event(c, i);
        char id[37];

        rp_event_format_id(id, e->id);
        rp_buf_printf(out, "%llu/%u %s %s %s ",
                      (unsigned long long)e->store_version, e->index, e->stream,
                      e->type, id);
        rp_buf_add(out, e->data, e->data_len);
        rp_buf_addc(out, ' ');
        if (e->metadata != NULL)
            rp_buf_add(out, e->metadata, e->metadata_len);
        rp_buf_addc(out, '\n');
    }
}

/* Run records 1..'total' of 'f' through 'p' as dry-run does (reading ahead
** while there is room, a flush now and then), appending each event to
** 'out'.  Records must leave in store order.  Stops at the first record
** whose conversion failed, copying its message into 'msg' and returning
** its store version; returns 0 when every record converted. */
static uint64_t
run_all(struct rp_pipeline *p, struct feeder *f, uint64_t total,
        struct rp_buf *out, char *msg, size_t msg_size)
{
    const struct rp_converted *c;
    uint64_t expect = f->sv + 1;
    int more = f->sv < total;

    for (;;) {
        if (rp_pipeline_next(p, !more || !rp_pipeline_room(p), &c) > 0) {
            ck_assert_uint_eq(c->rec->store_version, expect);
            expect++;
            if (c->rc < 0) {
                ck_assert_ptr_nonnull(c->error);
                ck_assert_ptr_nonnull(c->traceback);
                snprintf(msg, msg_size, "%s", c->error);
                return c->rec->store_version;
            }
            add_events(out, c);
            rp_pipeline_pop(p);
            continue;
        }
        if (!more && rp_pipeline_pending(p) == 0)
            return 0;
        while (more && rp_pipeline_room(p)) {
            const struct rp_record *r = feeder_next(f);

            rp_pipeline_put(p, r);
            if (r->store_version % 37 == 0)
                rp_pipeline_flush(p); /* a short group now and then */
            if (r->store_version == total) {
                more = 0;
                rp_pipeline_flush(p);
            }
        }
    }
}

/* Records of uneven cost, some with no event, some with several; data and
** metadata are strings, so the text does not depend on a state's table
** order. */
static const char uneven[] =
    "config = { partition = '%s' }\n"
    "local function spin(n) local x = 0 for i = 1, n do x = x + i end\n"
    "  return x end\n"
    "function convert(r)\n"
    "  local n = tonumber(r.data:match('%%d+'))\n"
    "  spin((n * 7919) %% 20000)\n"
    "  if n %% 5 == 0 then return nil end\n"
    "  local out = {}\n"
    "  for i = 1, n %% 3 + 1 do\n"
    "    out[i] = { stream = 's-' .. r.key, type = 'T' .. i,\n"
    "      data = r.data .. '/' .. i, metadata = 'v' .. r.stream_version }\n"
    "  end\n"
    "  return out\n"
    "end\n";

static const struct {
    uint64_t workers;
    const char *partition;
} split[] = {{2, "none"}, {4, "none"}, {7, "none"}, {2, "key"},
             {3, "key"},  {4, "key"},  {1, "key"}};

START_TEST(test_pipeline_order_and_events_as_one_worker)
{
    char text[sizeof(uneven) + 16], msg[512];
    struct rp_buf one, many;
    struct rp_pipeline *p;
    struct feeder f;

    rp_buf_init(&one, 0);
    rp_buf_init(&many, 0);
    snprintf(text, sizeof(text), uneven, split[_i].partition);
    p = make(text, 1);
    ck_assert_int_eq(rp_pipeline_fd(p), -1);
    feeder_init(&f, 0);
    ck_assert_uint_eq(run_all(p, &f, 3000, &one, msg, sizeof(msg)), 0);
    rp_pipeline_free(p);
    rp_buf_dispose(&f.data);

    p = make(text, split[_i].workers);
    ck_assert_int_eq(rp_pipeline_fd(p) >= 0, split[_i].workers > 1);
    feeder_init(&f, 0);
    ck_assert_uint_eq(run_all(p, &f, 3000, &many, msg, sizeof(msg)), 0);
    rp_pipeline_free(p);

    ck_assert_uint_gt(one.len, 100000);
    ck_assert_uint_eq(many.len, one.len);
    ck_assert_msg(memcmp(one.data, many.data, one.len) == 0,
                  "%llu workers (%s) gave other events",
                  (unsigned long long)split[_i].workers, split[_i].partition);
    rp_buf_dispose(&one);
    rp_buf_dispose(&many);
    rp_buf_dispose(&f.data);
}
END_TEST

/* State per key: each state checks that it sees every record of its keys,
** in order, and says which state it is. */
static const char per_key[] =
    "config = { partition = 'key' }\n"
    "local me = tostring({})\n"
    "local last = {}\n"
    "function convert(r)\n"
    "  local prev = last[r.key]\n"
    "  if prev ~= nil and r.stream_version ~= prev + 1 then\n"
    "    error(r.key .. ': ' .. prev .. ' then ' .. r.stream_version)\n"
    "  end\n"
    "  last[r.key] = r.stream_version\n"
    "  return { { stream = r.key, type = 'T', data = me } }\n"
    "end\n";

START_TEST(test_pipeline_key_partition_keeps_a_key_on_one_state)
{
    struct rp_pipeline *p = make(per_key, 4);
    struct rp_buf out;
    struct feeder f;
    char msg[512] = "", state[KEYS][64], seen[4][64];
    size_t states = 0;
    const char *line;

    rp_buf_init(&out, 0);
    feeder_init(&f, 0);
    ck_assert_msg(run_all(p, &f, 2000, &out, msg, sizeof(msg)) == 0, "%s", msg);
    memset(state, 0, sizeof(state));
    /* Lines: "<sv>/0 k<n> T <id> "<state>"". */
    for (line = out.data; line != NULL && *line; line = strchr(line, '\n')) {
        char key[16], me[64];
        unsigned long long sv;
        unsigned idx;
        size_t k, i;

        if (*line == '\n')
            line++;
        if (*line == '\0')
            break;
        ck_assert_int_eq(
            sscanf(line, "%llu/%u %15s T %*s \"%63[^\"]\"", &sv, &idx, key, me),
            4);
        k = (size_t)strtoul(key + 1, NULL, 10);
        if (state[k][0] == '\0')
            snprintf(state[k], sizeof(state[k]), "%s", me);
        ck_assert_str_eq(state[k], me);
        for (i = 0; i < states && strcmp(seen[i], me) != 0; i++)
            ;
        if (i == states) {
            ck_assert_uint_lt(states, 4);
            snprintf(seen[states++], sizeof(seen[0]), "%s", me);
        }
    }
    ck_assert_uint_ge(states, 2); /* the keys are spread */
    rp_pipeline_free(p);
    rp_buf_dispose(&out);
    rp_buf_dispose(&f.data);
}
END_TEST

/* Counts reported per key, for rp_pipeline_counts(). */
struct counts {
    uint64_t count[KEYS];
    int calls[KEYS];
};

static int
note_count(void *ctx, const char *key, size_t key_len, uint64_t count)
{
    struct counts *c = ctx;
    size_t k = (size_t)strtoul(key + 1, NULL, 10);

    ck_assert_uint_eq(key_len, strlen(key));
    ck_assert_uint_lt(k, KEYS);
    c->count[k] = count;
    c->calls[k]++;
    return 0;
}

START_TEST(test_pipeline_counts_leave_out_what_was_not_taken)
{
    struct rp_pipeline *p = make("config = { partition = 'none' }\n"
                                 "function convert(r) return nil end\n",
                                 3);
    const struct rp_converted *c;
    struct feeder f, again;
    struct counts want, got;

    feeder_init(&f, 0);
    for (int i = 0; i < 150; i++)
        rp_pipeline_put(p, feeder_next(&f));
    rp_pipeline_flush(p);
    for (int i = 0; i < 40; i++) {
        ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 1);
        rp_pipeline_pop(p);
    }
    ck_assert_uint_eq(rp_pipeline_pending(p), 110);
    /* Records 41..150 are pending: each key's count before its first of
    ** them, once per key. */
    memset(&want, 0, sizeof(want));
    feeder_init(&again, 0);
    for (int i = 1; i <= 150; i++) {
        const struct rp_record *r = feeder_next(&again);
        size_t k = (size_t)(r->store_version % KEYS);

        if (i > 40 && want.calls[k]++ == 0)
            want.count[k] = r->stream_version - 1;
    }
    memset(&got, 0, sizeof(got));
    ck_assert_int_eq(rp_pipeline_counts(p, note_count, &got), 0);
    for (size_t k = 0; k < KEYS; k++) {
        ck_assert_int_eq(got.calls[k], 1);
        ck_assert_uint_eq(got.count[k], want.count[k]);
    }
    /* Records put and not yet handed over count too. */
    rp_pipeline_put(p, feeder_next(&f));
    while (rp_pipeline_pending(p) > 1) {
        ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 1);
        rp_pipeline_pop(p);
    }
    memset(&got, 0, sizeof(got));
    ck_assert_int_eq(rp_pipeline_counts(p, note_count, &got), 0);
    ck_assert_int_eq(got.calls[151 % KEYS], 1);
    ck_assert_uint_eq(got.count[151 % KEYS], f.rec.stream_version - 1);
    ck_assert_int_eq(got.calls[150 % KEYS], 0);
    rp_pipeline_free(p);
    rp_buf_dispose(&f.data);
    rp_buf_dispose(&again.data);
}
END_TEST

/* Slow enough that the workers are in the middle of their chunks when the
** reload comes. */
static const char versioned[] =
    "config = { partition = '%s' }\n"
    "function convert(r)\n"
    "  local x = 0 for i = 1, 20000 do x = x + i end\n"
    "  return { { stream = r.key, type = '%s', data = r.data } }\n"
    "end\n";

/* Take 'n' records from 'p' (feeding it from 'f'), checking their type. */
static void
take(struct rp_pipeline *p, struct feeder *f, int n, const char *type)
{
    const struct rp_converted *c;

    for (int i = 0; i < n; i++) {
        while (rp_pipeline_next(p, 0, &c) == 0) {
            while (rp_pipeline_room(p))
                rp_pipeline_put(p, feeder_next(f));
            rp_pipeline_flush(p);
            if (rp_pipeline_next(p, 1, &c) > 0)
                break;
        }
        ck_assert_int_eq(c->rc, 0);
        ck_assert_uint_eq(c->count, 1);
        ck_assert_msg(strcmp(rp_pipeline_event(c, 0)->type, type) == 0,
                      "store version %llu: %s, not %s",
                      (unsigned long long)c->rec->store_version,
                      rp_pipeline_event(c, 0)->type, type);
        rp_pipeline_pop(p);
    }
}

static const struct {
    uint64_t workers;
    const char *partition;
} reloads[] = {{1, "none"}, {4, "none"}, {3, "key"}};

START_TEST(test_pipeline_reload_reloads_every_state)
{
    const char *part = reloads[_i].partition;
    struct rp_error err = {0};
    struct rp_pipeline *p;
    struct feeder f;
    char text[512];
    uint64_t before;

    snprintf(text, sizeof(text), versioned, part, "v1");
    p = make(text, reloads[_i].workers);
    feeder_init(&f, 0);
    take(p, &f, 100, "v1");
    ck_assert_uint_gt(rp_pipeline_pending(p), 0); /* read ahead, converted */
    before = f.sv;

    /* A script that does not load changes nothing. */
    write_script("function convert(r\n");
    ck_assert_int_eq(rp_pipeline_reload(p, &err), RP_ESCRIPT);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    take(p, &f, 50, "v1");
    /* Nor does one that states another partition. */
    snprintf(text, sizeof(text), versioned,
             strcmp(part, "key") == 0 ? "none" : "key", "v2");
    write_script(text);
    if (reloads[_i].workers > 1) {
        ck_assert_int_eq(rp_pipeline_reload(p, &err), RP_EINVAL);
        ck_assert_msg(strstr(err.msg, "partition") != NULL, "%s", err.msg);
        take(p, &f, 50, "v1");
    }

    /* Every record not yet taken, read ahead or not, is converted by the
    ** new script; over 13 keys and 1000 records every state has some. */
    snprintf(text, sizeof(text), versioned, part, "v2");
    write_script(text);
    ck_assert_msg(rp_pipeline_reload(p, &err) == 0, "%s", err.msg);
    take(p, &f, 1000, "v2");
    ck_assert_uint_gt(f.sv, before);
    rp_pipeline_free(p);
    rp_buf_dispose(&f.data);
}
END_TEST

START_TEST(test_pipeline_discard_forgets_what_was_read)
{
    struct rp_pipeline *p = make("config = { partition = 'none' }\n"
                                 "function convert(r)\n"
                                 "  return { { stream = 's', type = 'T',\n"
                                 "             data = r.data } }\n"
                                 "end\n",
                                 2);
    const struct rp_converted *c;
    struct feeder f;

    feeder_init(&f, 0);
    for (int i = 0; i < 100; i++)
        rp_pipeline_put(p, feeder_next(&f));
    rp_pipeline_flush(p);
    ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 1);
    rp_pipeline_pop(p);
    rp_pipeline_discard(p);
    ck_assert_uint_eq(rp_pipeline_pending(p), 0);
    ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 0);
    /* It goes on with whatever comes next. */
    rp_pipeline_put(p, feeder_next(&f));
    rp_pipeline_flush(p);
    ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 1);
    ck_assert_uint_eq(c->rec->store_version, 101);
    rp_pipeline_free(p);
    rp_buf_dispose(&f.data);
}
END_TEST

START_TEST(test_pipeline_fd_wakes_a_poll)
{
    struct rp_pipeline *p = make("config = { partition = 'none' }\n"
                                 "function convert(r)\n"
                                 "  local x = 0 for i = 1, 200000 do x = x + i "
                                 "end\n"
                                 "  return nil\n"
                                 "end\n",
                                 2);
    const struct rp_converted *c;
    struct pollfd pfd;
    struct feeder f;

    feeder_init(&f, 0);
    pfd.fd = rp_pipeline_fd(p);
    pfd.events = POLLIN;
    ck_assert_int_ge(pfd.fd, 0);
    rp_pipeline_put(p, feeder_next(&f));
    /* Not flushed: nothing is converted, nothing wakes. */
    ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 0);
    ck_assert_int_eq(poll(&pfd, 1, 100), 0);
    rp_pipeline_flush(p);
    ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
    ck_assert_int_eq(rp_pipeline_next(p, 0, &c), 1);
    ck_assert_uint_eq(c->rec->store_version, 1);
    rp_pipeline_pop(p);
    /* next() read the pipe empty. */
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    rp_pipeline_free(p);
    rp_buf_dispose(&f.data);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_pipeline_limits_records_read_ahead)
{
    struct rp_pipeline *p = make("config = { partition = 'none' }\n"
                                 "function convert(r) return nil end\n",
                                 4);
    struct rp_pipeline_stats st;
    struct feeder f;
    const struct rp_converted *c;
    int n = 0;

    /* Small records: bounded by their number (the ring of groups). */
    feeder_init(&f, 0);
    while (rp_pipeline_room(p)) {
        rp_pipeline_put(p, feeder_next(&f));
        n++;
        ck_assert_int_lt(n, 100000);
    }
    ck_assert_int_le(n, 10 * 64);
    rp_pipeline_get_stats(p, &st);
    ck_assert_uint_eq(st.records, (size_t)n);
    rp_pipeline_free(p);
    rp_buf_dispose(&f.data);

    /* Many workers: no more records for that. */
    p = make("config = { partition = 'key' }\n"
             "function convert(r) return nil end\n",
             64);
    feeder_init(&f, 0);
    n = 0;
    while (rp_pipeline_room(p)) {
        rp_pipeline_put(p, feeder_next(&f));
        n++;
    }
    ck_assert_int_le(n, 2048);
    ck_assert_int_gt(n, 1000);
    for (int i = 1; i <= n; i++) {
        ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 1);
        ck_assert_uint_eq(c->rec->store_version, (uint64_t)i);
        rp_pipeline_pop(p);
    }
    rp_pipeline_free(p);
    rp_buf_dispose(&f.data);

    /* Large ones: by their bytes. */
    p = make("config = { partition = 'none' }\n"
             "function convert(r) return nil end\n",
             4);
    feeder_init(&f, 1u << 20);
    n = 0;
    while (rp_pipeline_room(p)) {
        rp_pipeline_put(p, feeder_next(&f));
        n++;
    }
    rp_pipeline_get_stats(p, &st);
    ck_assert_int_le(n, 9);
    ck_assert_uint_lt(st.record_bytes,
                      RP_PIPELINE_AHEAD_BYTES + (1u << 20) + 1024);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 1);
        ck_assert_uint_eq(c->rec->data_len, f.data.len);
        rp_pipeline_pop(p);
    }
    rp_pipeline_get_stats(p, &st);
    ck_assert_uint_eq(st.records, 0);
    ck_assert_uint_eq(st.record_bytes, 0);
    rp_pipeline_free(p);
    rp_buf_dispose(&f.data);
}
END_TEST

START_TEST(test_pipeline_limits_events_waiting)
{
    /* 200 kB of event text per record, nothing taken for a while. */
    struct rp_pipeline *p =
        make("config = { partition = 'none' }\n"
             "local big = string.rep('x', 200000)\n"
             "function convert(r)\n"
             "  return { { stream = 's', type = 'T', data = big } }\n"
             "end\n",
             4);
    struct rp_pipeline_stats st, prev;
    const struct rp_converted *c;
    struct feeder f;
    int n = 0, still = 0;

    feeder_init(&f, 0);
    while (rp_pipeline_room(p)) {
        rp_pipeline_put(p, feeder_next(&f));
        n++;
    }
    ck_assert_int_gt(n, 200); /* 40 MB of events if nothing stopped them */
    /* Wait until the workers stop converting. */
    memset(&prev, 0, sizeof(prev));
    while (still < 5) {
        nanosleep(&(struct timespec){0, 50000000}, NULL);
        rp_pipeline_get_stats(p, &st);
        still = st.event_bytes == prev.event_bytes ? still + 1 : 0;
        prev = st;
    }
    ck_assert_uint_gt(st.event_bytes, 1u << 20);
    ck_assert_msg(st.event_bytes <= RP_PIPELINE_WAITING_BYTES + 4 * 200100,
                  "%zu bytes of events wait", st.event_bytes);
    for (int i = 1; i <= n; i++) {
        ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 1);
        ck_assert_uint_eq(c->rec->store_version, (uint64_t)i);
        ck_assert_uint_eq(c->count, 1);
        rp_pipeline_pop(p);
    }
    rp_pipeline_get_stats(p, &st);
    ck_assert_uint_eq(st.event_bytes, 0);
    rp_pipeline_free(p);
    rp_buf_dispose(&f.data);
}
END_TEST

/* ---- errors ---- */

static const char fails_at_500[] =
    "config = { partition = '%s' }\n"
    "function convert(r)\n"
    "  if r.store_version == 500 then\n"
    "    error('cannot convert ' .. r.key)\n"
    "  end\n"
    "  return { { stream = r.key, type = 'T', data = r.data } }\n"
    "end\n";

START_TEST(test_pipeline_errors_name_the_record_as_one_worker)
{
    static const struct {
        uint64_t workers;
        const char *partition;
    } runs[] = {{1, "none"}, {3, "none"}, {4, "key"}};
    char text[512], msg[3][512];
    struct rp_buf out[3];
    struct feeder f;

    for (int r = 0; r < 3; r++) {
        struct rp_pipeline *p;
        const struct rp_converted *c;

        snprintf(text, sizeof(text), fails_at_500, runs[r].partition);
        p = make(text, runs[r].workers);
        rp_buf_init(&out[r], 0);
        feeder_init(&f, 0);
        ck_assert_uint_eq(run_all(p, &f, 2000, &out[r], msg[r], 512), 500);
        ck_assert_msg(strstr(msg[r], "store version 500, key 'k6'") != NULL &&
                          strstr(msg[r], "cannot convert k6") != NULL &&
                          strstr(msg[r], "s.lua:4") != NULL,
                      "%s", msg[r]);
        ck_assert_str_eq(msg[r], msg[0]);
        ck_assert_uint_eq(out[r].len, out[0].len);
        ck_assert_int_eq(memcmp(out[r].data, out[0].data, out[0].len), 0);
        /* The caller may go on past it (a dead letter): the next records
        ** are there, converted. */
        ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 1);
        ck_assert_int_eq(c->rc, RP_ESCRIPT);
        rp_pipeline_pop(p);
        ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 1);
        ck_assert_uint_eq(c->rec->store_version, 501);
        ck_assert_int_eq(c->rc, 0);
        rp_pipeline_free(p);
        rp_buf_dispose(&f.data);
    }
    for (int r = 0; r < 3; r++)
        rp_buf_dispose(&out[r]);
}
END_TEST

START_TEST(test_pipeline_errors_time_limit_in_a_worker)
{
    struct rp_pipeline *p;
    const struct rp_converted *c;
    struct rp_buf out;
    struct feeder f;
    char msg[512];

    cfg.time_limit_ms = 200;
    p = make("config = { partition = 'none' }\n"
             "function convert(r)\n"
             "  if r.store_version == 50 then while true do end end\n"
             "  return { { stream = r.key, type = 'T', data = r.data } }\n"
             "end\n",
             3);
    rp_buf_init(&out, 0);
    feeder_init(&f, 0);
    ck_assert_uint_eq(run_all(p, &f, 400, &out, msg, sizeof(msg)), 50);
    ck_assert_msg(strstr(msg, "store version 50, key 'k11'") != NULL &&
                      strstr(msg, "time limit of 200 ms") != NULL,
                  "%s", msg);
    ck_assert_int_eq(rp_pipeline_next(p, 1, &c), 1);
    ck_assert_int_eq(c->rc, RP_ELIMIT);
    rp_pipeline_free(p);
    rp_buf_dispose(&out);
    rp_buf_dispose(&f.data);
}
END_TEST

START_TEST(test_pipeline_errors_at_start)
{
    struct rp_script *s = NULL;
    struct rp_pipeline *p = NULL;
    struct rp_error err = {0};
    char helper[320];

    /* Several workers without a partition. */
    write_script("function convert(r) return nil end\n");
    ck_assert_int_eq(rp_script_new(&s, path, &cfg, &err), 0);
    cfg.workers = 2;
    ck_assert_int_eq(rp_pipeline_new(&p, s, &cfg, &err), RP_EINVAL);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err.msg, "partition") != NULL, "%s", err.msg);

    /* A further state that does not load: the first is freed too (the
    ** sanitizers and valgrind see a leak otherwise). */
    snprintf(helper, sizeof(helper), "%s/helper.lua", dir);
    rp_test_write_file(helper, "return 1\n", 9, "wb");
    write_script("local h = require 'helper'\n"
                 "function convert(r) return nil end\n");
    cfg.partition = RP_PARTITION_NONE;
    cfg.workers = 3;
    ck_assert_int_eq(rp_script_new(&s, path, &cfg, &err), 0);
    ck_assert_int_eq(unlink(helper), 0);
    ck_assert_int_eq(rp_pipeline_new(&p, s, &cfg, &err), RP_ESCRIPT);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err.msg, "helper") != NULL, "%s", err.msg);
}
END_TEST

Suite *pipeline_suite(void);

Suite *
pipeline_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s =
        rp_test_suite("pipeline", &core, &limits, &errors, setup, teardown);

    tcase_set_timeout(core, 60);
    tcase_set_timeout(limits, 60);
    tcase_set_timeout(errors, 60);
    tcase_add_loop_test(core, test_pipeline_order_and_events_as_one_worker, 0,
                        (int)(sizeof(split) / sizeof(split[0])));
    tcase_add_test(core, test_pipeline_key_partition_keeps_a_key_on_one_state);
    tcase_add_test(core, test_pipeline_counts_leave_out_what_was_not_taken);
    tcase_add_loop_test(core, test_pipeline_reload_reloads_every_state, 0,
                        (int)(sizeof(reloads) / sizeof(reloads[0])));
    tcase_add_test(core, test_pipeline_discard_forgets_what_was_read);
    tcase_add_test(core, test_pipeline_fd_wakes_a_poll);
    tcase_add_test(limits, test_pipeline_limits_records_read_ahead);
    tcase_add_test(limits, test_pipeline_limits_events_waiting);
    tcase_add_test(errors, test_pipeline_errors_name_the_record_as_one_worker);
    tcase_add_test(errors, test_pipeline_errors_time_limit_in_a_worker);
    tcase_add_test(errors, test_pipeline_errors_at_start);
    return s;
}
