/* The event list, deterministic ids and the JSON of one event.  The list
** copies every string into one growing buffer and keeps the events in one
** growing array, so refilling a reset list allocates nothing. */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where an event's strings start in the text buffer: the pointers of the
** public struct are rebuilt from these when the buffer moves. */
struct slot {
    size_t stream; /* offset of the stream name */
    size_t type;   /* offset of the type */
    size_t data;   /* offset of the data text */
    size_t meta;   /* offset of the metadata text (unused when NULL) */
    size_t start;  /* first byte of this event's text */
};

struct rp_events {
    struct rp_event *ev; /* the events, pointers into 'text.data' */
    struct slot *slots;  /* offsets of each event's strings */
    size_t count;        /* events in use */
    size_t cap;          /* events allocated */
    struct rp_buf text;  /* every string of every event, NUL-separated */
};

/* The namespace of deterministic ids (a random UUID chosen once for this
** program; changing it would change every id ever sent). */
static const unsigned char id_namespace[16] = {
    0x38, 0x22, 0xe0, 0x85, 0x22, 0x0c, 0x45, 0x44,
    0x9f, 0x46, 0x07, 0x65, 0x65, 0x02, 0x52, 0x88};

void
rp_events_new(struct rp_events **out)
{
    struct rp_events *l = rp_xcalloc(1, sizeof(*l));

    rp_buf_init(&l->text, 0);
    *out = l;
}

void
rp_events_free(struct rp_events *l)
{
    if (l == NULL)
        return;
    rp_buf_dispose(&l->text);
    free(l->ev);
    free(l->slots);
    free(l);
}

void
rp_events_reset(struct rp_events *l)
{
    l->count = 0;
    rp_buf_reset(&l->text);
}

void
rp_events_truncate(struct rp_events *l, size_t n)
{
    if (n >= l->count)
        return;
    l->text.len = l->slots[n].start;
    l->count = n;
}

size_t
rp_events_count(const struct rp_events *l)
{
    return l->count;
}

const struct rp_event *
rp_events_get(const struct rp_events *l, size_t i)
{
    return &l->ev[i];
}

size_t
rp_events_text_bytes(const struct rp_events *l)
{
    return l->text.len;
}

/* Point the strings of event 'i' at its offsets in the current buffer. */
static void
repoint(struct rp_events *l, size_t i)
{
    const char *base = l->text.data;
    struct rp_event *e = &l->ev[i];

    e->stream = base + l->slots[i].stream;
    e->type = base + l->slots[i].type;
    e->data = base + l->slots[i].data;
    if (e->metadata != NULL)
        e->metadata = base + l->slots[i].meta;
}

/* Copy 'n' bytes and a NUL into the text buffer; returns their offset. */
static size_t
put(struct rp_events *l, const char *s, size_t n)
{
    size_t off = l->text.len;

    if (rp_buf_add(&l->text, s, n) != 0 || rp_buf_addc(&l->text, '\0') != 0)
        abort(); /* the buffer has no maximum below SIZE_MAX / 2 */
    return off;
}

void
rp_events_add(struct rp_events *l, const struct rp_event *ev)
{
    const char *old = l->text.data;
    struct slot *sl;
    size_t i;

    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->ev = rp_xrealloc(l->ev, l->cap * sizeof(*l->ev));
        l->slots = rp_xrealloc(l->slots, l->cap * sizeof(*l->slots));
    }
    i = l->count++;
    sl = &l->slots[i];
    l->ev[i] = *ev;
    sl->start = l->text.len;
    sl->stream = put(l, ev->stream, ev->stream_len);
    sl->type = put(l, ev->type, ev->type_len);
    sl->data = put(l, ev->data, ev->data_len);
    sl->meta = ev->metadata ? put(l, ev->metadata, ev->metadata_len) : 0;
    if (l->text.data != old) {
        for (size_t k = 0; k < l->count; k++)
            repoint(l, k);
    } else {
        repoint(l, i);
    }
}

void
rp_idgen_init(struct rp_idgen *g, const char *source_id, size_t len)
{
    rp_sha1_init(&g->base);
    rp_sha1_update(&g->base, id_namespace, sizeof(id_namespace));
    rp_sha1_update(&g->base, source_id, len);
}

void
rp_idgen_make(const struct rp_idgen *g, uint64_t store_version, uint32_t index,
              unsigned char id[16])
{
    struct rp_sha1 s = g->base;
    unsigned char d[RP_SHA1_LEN];
    char tail[48];
    size_t n = sizeof(tail);

    /* "/<store version>/<index>", written backwards without printf. */
    do {
        tail[--n] = (char)('0' + index % 10);
        index /= 10;
    } while (index != 0);
    tail[--n] = '/';
    do {
        tail[--n] = (char)('0' + store_version % 10);
        store_version /= 10;
    } while (store_version != 0);
    tail[--n] = '/';
    rp_sha1_update(&s, tail + n, sizeof(tail) - n);
    rp_sha1_final(&s, d);
    memcpy(id, d, 16);
    id[6] = (unsigned char)((id[6] & 0x0f) | 0x50); /* version 5 */
    id[8] = (unsigned char)((id[8] & 0x3f) | 0x80); /* RFC variant */
}

void
rp_event_format_id(char out[37], const unsigned char id[16])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 15];
    }
    out[o] = '\0';
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
rp_event_parse_id(unsigned char id[16], const char *s, size_t n)
{
    size_t o = 0;
    int nonzero = 0;

    if (n != 36)
        return RP_EINVAL;
    for (int i = 0; i < 16; i++) {
        int hi, lo;

        if (o == 8 || o == 13 || o == 18 || o == 23) {
            if (s[o] != '-')
                return RP_EINVAL;
            o++;
        }
        hi = hexval(s[o]);
        lo = hexval(s[o + 1]);
        if (hi < 0 || lo < 0)
            return RP_EINVAL;
        id[i] = (unsigned char)(hi << 4 | lo);
        nonzero |= id[i];
        o += 2;
    }
    return nonzero ? 0 : RP_EINVAL;
}
