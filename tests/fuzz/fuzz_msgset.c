/* Fuzz target: the message-set decoder (a record's payload, spec 9).
** Promises checked: a decoded set holds UTF-8 names and values, non-empty
** contracts and bodies inside the payload; a failed decode leaves the set
** empty; a decoded set encoded again decodes to the same set. */
#include <string.h>

#include "fuzzutil.h"
#include "msgset.h"
#include "util.h"

/* 1 when the 'n' bytes at 'p' lie inside the payload [data, data + len). */
static int
inside(const void *p, size_t n, const uint8_t *data, size_t len)
{
    const uint8_t *q = p;

    return q >= data && q <= data + len && n <= (size_t)(data + len - q);
}

static int
same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_msgset ms, again;
    struct rp_buf out;

    rp_msgset_init(&ms);
    rp_msgset_init(&again);
    rp_buf_init(&out, 0);
    if (rp_msgset_decode(&ms, data, size, NULL) < 0) {
        RP_FUZZ_CHECK(ms.attr_count == 0 && ms.msg_count == 0);
        goto done;
    }
    for (size_t i = 0; i < ms.attr_count; i++) {
        const struct rp_attr *a = &ms.attrs[i];

        RP_FUZZ_CHECK(inside(a->key, a->key_len, data, size));
        RP_FUZZ_CHECK(inside(a->value, a->value_len, data, size));
        RP_FUZZ_CHECK(rp_utf8_valid(a->key, a->key_len, NULL));
        RP_FUZZ_CHECK(rp_utf8_valid(a->value, a->value_len, NULL));
    }
    for (size_t i = 0; i < ms.msg_count; i++) {
        const struct rp_msg *m = &ms.msgs[i];

        RP_FUZZ_CHECK(m->contract_len > 0);
        RP_FUZZ_CHECK(inside(m->contract, m->contract_len, data, size));
        RP_FUZZ_CHECK(inside(m->body, m->body_len, data, size));
        RP_FUZZ_CHECK(rp_utf8_valid(m->contract, m->contract_len, NULL));
    }
    RP_FUZZ_CHECK(rp_msgset_encode(&out, &ms) == 0);
    RP_FUZZ_CHECK(out.len <= size);
    RP_FUZZ_CHECK(rp_msgset_decode(&again, (const unsigned char *)out.data,
                                   out.len, NULL) == 0);
    RP_FUZZ_CHECK(again.attr_count == ms.attr_count);
    RP_FUZZ_CHECK(again.msg_count == ms.msg_count);
    for (size_t i = 0; i < ms.attr_count; i++) {
        RP_FUZZ_CHECK(same_bytes(ms.attrs[i].key, ms.attrs[i].key_len,
                                 again.attrs[i].key, again.attrs[i].key_len));
        RP_FUZZ_CHECK(same_bytes(ms.attrs[i].value, ms.attrs[i].value_len,
                                 again.attrs[i].value,
                                 again.attrs[i].value_len));
    }
    for (size_t i = 0; i < ms.msg_count; i++) {
        RP_FUZZ_CHECK(same_bytes(ms.msgs[i].contract, ms.msgs[i].contract_len,
                                 again.msgs[i].contract,
                                 again.msgs[i].contract_len));
        RP_FUZZ_CHECK(same_bytes(ms.msgs[i].body, ms.msgs[i].body_len,
                                 again.msgs[i].body, again.msgs[i].body_len));
    }
done:
    rp_buf_dispose(&out);
    rp_msgset_dispose(&ms);
    rp_msgset_dispose(&again);
    return 0;
}
