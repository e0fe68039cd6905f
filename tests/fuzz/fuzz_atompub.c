/* Fuzz target: the HTTP answers the sink interprets (status, reason,
** Location, ES-CurrentVersion, the atom feed bodies of stream reads).  The
** sink's operations become HTTP requests (atompub.c), the answers' header
** lines are parsed as the transport parses them (http.c), turned into
** outcomes (atompub.c) and given back to the sink.  (Retry-After is
** libcurl's to parse.)
**
** Input: a settings byte, then answers separated by NUL bytes.  An answer
** is its header lines (the status line first, "HTTP/1.1 201 Created"; a
** first line "!" stands for no answer: a transport error), an empty line,
** then the body.  The sink gets records 1..n, each with an event for
** stream "a" (odd records one for "b" too), and the answers go to its
** operations, oldest first.
**
** Promises checked: every request is well formed (a path under /streams/,
** an expected version on appends, a JSON array body of at most the batch
** size); the acknowledged frontier only moves forward and never passes the
** records given; an answer that stops the run says why; a sink with
** nothing out, nothing to send and nothing to wait for has acknowledged
** every record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atompub.h"
#include "event.h"
#include "fuzzutil.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "sink.h"
#include "util.h"

#define MAX_OUT 8    /* requests out at once */
#define MAX_STEPS 64 /* answers given per input */
#define CHECKPOINT_STREAM "replicator-checkpoint-src"

/* The ids the replicator gives the events of source "src". */
static struct rp_idgen ids;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rp_log_set_level(RP_LOG_ERROR);
    rp_idgen_init(&ids, "src", 3);
    return 0;
}

/* Record 'sv' and its events. */
static void
add_record(struct rp_sink *s, uint64_t sv, int two_streams, int metadata)
{
    static const char *const streams[2] = {"a", "b"};
    struct rp_record rec;
    struct rp_error err;
    char key[8];
    int n = two_streams && sv % 2 == 1 ? 2 : 1;

    memset(&rec, 0, sizeof(rec));
    snprintf(key, sizeof(key), "k%d", (int)(sv % 2));
    rec.store_version = sv;
    rec.stream_version = (sv + 1) / 2;
    rec.key = key;
    rec.key_len = strlen(key);
    rec.file = "00000001-2013-03-15-093012.dat";
    rec.offset = sv * 100;
    rec.end = sv * 100 + 100;
    rec.sha1[0] = (unsigned char)sv;
    RP_FUZZ_CHECK(rp_sink_add_record(s, &rec, &err) == 0);
    for (int i = 0; i < n; i++) {
        struct rp_event ev;
        char data[32], meta[160];

        memset(&ev, 0, sizeof(ev));
        ev.stream = streams[i];
        ev.stream_len = 1;
        ev.type = "T";
        ev.type_len = 1;
        snprintf(data, sizeof(data), "{\"n\":%d}", (int)sv);
        ev.data = data;
        ev.data_len = strlen(data);
        if (metadata) {
            snprintf(meta, sizeof(meta),
                     "{\"replicatedFrom\":{\"source\":\"src\","
                     "\"storeVersion\":%d,\"index\":%d}}",
                     (int)sv, i);
            ev.metadata = meta;
            ev.metadata_len = strlen(meta);
        }
        ev.store_version = sv;
        ev.index = (uint32_t)i;
        rp_idgen_make(&ids, sv, (uint32_t)i, ev.id);
        RP_FUZZ_CHECK(rp_sink_add_event(s, &ev, &err) == 0);
    }
}

/* Encode the operation the sink wants carried out into 'm' and check the
** request. */
static void
check_request(struct rp_atompub_msg *m, const struct rp_sink_req *req,
              size_t batch)
{
    int expected = 0;

    RP_FUZZ_CHECK(rp_atompub_encode(m, req) == 0);
    RP_FUZZ_CHECK(strncmp(m->path.data, "/streams/", 9) == 0);
    for (const char *const *h = m->headers; *h != NULL; h++)
        if (strncmp(*h, "ES-ExpectedVersion: ", 20) == 0)
            expected = 1;
    if (req->op != RP_SINK_APPEND)
        return;
    RP_FUZZ_CHECK(m->post && expected);
    RP_FUZZ_CHECK(req->nevents >= 1 && req->nevents <= batch);
    {
        struct rp_json_doc *doc = NULL;

        RP_FUZZ_CHECK(rp_json_parse(&doc, m->body.data, m->body.len, NULL) ==
                      0);
        RP_FUZZ_CHECK(rp_json_root(doc)->type == RP_JSON_ARRAY);
        RP_FUZZ_CHECK(rp_json_root(doc)->len == req->nevents);
        rp_json_free(doc);
    }
}

/* Build the answer 'len' bytes at 'p' stand for into *res. */
static void
make_answer(struct rp_http_result *res, const uint8_t *p, size_t len)
{
    struct rp_fuzz_in in = {p, len};
    const uint8_t *line;
    size_t n;
    int first = 1;

    memset(res, 0, sizeof(*res));
    res->body = "";
    while ((line = rp_fuzz_until(&in, '\n', &n)) != NULL) {
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (n == 0)
            break;
        if (first && n == 1 && line[0] == '!') {
            res->transport_error = 1;
            snprintf(res->error, sizeof(res->error), "connection reset");
        } else if (first && n >= 12 && memcmp(line, "HTTP/", 5) == 0) {
            const uint8_t *sp = memchr(line, ' ', n);

            if (sp != NULL && sp + 4 <= line + n)
                res->status =
                    (sp[1] - '0') * 100L + (sp[2] - '0') * 10L + (sp[3] - '0');
        }
        rp_http_result_header(res, (const char *)line, n);
        first = 0;
    }
    res->body = (const char *)in.p;
    res->body_len = in.n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_fuzz_in in = {data, size};
    unsigned set = rp_fuzz_byte(&in);
    struct rp_sink_options o;
    struct rp_sink *s = NULL;
    struct rp_sink_req *out[MAX_OUT];
    struct rp_atompub_msg msg;
    struct rp_atompub_feed feed;
    struct rp_store_pos front;
    struct rp_error err;
    uint64_t records = 1 + (set & 3) * 2, now = 1000, last = 0;
    size_t nout = 0;
    int stopped = 0, two = (set & 8) != 0;

    memset(&o, 0, sizeof(o));
    o.source_id = "src";
    o.source_metadata = (set & 4) == 0;
    o.batch_events = set & 16 ? 3 : 1;
    o.batch_bytes = 1 << 20;
    o.max_in_flight = set & 128 ? 3 : 1;
    o.seed = 7;
    RP_FUZZ_CHECK(rp_sink_new(&s, &o, NULL, &err) == 0);
    rp_atompub_msg_init(&msg);
    memset(&feed, 0, sizeof(feed));
    if (set & 64)
        rp_sink_fetch_marker(s, CHECKPOINT_STREAM);
    for (uint64_t sv = 1; sv <= records; sv++)
        add_record(s, sv, two, o.source_metadata);
    if (set & 32) {
        static const char json[] = "{\"storeVersion\":1}";
        unsigned char id[16];

        rp_idgen_make(&ids, 0, 0, id);
        RP_FUZZ_CHECK(rp_sink_put_marker(s, CHECKPOINT_STREAM, json,
                                         sizeof(json) - 1, id, &err) == 0);
    }
    for (int step = 0; step < MAX_STEPS && !stopped; step++) {
        struct rp_sink_req *req;
        struct rp_http_result res;
        struct rp_sink_outcome outcome;
        const uint8_t *answer;
        size_t alen;
        int rc;

        while (nout < MAX_OUT && (req = rp_sink_next(s, now, 1)) != NULL) {
            check_request(&msg, req, o.batch_events);
            out[nout++] = req;
        }
        if (nout == 0) {
            uint64_t wait = rp_sink_wait_ms(s, now);

            if (wait == 0)
                break;
            now += wait;
            continue;
        }
        if ((answer = rp_fuzz_until(&in, 0, &alen)) == NULL)
            break;
        make_answer(&res, answer, alen);
        req = out[0];
        memmove(out, out + 1, --nout * sizeof(*out));
        rp_atompub_decode(&feed, req, &res, &outcome);
        err.msg[0] = '\0';
        rc = rp_sink_done(s, req, &outcome, now, &err);
        if (rc < 0) {
            RP_FUZZ_CHECK(err.msg[0] != '\0');
            stopped = 1;
        }
        rp_sink_frontier(s, &front);
        RP_FUZZ_CHECK(front.store_version >= last);
        RP_FUZZ_CHECK(front.store_version <= records);
        last = front.store_version;
        now += 10;
    }
    if (!stopped && nout == 0) {
        struct rp_sink_req *req = rp_sink_next(s, now, 1);

        if (req != NULL) {
            out[nout++] = req;
        } else if (rp_sink_wait_ms(s, now) == 0) {
            /* Nothing out, nothing to send, nothing waited for: done. */
            RP_FUZZ_CHECK(rp_sink_idle(s));
            rp_sink_frontier(s, &front);
            RP_FUZZ_CHECK(front.store_version == records);
        }
    }
    while (nout > 0)
        rp_sink_abandon(s, out[--nout]);
    rp_sink_free(s);
    rp_atompub_msg_dispose(&msg);
    rp_atompub_feed_dispose(&feed);
    return 0;
}
