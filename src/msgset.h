/* The record payload of the Lokad.CQRS event store (spec section 9): a list
** of attributes (key, value) and a list of messages (contract, body). */
#ifndef RP_MSGSET_H
#define RP_MSGSET_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* One message: its contract name (spec 9.3) and its body bytes. */
struct rp_msg {
    const char *contract;      /* valid UTF-8, not NUL-terminated */
    size_t contract_len;       /* bytes in 'contract' (never 0 once decoded) */
    const unsigned char *body; /* opaque bytes (often UTF-8 JSON text) */
    size_t body_len;           /* bytes in 'body' */
};

/* One attribute (audit records: "id", "utc", then the envelope's own). */
struct rp_attr {
    const char *key;   /* valid UTF-8, not NUL-terminated */
    size_t key_len;    /* bytes in 'key' */
    const char *value; /* valid UTF-8, not NUL-terminated */
    size_t value_len;  /* bytes in 'value' */
};

/* A decoded payload.  The arrays are owned by the set and reused by the
** next decode; the strings are borrowed from the decoded bytes (or, for
** encoding, from the caller). */
struct rp_msgset {
    size_t attr_count;     /* attributes in 'attrs' */
    struct rp_attr *attrs; /* in payload order */
    size_t msg_count;      /* messages in 'msgs' */
    struct rp_msg *msgs;   /* in payload order */
    size_t attr_cap;       /* allocated entries of 'attrs' */
    size_t msg_cap;        /* allocated entries of 'msgs' */
};

/* Make 'ms' an empty set. */
void rp_msgset_init(struct rp_msgset *ms);

/* Decode 'len' bytes of 'data' into 'ms' (replacing what it held).  The
** strings point into 'data', which must outlive their use.  Trailing bytes
** after the last message are ignored, as .NET does.  Strings must be valid
** UTF-8 and contract names non-empty (every .NET contract name is).
** Returns 0, or RP_EFORMAT (not a message set; 'ms' is then empty) with the
** offset and the reason in err (may be NULL). */
int rp_msgset_decode(struct rp_msgset *ms, const unsigned char *data,
                     size_t len, struct rp_error *err);

/* Free the arrays; 'ms' is then empty and may be reused. */
void rp_msgset_dispose(struct rp_msgset *ms);

/* Forget the entries, keep the arrays. */
void rp_msgset_reset(struct rp_msgset *ms);

/* Append an attribute or a message to 'ms' (for encoding).  The strings are
** borrowed: they must outlive the set's use. */
void rp_msgset_add_attr(struct rp_msgset *ms, const char *key, size_t key_len,
                        const char *value, size_t value_len);
void rp_msgset_add_msg(struct rp_msgset *ms, const char *contract,
                       size_t contract_len, const unsigned char *body,
                       size_t body_len);

/* Append the payload bytes of 'ms' to 'out' as the .NET writer does
** (minimal varints).  Returns 0, RP_ELIMIT (out is full) or RP_EINVAL (a
** length above 2^31-1). */
int rp_msgset_encode(struct rp_buf *out, const struct rp_msgset *ms);

/* Append the .NET 7-bit encoded form of 'v' (at most 2^31-1) to 'out'.
** Returns 0 or RP_ELIMIT. */
int rp_varint_add(struct rp_buf *out, uint32_t v);

#endif
