/* Reads of the emulator: stream feeds (backward and forward pages, embed
** levels, paging links), single events by Accept type, link resolution,
** stream metadata and $all. */
#include "emu.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

#define PAGE 20
#define MAX_PAGE 4096

enum accept {
    A_NONE,  /* no Accept, or only * / * */
    A_ATOM,  /* application/vnd.eventstore.atom+json (or kurrent) */
    A_JSON,  /* application/json */
    A_OCTET, /* application/octet-stream */
    A_EVENT, /* application/vnd.eventstore.event+json */
    A_BAD    /* nothing acceptable */
};

enum embed { E_NONE, E_CONTENT, E_RICH, E_BODY, E_PRETTY, E_TRYHARDER };

struct rctx {
    struct emu_server *srv;
    const struct emu_request *req;
    struct rp_buf base; /* "http://host:port" */
    int embed;          /* enum embed */
    int nulls;          /* write null fields (21.10+ style) */
    int resolve;        /* resolve $> links */
    const char *author;
    const char *media; /* the chosen Content-Type */
    struct rp_buf tmp;
    struct rp_buf tmp2;
};

/* Pick a media type from Accept for a feed ('single' = 0) or a single
** event. */
static enum accept
negotiate(const struct emu_server *srv, const struct emu_request *req,
          int single, const char **media)
{
    const struct emu_header *h = emu_header_get(req, "Accept");
    const char *fmt;
    size_t fl, i = 0;
    double best_q = -1.0;
    enum accept best = A_BAD;
    int any = 0, only_wild = 1;

    fmt = emu_query_get(req, "format", &fl);
    if (fmt != NULL) {
        if (fl == 4 && strncasecmp(fmt, "json", 4) == 0) {
            *media = "application/json";
            return A_JSON;
        }
        return A_BAD;
    }
    if (h == NULL || h->value_len == 0)
        return A_NONE;
    while (i < h->value_len) {
        const char *p = h->value + i, *comma, *semi, *q;
        size_t n = h->value_len - i, tl;
        double qv = 1.0;
        enum accept a = A_BAD;
        const char *mt = NULL;

        comma = memchr(p, ',', n);
        if (comma != NULL)
            n = (size_t)(comma - p);
        i += n + 1;
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        semi = memchr(p, ';', n);
        tl = semi ? (size_t)(semi - p) : n;
        while (tl > 0 && (p[tl - 1] == ' ' || p[tl - 1] == '\t'))
            tl--;
        if (tl == 0)
            continue;
        any = 1;
        q = semi;
        while (q != NULL && q < p + n) {
            const char *s = q + 1;

            while (s < p + n && *s == ' ')
                s++;
            if (p + n - s >= 2 && s[0] == 'q' && s[1] == '=')
                qv = strtod(s + 2, NULL);
            q = memchr(s, ';', (size_t)(p + n - s));
        }
#define IS(s) (tl == sizeof(s) - 1 && strncasecmp(p, s, tl) == 0)
        if (IS("*/*"))
            continue;
        only_wild = 0;
        if (IS("application/vnd.eventstore.atom+json")) {
            a = A_ATOM;
            mt = "application/vnd.eventstore.atom+json";
        } else if (srv->profile == EMU_V25 &&
                   IS("application/vnd.kurrent.atom+json")) {
            a = A_ATOM;
            mt = "application/vnd.kurrent.atom+json";
        } else if (IS("application/json")) {
            a = A_JSON;
            mt = "application/json";
        } else if (single && IS("application/octet-stream")) {
            a = A_OCTET;
            mt = "application/octet-stream";
        } else if (single && IS("application/vnd.eventstore.event+json")) {
            a = A_EVENT;
            mt = "application/vnd.eventstore.event+json";
        } else if (single && srv->profile == EMU_V25 &&
                   IS("application/vnd.kurrent.event+json")) {
            a = A_EVENT;
            mt = "application/vnd.kurrent.event+json";
        }
#undef IS
        if (a != A_BAD && qv > 0.0 && qv > best_q) {
            best_q = qv;
            best = a;
            *media = mt;
        }
    }
    if (!any || only_wild)
        return A_NONE;
    return best;
}

/* 406 with the description document of a stream (no usable Accept). */
static void
description(struct rctx *x, struct emu_reply *rep, const char *stream,
            size_t len)
{
    struct rp_buf *b = &rep->body, path;

    rp_buf_init(&path, 0);
    rp_buf_adds(&path, "/streams/");
    emu_escape(&path, stream, len);
    emu_reply_status(rep, 406, "Not Acceptable");
    emu_reply_header(rep, "Content-Type",
                     "application/vnd.eventstore.streamdesc+json; "
                     "charset=utf-8");
    rp_buf_adds(b, "{\"title\":\"Description document for '");
    rp_buf_reset(&x->tmp2);
    rp_json_add_string(&x->tmp2, stream, len);
    rp_buf_add(b, x->tmp2.data + 1, x->tmp2.len - 2);
    rp_buf_adds(b, "'\",\"description\":"
                   "\"The description document will be presented when no "
                   "accept header is present or it was requested\","
                   "\"_links\":{\"self\":{\"href\":");
    rp_json_add_string(b, path.data, path.len);
    rp_buf_adds(b, ",\"supportedContentTypes\":[\"application/"
                   "vnd.eventstore.streamdesc+json\"]},\"stream\":{\"href\":");
    rp_json_add_string(b, path.data, path.len);
    rp_buf_printf(b,
                  ",\"supportedContentTypes\":[\"application/atom+xml\","
                  "%s\"application/vnd.eventstore.atom+json\"]}}}",
                  x->srv->profile == EMU_V25
                      ? "\"application/vnd.kurrent.atom+json\","
                      : "");
    rp_buf_dispose(&path);
}

/* Parse a non-negative decimal.  Returns 0 or -1. */
static int
parse_num(const char *s, int64_t *out)
{
    int64_t v = 0;

    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

/* Append the absolute URL of stream 'name'. */
static void
add_stream_url(struct rctx *x, struct rp_buf *b, const char *name, size_t len)
{
    rp_buf_add(b, x->base.data, x->base.len);
    rp_buf_adds(b, "/streams/");
    emu_escape(b, name, len);
}

static void json_url(struct rctx *x, struct rp_buf *b, const char *name,
                     size_t len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Append a quoted URL: the stream URL then the printf-style suffix. */
static void
json_url(struct rctx *x, struct rp_buf *b, const char *name, size_t len,
         const char *fmt, ...)
{
    char suffix[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(suffix, sizeof(suffix), fmt, ap);
    va_end(ap);
    rp_buf_reset(&x->tmp2);
    add_stream_url(x, &x->tmp2, name, len);
    rp_buf_adds(&x->tmp2, suffix);
    rp_json_add_string(b, x->tmp2.data, x->tmp2.len);
}

/* Resolve a $> event: the target stream and number, or 0. */
static int
resolve_link(struct rctx *x, const struct emu_event *e, struct emu_stream **ts,
             size_t *tn)
{
    const char *at;
    int64_t n = 0;
    size_t i;
    struct emu_stream *s;

    if (e->type_len != 2 || memcmp(e->type, "$>", 2) != 0)
        return 0;
    at = memchr(e->data, '@', e->data_len);
    if (at == NULL || at == e->data)
        return 0;
    for (i = 0; e->data + i < at; i++) {
        if (e->data[i] < '0' || e->data[i] > '9' || n > INT64_MAX / 20)
            return 0;
        n = n * 10 + (e->data[i] - '0');
    }
    s = emu_store_find(x->srv->store, at + 1,
                       e->data_len - (size_t)(at + 1 - e->data));
    if (s == NULL || s->state != EMU_LIVE || (uint64_t)n >= s->count ||
        (uint64_t)n < s->first_visible)
        return 0;
    *ts = s;
    *tn = (size_t)n;
    return 1;
}

/* Write "key":null, when the profile writes null fields. */
static void
add_null(struct rctx *x, struct rp_buf *b, const char *key)
{
    if (x->nulls)
        rp_buf_printf(b, "\"%s\":null,", key);
}

/* The stored text as a JSON value when it is JSON, else as a string. */
static void
add_parsed(struct rp_buf *b, const char *s, size_t n, int json)
{
    struct rp_json_doc *doc = NULL;

    if (json && rp_json_parse(&doc, s, n, NULL) == 0) {
        rp_json_add_value(b, rp_json_root(doc));
        rp_json_free(doc);
        return;
    }
    emu_json_add_lossy(b, s, n);
}

/* One feed entry for event 'num' of 's' (shown as its link target when
** 'resolve' finds one). */
static void
entry(struct rctx *x, struct rp_buf *b, struct emu_stream *s, size_t num)
{
    const struct emu_event *link = &s->ev[num], *e = link;
    struct emu_stream *es = s;
    size_t en = num;
    int resolved = 0;
    char id[37], when[40];
    const char *d, *m;
    size_t dl, ml;

    if (x->resolve && resolve_link(x, link, &es, &en)) {
        e = &es->ev[en];
        resolved = 1;
    }
    emu_uuid_format(id, e->id);
    /* A resolved link keeps its own time and the summary "$>". */
    emu_format_time(when, link->created_us);
    rp_buf_addc(b, '{');
    if (x->embed >= E_RICH) {
        int is_json = (e->flags & EMU_EV_JSON) != 0;

        rp_buf_printf(b, "\"eventId\":\"%s\",\"eventType\":", id);
        rp_json_add_string(b, e->type, e->type_len);
        rp_buf_printf(b, ",\"eventNumber\":%zu,", en);
        d = emu_event_data(e, &x->tmp, &dl);
        if (x->embed >= E_BODY) {
            if (is_json) {
                rp_buf_adds(b, "\"data\":");
                emu_json_add_lossy(b, d, dl);
                rp_buf_addc(b, ',');
            } else if (x->embed == E_TRYHARDER) {
                rp_buf_adds(b, "\"data\":");
                rp_buf_reset(&x->tmp2);
                if (dl > 0 && d[0] == '{' &&
                    emu_json_indent(&x->tmp2, d, dl) == 0) {
                    rp_json_add_string(b, x->tmp2.data, x->tmp2.len);
                    is_json = 1;
                } else {
                    emu_json_add_lossy(b, d, dl);
                }
                rp_buf_reset(&x->tmp2);
                rp_buf_addc(b, ',');
            } else {
                add_null(x, b, "data");
            }
            m = emu_event_meta(e, &x->tmp, &ml);
            if (ml > 0) {
                rp_buf_adds(b, "\"metaData\":");
                emu_json_add_lossy(b, m, ml);
                rp_buf_addc(b, ',');
            } else {
                add_null(x, b, "metaData");
            }
            if (resolved && link->meta_len > 0) {
                m = emu_event_meta(link, &x->tmp, &ml);
                rp_buf_adds(b, "\"linkMetaData\":");
                emu_json_add_lossy(b, m, ml);
                rp_buf_addc(b, ',');
            } else {
                add_null(x, b, "linkMetaData");
            }
        }
        rp_buf_adds(b, "\"streamId\":");
        rp_json_add_string(b, es->name, es->name_len);
        rp_buf_printf(b,
                      ",\"isJson\":%s,\"isMetaData\":%s,"
                      "\"isLinkMetaData\":%s,",
                      is_json ? "true" : "false",
                      e->meta_len > 0 ? "true" : "false",
                      resolved && link->meta_len > 0 ? "true" : "false");
        if (x->srv->profile >= EMU_V23)
            rp_buf_adds(b, "\"isRedacted\":false,");
        rp_buf_printf(b,
                      "\"positionEventNumber\":%zu,\"positionStreamId\":", num);
        rp_json_add_string(b, s->name, s->name_len);
        rp_buf_addc(b, ',');
    }
    rp_buf_printf(b, "\"title\":\"%zu@", en);
    rp_buf_reset(&x->tmp2);
    rp_json_add_string(&x->tmp2, es->name, es->name_len);
    rp_buf_add(b, x->tmp2.data + 1, x->tmp2.len - 1); /* no opening quote */
    rp_buf_adds(b, ",\"id\":");
    json_url(x, b, es->name, es->name_len, "/%zu", en);
    rp_buf_printf(b,
                  ",\"updated\":\"%s\",\"author\":{\"name\":\"%s\"},"
                  "\"summary\":",
                  when, x->author);
    if (resolved)
        rp_buf_adds(b, "\"$>\"");
    else
        rp_json_add_string(b, e->type, e->type_len);
    if (x->embed == E_CONTENT && (e->flags & EMU_EV_JSON) && !resolved) {
        rp_buf_adds(b, ",\"content\":{\"eventStreamId\":");
        rp_json_add_string(b, es->name, es->name_len);
        rp_buf_printf(b, ",\"eventNumber\":%zu,\"eventType\":", en);
        rp_json_add_string(b, e->type, e->type_len);
        rp_buf_printf(b, ",\"eventId\":\"%s\",\"data\":", id);
        d = emu_event_data(e, &x->tmp, &dl);
        add_parsed(b, d, dl, 1);
        rp_buf_adds(b, ",\"metadata\":");
        m = emu_event_meta(e, &x->tmp, &ml);
        if (ml > 0)
            add_parsed(b, m, ml, 1);
        else
            rp_buf_adds(b, "null");
        rp_buf_addc(b, '}');
    }
    rp_buf_adds(b, ",\"links\":[{\"uri\":");
    json_url(x, b, es->name, es->name_len, "/%zu", en);
    rp_buf_adds(b, ",\"relation\":\"edit\"},{\"uri\":");
    json_url(x, b, es->name, es->name_len, "/%zu", en);
    rp_buf_adds(b, ",\"relation\":\"alternate\"}]}");
}

/* One {"uri","relation"} of a feed's links; *first tracks the commas. */
static void
link_rel(struct rctx *x, struct rp_buf *b, const char *name, size_t len,
         const char *rel, const char *suffix, int *first)
{
    rp_buf_adds(b, *first ? "{\"uri\":" : ",{\"uri\":");
    json_url(x, b, name, len, "%s", suffix);
    rp_buf_printf(b, ",\"relation\":\"%s\"}", rel);
    *first = 0;
}

/* A page of stream 's'.  'head': a backward read from the head. */
static void
feed(struct rctx *x, struct emu_reply *rep, struct emu_stream *s, int64_t from,
     int64_t count, int forward, int head)
{
    struct rp_buf *b = &rep->body;
    int64_t last = (int64_t)s->count - 1, lo, hi, n;
    int64_t minv = (int64_t)s->first_visible;
    int first = 1, at_head;
    char when[40], suffix[96];

    if (head)
        from = last;
    if (forward) {
        lo = from < minv ? minv : from;
        hi = from + count - 1 < last ? from + count - 1 : last;
        at_head = from + count - 1 >= last;
    } else {
        hi = from < last ? from : last;
        lo = from - count + 1 > minv ? from - count + 1 : minv;
        at_head = head;
    }
    emu_reply_status(rep, 200, "OK");
    emu_reply_header(rep, "Content-Type", "%s; charset=utf-8", x->media);
    if (head || (forward && !at_head) == 0)
        emu_reply_header(rep, "Cache-Control",
                         "max-age=0, no-cache, must-revalidate");
    else
        emu_reply_header(rep, "Cache-Control", "max-age=31536000, public");
    if (head)
        emu_reply_header(rep, "ETag", "\"%lld;-2060438500\"", (long long)last);
    rp_buf_adds(b, "{\"title\":\"Event stream '");
    rp_buf_reset(&x->tmp2);
    rp_json_add_string(&x->tmp2, s->name, s->name_len);
    rp_buf_add(b, x->tmp2.data + 1, x->tmp2.len - 2);
    rp_buf_adds(b, "'\",\"id\":");
    json_url(x, b, s->name, s->name_len, "%s", "");
    if (hi >= lo)
        emu_format_time(when, s->ev[hi].created_us);
    else
        snprintf(when, sizeof(when), "0001-01-01T00:00:00Z");
    rp_buf_printf(b, ",\"updated\":\"%s\",\"streamId\":", when);
    rp_json_add_string(b, s->name, s->name_len);
    rp_buf_printf(b, ",\"author\":{\"name\":\"%s\"},\"headOfStream\":%s,",
                  x->author, at_head ? "true" : "false");
    if (head && !forward) {
        rp_buf_adds(b, "\"selfUrl\":");
        json_url(x, b, s->name, s->name_len, "%s", "");
        rp_buf_printf(b, ",\"eTag\":\"%lld;-2060438500\",", (long long)last);
    } else {
        add_null(x, b, "selfUrl");
        add_null(x, b, "eTag");
    }
    rp_buf_adds(b, "\"links\":[");
    link_rel(x, b, s->name, s->name_len, "self", "", &first);
    snprintf(suffix, sizeof(suffix), "/head/backward/%lld", (long long)count);
    link_rel(x, b, s->name, s->name_len, "first", suffix, &first);
    if (forward) {
        if (from > 0) {
            snprintf(suffix, sizeof(suffix), "/0/forward/%lld",
                     (long long)count);
            link_rel(x, b, s->name, s->name_len, "last", suffix, &first);
            snprintf(suffix, sizeof(suffix), "/%lld/backward/%lld",
                     (long long)(from - 1), (long long)count);
            link_rel(x, b, s->name, s->name_len, "next", suffix, &first);
        }
        if (!(hi < lo && from > last)) {
            int64_t p = (from + count - 1 < last ? from + count - 1 : last) + 1;

            snprintf(suffix, sizeof(suffix), "/%lld/forward/%lld", (long long)p,
                     (long long)count);
            link_rel(x, b, s->name, s->name_len, "previous", suffix, &first);
        }
    } else {
        if (from - count >= minv) {
            snprintf(suffix, sizeof(suffix), "/%lld/forward/%lld",
                     (long long)minv, (long long)count);
            link_rel(x, b, s->name, s->name_len, "last", suffix, &first);
            snprintf(suffix, sizeof(suffix), "/%lld/backward/%lld",
                     (long long)(from - count), (long long)count);
            link_rel(x, b, s->name, s->name_len, "next", suffix, &first);
        }
        snprintf(suffix, sizeof(suffix), "/%lld/forward/%lld",
                 (long long)((from < last ? from : last) + 1),
                 (long long)count);
        link_rel(x, b, s->name, s->name_len, "previous", suffix, &first);
    }
    link_rel(x, b, s->name, s->name_len, "metadata", "/metadata", &first);
    rp_buf_adds(b, "],\"entries\":[");
    for (n = hi; n >= lo; n--) {
        if (n != hi)
            rp_buf_addc(b, ',');
        entry(x, b, s, (size_t)n);
    }
    rp_buf_adds(b, "]}");
}

/* A page of $all: positions are indices of the global log. */
static void
feed_all(struct rctx *x, struct emu_reply *rep, int64_t from, int64_t count,
         int forward, int head)
{
    struct rp_buf *b = &rep->body;
    int64_t total = (int64_t)emu_store_global_count(x->srv->store);
    int64_t lo, hi, n;
    int first = 1, wrote = 0;
    char suffix[128];

    if (head)
        from = total - 1;
    if (forward) {
        lo = from;
        hi = from + count - 1 < total - 1 ? from + count - 1 : total - 1;
    } else {
        hi = from < total - 1 ? from : total - 1;
        lo = from - count + 1 > 0 ? from - count + 1 : 0;
    }
    emu_reply_status(rep, 200, "OK");
    emu_reply_header(rep, "Content-Type", "%s; charset=utf-8", x->media);
    rp_buf_adds(b, "{\"title\":\"All events\",\"id\":");
    json_url(x, b, "$all", 4, "%s", "");
    rp_buf_printf(b,
                  ",\"updated\":\"0001-01-01T00:00:00Z\","
                  "\"author\":{\"name\":\"%s\"},\"headOfStream\":%s,",
                  x->author,
                  (forward ? hi >= total - 1 : head) ? "true" : "false");
    rp_buf_adds(b, "\"links\":[");
    link_rel(x, b, "$all", 4, "self", "", &first);
    snprintf(suffix, sizeof(suffix), "/head/backward/%lld", (long long)count);
    link_rel(x, b, "$all", 4, "first", suffix, &first);
    snprintf(suffix, sizeof(suffix), "/%016llx%016llx/forward/%lld",
             (unsigned long long)(hi + 1), (unsigned long long)(hi + 1),
             (long long)count);
    link_rel(x, b, "$all", 4, "previous", suffix, &first);
    if (lo > 0) {
        snprintf(suffix, sizeof(suffix), "/%016llx%016llx/backward/%lld",
                 (unsigned long long)(lo - 1), (unsigned long long)(lo - 1),
                 (long long)count);
        link_rel(x, b, "$all", 4, "next", suffix, &first);
    }
    rp_buf_adds(b, "],\"entries\":[");
    for (n = hi; n >= lo; n--) {
        struct emu_stream *s;
        size_t num;

        if (!emu_store_global(x->srv->store, (uint64_t)n, &s, &num))
            continue;
        if (wrote++)
            rp_buf_addc(b, ',');
        entry(x, b, s, num);
    }
    rp_buf_adds(b, "]}");
}

/* GET /streams/{s}/{n} and /head. */
static void
single(struct rctx *x, struct emu_reply *rep, enum accept a,
       struct emu_stream *s, int64_t num)
{
    struct rp_buf *b = &rep->body;
    struct emu_stream *es = s;
    size_t en;
    const struct emu_event *e;
    const char *d, *m;
    size_t dl, ml;
    char id[37];

    if (num < (int64_t)s->first_visible || num >= (int64_t)s->count) {
        emu_reply_status(rep, 404, "Not Found");
        return;
    }
    en = (size_t)num;
    e = &s->ev[en];
    if (x->resolve && e->type_len == 2 && memcmp(e->type, "$>", 2) == 0) {
        if (!resolve_link(x, e, &es, &en)) {
            emu_reply_status(rep, 404, "Not Found");
            return;
        }
        e = &es->ev[en];
    }
    emu_reply_status(rep, 200, "OK");
    d = emu_event_data(e, &x->tmp, &dl);
    switch (a) {
    case A_OCTET:
        emu_reply_header(rep, "Content-Type", "application/octet-stream");
        rp_buf_add(b, d, dl);
        break;
    case A_JSON:
        emu_reply_header(rep, "Content-Type",
                         "application/json; charset=utf-8");
        if (e->flags & EMU_EV_JSON)
            rp_buf_add(b, d, dl);
        else
            emu_json_add_lossy(b, d, dl);
        break;
    case A_EVENT:
        emu_reply_header(rep, "Content-Type", "%s; charset=utf-8", x->media);
        emu_uuid_format(id, e->id);
        rp_buf_adds(b, "{\"eventStreamId\":");
        rp_json_add_string(b, es->name, es->name_len);
        rp_buf_printf(b, ",\"eventNumber\":%zu,\"eventType\":", en);
        rp_json_add_string(b, e->type, e->type_len);
        rp_buf_printf(b, ",\"eventId\":\"%s\",\"data\":", id);
        add_parsed(b, d, dl, (e->flags & EMU_EV_JSON) != 0);
        m = emu_event_meta(e, &x->tmp, &ml);
        rp_buf_adds(b, ",\"metadata\":");
        if (ml > 0)
            add_parsed(b, m, ml, (e->flags & EMU_EV_META_FMT) != 0);
        else
            rp_buf_adds(b, "\"\"");
        rp_buf_addc(b, '}');
        break;
    default:
        emu_reply_header(rep, "Content-Type", "%s; charset=utf-8", x->media);
        if (x->embed == E_NONE)
            x->embed = E_CONTENT;
        x->resolve = 0; /* already resolved */
        entry(x, b, es, en);
        break;
    }
}

/* GET /streams/{s}/metadata: the newest event of $${s}, or {}. */
static void
metadata(struct rctx *x, struct emu_reply *rep, const char *name, size_t len)
{
    struct rp_buf meta;
    struct emu_stream *m;

    rp_buf_init(&meta, 0);
    rp_buf_adds(&meta, "$$");
    rp_buf_add(&meta, name, len);
    m = emu_store_find(x->srv->store, meta.data, meta.len);
    emu_reply_status(rep, 200, "OK");
    emu_reply_header(rep, "Content-Type", "application/json; charset=utf-8");
    if (m == NULL || m->state != EMU_LIVE || m->count <= m->first_visible) {
        rp_buf_adds(&rep->body, "{}");
    } else {
        size_t dl;
        const char *d = emu_event_data(&m->ev[m->count - 1], &x->tmp, &dl);

        rp_buf_add(&rep->body, d, dl);
    }
    rp_buf_dispose(&meta);
}

/* The ?embed= level (case-insensitive; unknown means none). */
static int
parse_embed(const struct emu_request *req)
{
    size_t n;
    const char *v = emu_query_get(req, "embed", &n);

#define IS(s) (n == sizeof(s) - 1 && strncasecmp(v, s, n) == 0)
    if (v == NULL)
        return E_NONE;
    if (IS("content"))
        return E_CONTENT;
    if (IS("rich"))
        return E_RICH;
    if (IS("body"))
        return E_BODY;
    if (IS("pretty"))
        return E_PRETTY;
    if (IS("tryharder"))
        return E_TRYHARDER;
#undef IS
    return E_NONE;
}

void
emu_read(struct emu_server *srv, const struct emu_request *req,
         struct emu_reply *rep, const char *stream, size_t stream_len,
         char **segs, size_t nsegs, int admin)
{
    struct rctx x;
    const struct emu_header *h;
    enum accept a;
    int is_all = stream_len == 4 && memcmp(stream, "$all", 4) == 0;
    int single_route, forward = 0, head = 0, rl = 0, resolve;
    int64_t from = 0, count = PAGE, long_poll = 0;
    struct emu_stream *s;
    char msg[300];

    memset(&x, 0, sizeof(x));
    x.srv = srv;
    x.req = req;
    x.nulls = srv->profile >= EMU_V23;
    x.author = srv->profile == EMU_V25 ? "Kurrent" : "EventStore";
    x.embed = parse_embed(req);
    rp_buf_init(&x.base, 0);
    rp_buf_init(&x.tmp, 0);
    rp_buf_init(&x.tmp2, 0);
    emu_base_url(srv, req, &x.base);
    single_route = nsegs == 2 && strcmp(segs[1], "metadata") != 0;
    if (nsegs > 4 || (nsegs == 4 && strcmp(segs[2], "forward") != 0 &&
                      strcmp(segs[2], "backward") != 0)) {
        emu_reply_status(rep, 404, "Not Found");
        goto done;
    }
    if (nsegs == 2 && strcmp(segs[1], "metadata") == 0) {
        if (!emu_read_allowed(srv, admin, stream, stream_len)) {
            emu_reply_status(rep, 401, "Unauthorized");
            goto done;
        }
        metadata(&x, rep, stream, stream_len);
        goto done;
    }
    x.media = "application/vnd.eventstore.atom+json";
    a = negotiate(srv, req, single_route, &x.media);
    if (a == A_NONE && !single_route) {
        description(&x, rep, stream, stream_len);
        goto done;
    }
    if (a == A_NONE || a == A_BAD) {
        emu_reply_status(rep, 406,
                         "Requested URI is not available in requested format");
        goto done;
    }
    if (!emu_read_allowed(srv, admin, stream, stream_len)) {
        emu_reply_status(rep, 401, "Unauthorized");
        if (srv->profile == EMU_V5)
            emu_reply_header(rep, "WWW-Authenticate",
                             "BasicCustom realm=\"ES\"");
        goto done;
    }
    resolve =
        emu_header_bool(emu_es_header(srv, req, "ResolveLinkTos"), !is_all);
    if (resolve < 0) {
        snprintf(msg, sizeof(msg), "%s-ResolveLinkTos header in wrong format.",
                 srv->profile == EMU_V25 ? "Kurrent" : "ES");
        emu_reply_bad(srv, rep, msg);
        goto done;
    }
    x.resolve = resolve;
    h = emu_es_header(srv, req, "LongPoll");
    if (h != NULL) {
        char v[24];
        int64_t lp;

        if (h->value_len == 0 || h->value_len >= sizeof(v))
            goto bad_lp;
        memcpy(v, h->value, h->value_len);
        v[h->value_len] = '\0';
        if (parse_num(v, &lp) != 0 || lp <= 0)
            goto bad_lp;
        long_poll = lp > 86400 ? 86400 : lp;
    }
    rl = emu_header_bool(emu_es_header(srv, req, "RequireLeader"), 0);
    if (srv->profile != EMU_V5 && rl >= 0)
        rl |= emu_header_bool(emu_header_get(req, "ES-RequireMaster"), 0);
    if (srv->profile == EMU_V5)
        rl = emu_header_bool(emu_header_get(req, "ES-RequireMaster"), 0);
    if (rl < 0) {
        snprintf(msg, sizeof(msg), "%s header in wrong format.",
                 srv->profile == EMU_V5    ? "ES-RequireMaster"
                 : srv->profile == EMU_V25 ? "Kurrent-RequireLeader"
                                           : "ES-RequireLeader");
        emu_reply_bad(srv, rep, msg);
        goto done;
    }
    if (rl && srv->leader >= 0 && req->node != srv->leader) {
        emu_reply_status(rep, 307, "Temporary Redirect");
        emu_reply_header(rep, "Location", "http://127.0.0.1:%d%.*s",
                         srv->ports[srv->leader], (int)req->target_len,
                         req->target);
        goto done;
    }
    /* The page or event asked for. */
    if (nsegs == 1) {
        head = 1;
    } else if (nsegs == 2) {
        if (strcmp(segs[1], "head") != 0 && parse_num(segs[1], &from) != 0) {
            snprintf(msg, sizeof(msg), "'%s' is not valid event number",
                     segs[1]);
            emu_reply_bad(srv, rep, msg);
            goto done;
        }
        head = strcmp(segs[1], "head") == 0;
    } else {
        const char *cs = segs[nsegs - 1];

        forward = nsegs == 4 && strcmp(segs[2], "forward") == 0;
        if (strcmp(segs[1], "head") == 0 && !forward) {
            head = 1;
        } else if (is_all) {
            char hex[17];

            if (strlen(segs[1]) != 32) {
                snprintf(msg, sizeof(msg), "'%s' is not valid position",
                         segs[1]);
                emu_reply_bad(srv, rep, msg);
                goto done;
            }
            memcpy(hex, segs[1], 16);
            hex[16] = '\0';
            {
                unsigned long long pos = strtoull(hex, NULL, 16);

                from = pos > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)pos;
            }
        } else if (parse_num(segs[1], &from) != 0) {
            snprintf(msg, sizeof(msg), "'%s' is not valid event number",
                     segs[1]);
            emu_reply_bad(srv, rep, msg);
            goto done;
        }
        if (parse_num(cs, &count) != 0 || count <= 0) {
            snprintf(msg, sizeof(msg),
                     "'%s' is not valid count. Should be positive integer", cs);
            emu_reply_bad(srv, rep, msg);
            goto done;
        }
        if (count > MAX_PAGE) {
            emu_reply_status(rep, 500,
                             "Read size too big, should be less "
                             "than 4096 items");
            goto done;
        }
    }
    if (from > INT64_MAX / 2)
        from = INT64_MAX / 2; /* far past any end; no overflow below */
    if (is_all) {
        if (a != A_ATOM && a != A_JSON) {
            emu_reply_status(rep, 406,
                             "Requested URI is not available in "
                             "requested format");
            goto done;
        }
        feed_all(&x, rep, from, count, forward, head);
        goto done;
    }
    s = emu_store_find(srv->store, stream, stream_len);
    if (s != NULL && s->state == EMU_HARD_DELETED) {
        emu_reply_status(rep, 410, "Deleted");
        goto done;
    }
    if (s == NULL || s->state == EMU_SOFT_DELETED || s->count == 0) {
        emu_reply_status(rep, 404, "Not Found");
        goto done;
    }
    if (single_route) {
        single(&x, rep, a, s, head ? (int64_t)s->count - 1 : from);
        goto done;
    }
    if (a != A_ATOM && a != A_JSON) {
        emu_reply_status(rep, 406,
                         "Requested URI is not available in "
                         "requested format");
        goto done;
    }
    if (forward && long_poll > 0 && !req->no_park &&
        from > (int64_t)s->count - 1) {
        /* Nothing to show yet: wait for a write (ES-LongPoll). */
        rep->park_ms = (uint64_t)long_poll * 1000;
        goto done;
    }
    feed(&x, rep, s, from, count, forward, head);
    goto done;
bad_lp:
    snprintf(msg, sizeof(msg), "%s-LongPoll header in wrong format.",
             srv->profile == EMU_V25 ? "Kurrent" : "ES");
    emu_reply_bad(srv, rep, msg);
done:
    rp_buf_dispose(&x.base);
    rp_buf_dispose(&x.tmp);
    rp_buf_dispose(&x.tmp2);
}
