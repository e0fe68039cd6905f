/* The record payload of the Lokad.CQRS event store: decoding and encoding
** of the attribute and message lists (spec section 9.1). */
#include "msgset.h"

#include <stdlib.h>
#include <string.h>

/* Read a .NET 7-bit encoded Int32 at data[*pos].  Non-minimal forms are
** accepted here (no hash covers them), as BinaryReader does; more than 5
** bytes, or a value above 2^31-1, is a format error.  Returns 0 or -1. */
static int
read_varint(const unsigned char *data, size_t len, size_t *pos, uint32_t *out)
{
    uint32_t v = 0;

    for (int i = 0; i < 5; i++) {
        unsigned char b;

        if (*pos >= len)
            return -1;
        b = data[(*pos)++];
        v |= (uint32_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80))
            return v > 0x7FFFFFFFu ? -1 : (*out = v, 0);
    }
    return -1;
}

/* Read a length-prefixed UTF-8 string.  Returns 0 or -1 with *why set. */
static int
read_string(const unsigned char *data, size_t len, size_t *pos, const char **s,
            size_t *n, const char **why)
{
    uint32_t l;

    if (read_varint(data, len, pos, &l) < 0) {
        *why = "bad string length";
        return -1;
    }
    if (l > len - *pos) {
        *why = "string runs past the end";
        return -1;
    }
    if (!rp_utf8_valid(data + *pos, l, NULL)) {
        *why = "string is not valid UTF-8";
        return -1;
    }
    *s = (const char *)data + *pos;
    *n = l;
    *pos += l;
    return 0;
}

void
rp_msgset_init(struct rp_msgset *ms)
{
    memset(ms, 0, sizeof(*ms));
}

void
rp_msgset_dispose(struct rp_msgset *ms)
{
    free(ms->attrs);
    free(ms->msgs);
    rp_msgset_init(ms);
}

void
rp_msgset_reset(struct rp_msgset *ms)
{
    ms->attr_count = 0;
    ms->msg_count = 0;
}

/* Make room for 'n' attributes (or messages), doubling at least. */
static void
grow_attrs(struct rp_msgset *ms, size_t n)
{
    if (n <= ms->attr_cap)
        return;
    if (n < 2 * ms->attr_cap)
        n = 2 * ms->attr_cap;
    ms->attrs = rp_xrealloc(ms->attrs, n * sizeof(*ms->attrs));
    ms->attr_cap = n;
}

static void
grow_msgs(struct rp_msgset *ms, size_t n)
{
    if (n <= ms->msg_cap)
        return;
    if (n < 2 * ms->msg_cap)
        n = 2 * ms->msg_cap;
    ms->msgs = rp_xrealloc(ms->msgs, n * sizeof(*ms->msgs));
    ms->msg_cap = n;
}

int
rp_msgset_decode(struct rp_msgset *ms, const unsigned char *data, size_t len,
                 struct rp_error *err)
{
    size_t pos = 0, start;
    uint32_t count, blen;
    const char *why = NULL;

    rp_msgset_reset(ms);
    start = pos;
    if (read_varint(data, len, &pos, &count) < 0) {
        why = "bad attribute count";
        goto fail;
    }
    /* Each attribute takes at least 2 bytes: check before allocating. */
    if (count > (len - pos) / 2) {
        why = "attribute count larger than the payload";
        goto fail;
    }
    grow_attrs(ms, count);
    for (uint32_t i = 0; i < count; i++) {
        struct rp_attr *a = &ms->attrs[i];

        start = pos;
        if (read_string(data, len, &pos, &a->key, &a->key_len, &why) < 0 ||
            read_string(data, len, &pos, &a->value, &a->value_len, &why) < 0)
            goto fail;
        ms->attr_count = i + 1;
    }
    start = pos;
    if (read_varint(data, len, &pos, &count) < 0) {
        why = "bad message count";
        goto fail;
    }
    /* A message takes at least 3 bytes (contract of 1 byte, body length). */
    if (count > (len - pos) / 3) {
        why = "message count larger than the payload";
        goto fail;
    }
    grow_msgs(ms, count);
    for (uint32_t i = 0; i < count; i++) {
        struct rp_msg *m = &ms->msgs[i];

        start = pos;
        if (read_string(data, len, &pos, &m->contract, &m->contract_len, &why) <
            0)
            goto fail;
        if (m->contract_len == 0) {
            why = "empty contract name";
            goto fail;
        }
        if (read_varint(data, len, &pos, &blen) < 0) {
            why = "bad body length";
            goto fail;
        }
        if (blen > len - pos) {
            why = "body runs past the end";
            goto fail;
        }
        m->body = data + pos;
        m->body_len = blen;
        pos += blen;
        ms->msg_count = i + 1;
    }
    return 0;
fail:
    rp_msgset_reset(ms);
    return rp_error_set(err, RP_EFORMAT, "not a message set: offset %zu: %s",
                        start, why);
}

void
rp_msgset_add_attr(struct rp_msgset *ms, const char *key, size_t key_len,
                   const char *value, size_t value_len)
{
    struct rp_attr *a;

    grow_attrs(ms, ms->attr_count + 1);
    a = &ms->attrs[ms->attr_count++];
    a->key = key;
    a->key_len = key_len;
    a->value = value;
    a->value_len = value_len;
}

void
rp_msgset_add_msg(struct rp_msgset *ms, const char *contract,
                  size_t contract_len, const unsigned char *body,
                  size_t body_len)
{
    struct rp_msg *m;

    grow_msgs(ms, ms->msg_count + 1);
    m = &ms->msgs[ms->msg_count++];
    m->contract = contract;
    m->contract_len = contract_len;
    m->body = body;
    m->body_len = body_len;
}

int
rp_varint_add(struct rp_buf *out, uint32_t v)
{
    unsigned char b[5];
    size_t n = 0;

    while (v >= 0x80) {
        b[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (unsigned char)v;
    return rp_buf_add(out, b, n);
}

/* Append a length-prefixed string. */
static int
add_string(struct rp_buf *out, const void *s, size_t n)
{
    int rc;

    if (n > 0x7FFFFFFF)
        return RP_EINVAL;
    if ((rc = rp_varint_add(out, (uint32_t)n)) < 0)
        return rc;
    return rp_buf_add(out, s, n);
}

int
rp_msgset_encode(struct rp_buf *out, const struct rp_msgset *ms)
{
    int rc;

    if (ms->attr_count > 0x7FFFFFFF || ms->msg_count > 0x7FFFFFFF)
        return RP_EINVAL;
    if ((rc = rp_varint_add(out, (uint32_t)ms->attr_count)) < 0)
        return rc;
    for (size_t i = 0; i < ms->attr_count; i++) {
        const struct rp_attr *a = &ms->attrs[i];

        if ((rc = add_string(out, a->key, a->key_len)) < 0 ||
            (rc = add_string(out, a->value, a->value_len)) < 0)
            return rc;
    }
    if ((rc = rp_varint_add(out, (uint32_t)ms->msg_count)) < 0)
        return rc;
    for (size_t i = 0; i < ms->msg_count; i++) {
        const struct rp_msg *m = &ms->msgs[i];

        if ((rc = add_string(out, m->contract, m->contract_len)) < 0 ||
            (rc = add_string(out, m->body, m->body_len)) < 0)
            return rc;
    }
    return 0;
}
