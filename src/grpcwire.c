/* gRPC on the wire: framing, call status, requests of the Streams
** service. */
#include "grpcwire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared.pb-c.h"
#include "streams.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

/* The generated names, shortened. */
#define S(x) EVENT_STORE__CLIENT__STREAMS__##x
#define APPEND_REQ EventStore__Client__Streams__AppendReq
#define APPEND_OPT EventStore__Client__Streams__AppendReq__Options
#define APPEND_MSG EventStore__Client__Streams__AppendReq__ProposedMessage
#define APPEND_MD                                                              \
    EventStore__Client__Streams__AppendReq__ProposedMessage__MetadataEntry
#define BATCH_REQ EventStore__Client__Streams__BatchAppendReq
#define BATCH_OPT EventStore__Client__Streams__BatchAppendReq__Options
#define BATCH_MSG EventStore__Client__Streams__BatchAppendReq__ProposedMessage
#define BATCH_MD                                                               \
    EventStore__Client__Streams__BatchAppendReq__ProposedMessage__MetadataEntry
#define READ_REQ EventStore__Client__Streams__ReadReq
#define READ_OPT EventStore__Client__Streams__ReadReq__Options
#define UUID_MSG EventStore__Client__UUID
#define UUID_HALVES EventStore__Client__UUID__Structured

#define META_STREAM "$$" /* prefix of a stream's metadata stream */

/* ---- framing ---- */

int
rp_grpc_frame(struct rp_buf *out, const void *msg, size_t n)
{
    unsigned char head[5];

    if (n > UINT32_MAX)
        return RP_ELIMIT;
    head[0] = 0;
    head[1] = (unsigned char)(n >> 24);
    head[2] = (unsigned char)(n >> 16);
    head[3] = (unsigned char)(n >> 8);
    head[4] = (unsigned char)n;
    if (rp_buf_add(out, head, 5) < 0 || rp_buf_add(out, msg, n) < 0)
        return RP_ELIMIT;
    return 0;
}

/* Pack 'm' framed onto the end of 'out'.  Returns 0 or RP_ELIMIT. */
static int
frame_message(struct rp_buf *out, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    unsigned char *p;

    if (n > UINT32_MAX ||
        (p = (unsigned char *)rp_buf_reserve(out, n + 5)) == NULL)
        return RP_ELIMIT;
    p[0] = 0;
    p[1] = (unsigned char)(n >> 24);
    p[2] = (unsigned char)(n >> 16);
    p[3] = (unsigned char)(n >> 8);
    p[4] = (unsigned char)n;
    protobuf_c_message_pack(m, p + 5);
    out->len += n + 5;
    out->data[out->len] = '\0';
    return 0;
}

void
rp_grpc_reader_init(struct rp_grpc_reader *r)
{
    rp_buf_init(&r->buf, 0);
    r->off = 0;
}

void
rp_grpc_reader_dispose(struct rp_grpc_reader *r)
{
    rp_buf_dispose(&r->buf);
    r->off = 0;
}

void
rp_grpc_reader_reset(struct rp_grpc_reader *r)
{
    rp_buf_reset(&r->buf);
    r->off = 0;
}

void
rp_grpc_reader_feed(struct rp_grpc_reader *r, const void *data, size_t n)
{
    /* Drop what was given out before growing. */
    if (r->off > 0 && (r->off == r->buf.len || r->off >= 65536)) {
        memmove(r->buf.data, r->buf.data + r->off, r->buf.len - r->off);
        r->buf.len -= r->off;
        r->off = 0;
    }
    if (rp_buf_add(&r->buf, data, n) < 0)
        abort(); /* the buffer has no maximum */
}

int
rp_grpc_reader_next(struct rp_grpc_reader *r, const unsigned char **msg,
                    size_t *len, struct rp_error *err)
{
    const unsigned char *p = (const unsigned char *)r->buf.data + r->off;
    size_t have = r->buf.len - r->off;
    uint32_t n;

    if (have < 5)
        return 0;
    if (p[0] != 0)
        return rp_error_set(err, RP_EFORMAT,
                            "a compressed gRPC message (flag %u), which was "
                            "not asked for",
                            (unsigned)p[0]);
    n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 |
        (uint32_t)p[4];
    if (n > RP_GRPC_MAX_MESSAGE)
        return rp_error_set(err, RP_EFORMAT,
                            "a gRPC message of %" PRIu32 " bytes, more than "
                            "the %u read",
                            n, RP_GRPC_MAX_MESSAGE);
    if (have - 5 < n)
        return 0;
    *msg = p + 5;
    *len = n;
    r->off += 5 + (size_t)n;
    return 1;
}

int
rp_grpc_reader_partial(const struct rp_grpc_reader *r)
{
    return r->buf.len > r->off;
}

/* ---- the status of a call ---- */

void
rp_grpc_status_init(struct rp_grpc_status *st)
{
    memset(st, 0, sizeof(*st));
    st->code = -1;
    st->pushback_ms = -1;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copy 'n' bytes of a header value into 'out' (of 'size'), control
** characters as spaces; with 'pct', %XX escapes decoded (grpc-message). */
static void
copy_value(char *out, size_t size, const char *v, size_t n, int pct)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 1 < size; i++) {
        unsigned char c = (unsigned char)v[i];

        if (pct && c == '%' && i + 2 < n &&
            hexval((unsigned char)v[i + 1]) >= 0 &&
            hexval((unsigned char)v[i + 2]) >= 0) {
            c = (unsigned char)(hexval((unsigned char)v[i + 1]) << 4 |
                                hexval((unsigned char)v[i + 2]));
            i += 2;
        }
        out[o++] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    out[o] = '\0';
}

/* A decimal number of up to 18 digits, optionally negative.  Returns 0 or
** -1. */
static int
header_number(const char *v, size_t n, long long *out)
{
    char num[24];
    char *end;

    if (n == 0 || n >= sizeof(num))
        return -1;
    memcpy(num, v, n);
    num[n] = '\0';
    if (num[0] != '-' && (num[0] < '0' || num[0] > '9'))
        return -1;
    errno = 0;
    *out = strtoll(num, &end, 10);
    return errno == 0 && *end == '\0' ? 0 : -1;
}

void
rp_grpc_status_header(struct rp_grpc_status *st, const char *line, size_t len)
{
    const char *colon, *v;
    size_t klen, vlen;
    long long x;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        const char *sp = memchr(line, ' ', len);

        /* A new status line: what came before was an interim answer. */
        st->http_version = len >= 6 && line[5] == '2' ? 2 : 1;
        st->http_status = 0;
        if (sp != NULL &&
            header_number(sp + 1,
                          (size_t)(line + len - sp - 1) > 3
                              ? 3
                              : (size_t)(line + len - sp - 1),
                          &x) == 0 &&
            x > 0 && x < 1000)
            st->http_status = (long)x;
        return;
    }
    colon = memchr(line, ':', len);
    if (colon == NULL)
        return;
    klen = (size_t)(colon - line);
    v = colon + 1;
    while (v < line + len && (*v == ' ' || *v == '\t'))
        v++;
    vlen = (size_t)(line + len - v);
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
#define IS(name)                                                               \
    (klen == sizeof(name) - 1 && strncasecmp(line, name, klen) == 0)
    if (IS("content-type")) {
        copy_value(st->content_type, sizeof(st->content_type), v, vlen, 0);
        st->grpc_content =
            (vlen == 16 && strncasecmp(v, "application/grpc", 16) == 0) ||
            (vlen > 16 && strncasecmp(v, "application/grpc+", 17) == 0) ||
            (vlen > 16 && strncasecmp(v, "application/grpc;", 17) == 0);
    } else if (IS("grpc-status")) {
        if (header_number(v, vlen, &x) == 0 && x >= 0 && x < 1000)
            st->code = (int)x;
        else
            st->code = RP_GRPC_UNKNOWN;
    } else if (IS("grpc-message")) {
        copy_value(st->message, sizeof(st->message), v, vlen, 1);
    } else if (IS("exception")) {
        copy_value(st->exception, sizeof(st->exception), v, vlen, 0);
    } else if (IS("leader-endpoint-host")) {
        copy_value(st->leader_host, sizeof(st->leader_host), v, vlen, 0);
    } else if (IS("leader-endpoint-port")) {
        if (header_number(v, vlen, &x) == 0 && x > 0 && x < 65536)
            st->leader_port = (int)x;
    } else if (IS("maximum-append-size") || IS("maximum-append-event-size")) {
        copy_value(st->limit, sizeof(st->limit), v, vlen, 0);
    } else if (IS("grpc-retry-pushback-ms")) {
        if (header_number(v, vlen, &x) == 0 && x >= 0 && x <= 3600000)
            st->pushback_ms = (long)x;
    }
#undef IS
}

/* ---- requests ---- */

void
rp_grpc_enc_init(struct rp_grpc_enc *e)
{
    memset(e, 0, sizeof(*e));
    rp_buf_init(&e->text, 0);
    rp_buf_init(&e->msg, 0);
}

void
rp_grpc_enc_dispose(struct rp_grpc_enc *e)
{
    free(e->mem);
    rp_buf_dispose(&e->text);
    rp_buf_dispose(&e->msg);
    memset(e, 0, sizeof(*e));
}

void
rp_grpc_uuid_halves(const unsigned char id[16], int64_t *msb, int64_t *lsb)
{
    uint64_t hi = 0, lo = 0;

    for (int i = 0; i < 8; i++) {
        hi = hi << 8 | id[i];
        lo = lo << 8 | id[8 + i];
    }
    /* Two's complement, as Java's getMostSignificantBits() gives it. */
    *msb = hi > INT64_MAX ? -(int64_t)(~hi) - 1 : (int64_t)hi;
    *lsb = lo > INT64_MAX ? -(int64_t)(~lo) - 1 : (int64_t)lo;
}

void
rp_grpc_uuid_bytes(unsigned char id[16], int64_t msb, int64_t lsb)
{
    uint64_t hi = (uint64_t)msb, lo = (uint64_t)lsb;

    for (int i = 7; i >= 0; i--) {
        id[i] = (unsigned char)hi;
        id[8 + i] = (unsigned char)lo;
        hi >>= 8;
        lo >>= 8;
    }
}

/* One event of Append and of BatchAppend: the same fields with the same
** numbers, in types of their own. */
struct append_event {
    APPEND_MSG pm;
    UUID_MSG id;
    UUID_HALVES half;
    APPEND_MD md[2];
    APPEND_MD *mdp[2];
};

struct batch_event {
    BATCH_MSG pm;
    UUID_MSG id;
    UUID_HALVES half;
    BATCH_MD md[2];
    BATCH_MD *mdp[2];
};

static const char json_type[] = "application/json";
static const char binary_type[] = "application/octet-stream";

/* The event id as a structured UUID in 'id' and 'half'. */
static void
fill_id(UUID_MSG *id, UUID_HALVES *half, const unsigned char bytes[16])
{
    event_store__client__uuid__init(id);
    event_store__client__uuid__structured__init(half);
    rp_grpc_uuid_halves(bytes, &half->most_significant_bits,
                        &half->least_significant_bits);
    id->value_case = EVENT_STORE__CLIENT__UUID__VALUE_STRUCTURED;
    id->structured = half;
}

/* The "content-type" value of an event. */
static char *
content_type(const struct rp_sink_event *ev)
{
    return (char *)(uintptr_t)(ev->data_json ? json_type : binary_type);
}

/* Fill 'o' for event 'ev' whose type is the NUL-terminated 'type'. */
static void
fill_append_event(struct append_event *o, const struct rp_sink_event *ev,
                  char *type)
{
    event_store__client__streams__append_req__proposed_message__init(&o->pm);
    fill_id(&o->id, &o->half, ev->id);
    o->pm.id = &o->id;
    for (int i = 0; i < 2; i++) {
        event_store__client__streams__append_req__proposed_message__metadata_entry__init(
            &o->md[i]);
        o->mdp[i] = &o->md[i];
    }
    o->md[0].key = (char *)(uintptr_t) "type";
    o->md[0].value = type;
    o->md[1].key = (char *)(uintptr_t) "content-type";
    o->md[1].value = content_type(ev);
    o->pm.n_metadata = 2;
    o->pm.metadata = o->mdp;
    o->pm.data.data = (uint8_t *)(uintptr_t)ev->data;
    o->pm.data.len = ev->data_len;
    if (ev->metadata != NULL) {
        o->pm.custom_metadata.data = (uint8_t *)(uintptr_t)ev->metadata;
        o->pm.custom_metadata.len = ev->metadata_len;
    }
}

static void
fill_batch_event(struct batch_event *o, const struct rp_sink_event *ev,
                 char *type)
{
    event_store__client__streams__batch_append_req__proposed_message__init(
        &o->pm);
    fill_id(&o->id, &o->half, ev->id);
    o->pm.id = &o->id;
    for (int i = 0; i < 2; i++) {
        event_store__client__streams__batch_append_req__proposed_message__metadata_entry__init(
            &o->md[i]);
        o->mdp[i] = &o->md[i];
    }
    o->md[0].key = (char *)(uintptr_t) "type";
    o->md[0].value = type;
    o->md[1].key = (char *)(uintptr_t) "content-type";
    o->md[1].value = content_type(ev);
    o->pm.n_metadata = 2;
    o->pm.metadata = o->mdp;
    o->pm.data.data = (uint8_t *)(uintptr_t)ev->data;
    o->pm.data.len = ev->data_len;
    if (ev->metadata != NULL) {
        o->pm.custom_metadata.data = (uint8_t *)(uintptr_t)ev->metadata;
        o->pm.custom_metadata.len = ev->metadata_len;
    }
}

/* Copy the type of 'ev' NUL-terminated into e->text (reset first).
** Returns the copy, or NULL (RP_ELIMIT). */
static char *
type_copy(struct rp_grpc_enc *e, const struct rp_sink_event *ev)
{
    rp_buf_reset(&e->text);
    if (rp_buf_add(&e->text, ev->type, ev->type_len) < 0 ||
        rp_buf_addc(&e->text, '\0') < 0)
        return NULL;
    return e->text.data;
}

/* The stream named by 'req' (the metastream for SET_METADATA) into e->msg,
** as StreamIdentifier bytes. */
static int
stream_name(struct rp_grpc_enc *e, const struct rp_sink_req *req,
            ProtobufCBinaryData *out)
{
    rp_buf_reset(&e->msg);
    if ((req->op == RP_SINK_SET_METADATA &&
         rp_buf_adds(&e->msg, META_STREAM) < 0) ||
        rp_buf_add(&e->msg, req->stream, req->stream_len) < 0)
        return RP_ELIMIT;
    out->data = (uint8_t *)e->msg.data;
    out->len = e->msg.len;
    return 0;
}

int
rp_grpc_append_request(struct rp_buf *out, struct rp_grpc_enc *e,
                       const struct rp_sink_req *req)
{
    APPEND_REQ m;
    APPEND_OPT opt;
    EventStore__Client__StreamIdentifier sid;
    EventStore__Client__Empty empty;
    struct append_event o;

    event_store__client__streams__append_req__init(&m);
    event_store__client__streams__append_req__options__init(&opt);
    event_store__client__stream_identifier__init(&sid);
    event_store__client__empty__init(&empty);
    if (stream_name(e, req, &sid.stream_name) < 0)
        return RP_ELIMIT;
    opt.stream_identifier = &sid;
    if (req->op == RP_SINK_SET_METADATA) {
        opt.expected_stream_revision_case =
            S(APPEND_REQ__OPTIONS__EXPECTED_STREAM_REVISION_ANY);
        opt.any = &empty;
    } else if (req->expected < 0) {
        opt.expected_stream_revision_case =
            S(APPEND_REQ__OPTIONS__EXPECTED_STREAM_REVISION_NO_STREAM);
        opt.no_stream = &empty;
    } else {
        opt.expected_stream_revision_case =
            S(APPEND_REQ__OPTIONS__EXPECTED_STREAM_REVISION_REVISION);
        opt.revision = (uint64_t)req->expected;
    }
    m.content_case = S(APPEND_REQ__CONTENT_OPTIONS);
    m.options = &opt;
    if (frame_message(out, &m.base) < 0)
        return RP_ELIMIT;
    for (size_t i = 0; i < req->nevents; i++) {
        struct rp_sink_event ev;
        char *type;

        rp_sink_req_event(req, i, &ev);
        if ((type = type_copy(e, &ev)) == NULL)
            return RP_ELIMIT;
        fill_append_event(&o, &ev, type);
        m.content_case = S(APPEND_REQ__CONTENT_PROPOSED_MESSAGE);
        m.proposed_message = &o.pm;
        if (frame_message(out, &m.base) < 0)
            return RP_ELIMIT;
    }
    return 0;
}

/* Room for 'n' events' structs of a BatchAppend message in e->mem. */
static struct batch_event *
batch_room(struct rp_grpc_enc *e, size_t n, BATCH_MSG ***ptrs)
{
    size_t need = n * (sizeof(struct batch_event) + sizeof(BATCH_MSG *));

    if (need > e->cap) {
        free(e->mem);
        e->mem = rp_xmalloc(need);
        e->cap = need;
    }
    *ptrs = (BATCH_MSG **)((char *)e->mem + n * sizeof(struct batch_event));
    return e->mem;
}

int
rp_grpc_batch_request(struct rp_buf *out, struct rp_grpc_enc *e,
                      const struct rp_sink_req *req,
                      const unsigned char corr[16],
                      const struct rp_grpc_deadline *deadline, size_t chunk)
{
    BATCH_REQ m;
    BATCH_OPT opt;
    EventStore__Client__StreamIdentifier sid;
    Google__Protobuf__Empty empty;
    Google__Protobuf__Timestamp ts;
    Google__Protobuf__Duration dur;
    UUID_MSG cid;
    UUID_HALVES chalf;
    BATCH_MSG **ptrs;
    struct batch_event *evs = batch_room(e, req->nevents, &ptrs);
    size_t i = 0, first = 0, bytes = 0;

    event_store__client__streams__batch_append_req__init(&m);
    event_store__client__streams__batch_append_req__options__init(&opt);
    event_store__client__stream_identifier__init(&sid);
    google__protobuf__empty__init(&empty);
    event_store__client__uuid__init(&cid);
    event_store__client__uuid__structured__init(&chalf);
    rp_grpc_uuid_halves(corr, &chalf.most_significant_bits,
                        &chalf.least_significant_bits);
    cid.value_case = EVENT_STORE__CLIENT__UUID__VALUE_STRUCTURED;
    cid.structured = &chalf;
    m.correlation_id = &cid;
    if (stream_name(e, req, &sid.stream_name) < 0)
        return RP_ELIMIT;
    opt.stream_identifier = &sid;
    if (req->expected < 0) {
        opt.expected_stream_position_case =
            S(BATCH_APPEND_REQ__OPTIONS__EXPECTED_STREAM_POSITION_NO_STREAM);
        opt.no_stream = &empty;
    } else {
        opt.expected_stream_position_case = S(
            BATCH_APPEND_REQ__OPTIONS__EXPECTED_STREAM_POSITION_STREAM_POSITION);
        opt.stream_position = (uint64_t)req->expected;
    }
    if (deadline->duration) {
        google__protobuf__duration__init(&dur);
        dur.seconds = deadline->seconds;
        dur.nanos = deadline->nanos;
        opt.deadline_option_case =
            S(BATCH_APPEND_REQ__OPTIONS__DEADLINE_OPTION_DEADLINE);
        opt.deadline = &dur;
    } else {
        google__protobuf__timestamp__init(&ts);
        ts.seconds = deadline->seconds;
        ts.nanos = deadline->nanos;
        opt.deadline_option_case =
            S(BATCH_APPEND_REQ__OPTIONS__DEADLINE_OPTION_DEADLINE_21_10_0);
        opt.deadline_21_10_0 = &ts;
    }
    m.options = &opt;
    /* The events' types, NUL-terminated, one after the other: the offsets
    ** are kept until the buffer stops moving. */
    rp_buf_reset(&e->text);
    for (i = 0; i < req->nevents; i++) {
        struct rp_sink_event ev;

        rp_sink_req_event(req, i, &ev);
        if (rp_buf_add(&e->text, ev.type, ev.type_len) < 0 ||
            rp_buf_addc(&e->text, '\0') < 0)
            return RP_ELIMIT;
    }
    {
        size_t off = 0;

        for (i = 0; i < req->nevents; i++) {
            struct rp_sink_event ev;

            rp_sink_req_event(req, i, &ev);
            fill_batch_event(&evs[i], &ev, e->text.data + off);
            off += ev.type_len + 1;
            ptrs[i] = &evs[i].pm;
        }
    }
    /* Chunks: a new message before one would pass 'chunk' bytes. */
    for (i = 0; i <= req->nevents; i++) {
        size_t cost =
            i < req->nevents
                ? protobuf_c_message_get_packed_size(&evs[i].pm.base) + 8
                : 0;

        if (i == req->nevents || (i > first && bytes + cost > chunk)) {
            m.n_proposed_messages = i - first;
            m.proposed_messages = ptrs + first;
            m.is_final = i == req->nevents;
            if (frame_message(out, &m.base) < 0)
                return RP_ELIMIT;
            m.options = NULL;
            first = i;
            bytes = 0;
        }
        bytes += cost;
    }
    return 0;
}

int
rp_grpc_read_request(struct rp_buf *out, struct rp_grpc_enc *e,
                     const struct rp_sink_req *req, size_t max_count)
{
    READ_REQ m;
    READ_OPT opt;
    EventStore__Client__Streams__ReadReq__Options__StreamOptions so;
    EventStore__Client__Streams__ReadReq__Options__UUIDOption uo;
    EventStore__Client__Streams__ReadReq__Options__ControlOption co;
    EventStore__Client__StreamIdentifier sid;
    EventStore__Client__Empty empty;

    event_store__client__streams__read_req__init(&m);
    event_store__client__streams__read_req__options__init(&opt);
    event_store__client__streams__read_req__options__stream_options__init(&so);
    event_store__client__streams__read_req__options__uuidoption__init(&uo);
    event_store__client__streams__read_req__options__control_option__init(&co);
    event_store__client__stream_identifier__init(&sid);
    event_store__client__empty__init(&empty);
    if (stream_name(e, req, &sid.stream_name) < 0)
        return RP_ELIMIT;
    so.stream_identifier = &sid;
    if (req->op == RP_SINK_READ_HEAD) {
        so.revision_option_case =
            S(READ_REQ__OPTIONS__STREAM_OPTIONS__REVISION_OPTION_END);
        so.end = &empty;
        opt.read_direction = S(READ_REQ__OPTIONS__READ_DIRECTION__Backwards);
        opt.count = 1;
    } else {
        so.revision_option_case =
            S(READ_REQ__OPTIONS__STREAM_OPTIONS__REVISION_OPTION_REVISION);
        so.revision = req->from > 0 ? (uint64_t)req->from : 0;
        opt.read_direction = S(READ_REQ__OPTIONS__READ_DIRECTION__Forwards);
        opt.count = req->count < max_count ? req->count : max_count;
        if (opt.count == 0)
            opt.count = 1;
    }
    opt.stream_option_case = S(READ_REQ__OPTIONS__STREAM_OPTION_STREAM);
    opt.stream = &so;
    opt.count_option_case = S(READ_REQ__OPTIONS__COUNT_OPTION_COUNT);
    opt.filter_option_case = S(READ_REQ__OPTIONS__FILTER_OPTION_NO_FILTER);
    opt.no_filter = &empty;
    uo.content_case = S(READ_REQ__OPTIONS__UUIDOPTION__CONTENT_STRUCTURED);
    uo.structured = &empty;
    opt.uuid_option = &uo;
    co.compatibility = 1;
    opt.control_option = &co;
    m.options = &opt;
    return frame_message(out, &m.base);
}

int
rp_grpc_empty_request(struct rp_buf *out)
{
    return rp_grpc_frame(out, "", 0);
}
