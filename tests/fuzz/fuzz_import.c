/* Fuzz target: the JSON lines `replicator import` reads.  The input is
** split into lines as getline() splits a file (each with its newline).
**
** Promises checked: a line is skipped as blank only when it holds nothing
** but spaces, tabs and line ends; an accepted line has a UTF-8 key and its
** payload is what the line says (the base64 "data", or a message set with
** the line's messages and attributes); a refused line says why. */
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "importline.h"
#include "json.h"
#include "msgset.h"
#include "util.h"

static int
blank(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return 0;
    return 1;
}

/* Check the payload 'l' made of the line 'text' against the line. */
static void
check_payload(const struct rp_import_line *l, const char *text, size_t len)
{
    struct rp_json_doc *doc = NULL;
    const struct rp_json *root, *v;
    struct rp_buf raw;
    struct rp_msgset ms;

    RP_FUZZ_CHECK(rp_json_parse(&doc, text, len, NULL) == 0);
    root = rp_json_root(doc);
    v = rp_json_get(root, "key");
    RP_FUZZ_CHECK(v != NULL && v->type == RP_JSON_STRING);
    RP_FUZZ_CHECK(l->key_len == v->len && memcmp(l->key, v->str, v->len) == 0);
    if ((v = rp_json_get(root, "data")) != NULL) {
        rp_buf_init(&raw, 0);
        RP_FUZZ_CHECK(rp_base64_decode(&raw, v->str, v->len, NULL) == 0);
        RP_FUZZ_CHECK(
            raw.len == l->data_len &&
            (raw.len == 0 || memcmp(raw.data, l->data, raw.len) == 0));
        rp_buf_dispose(&raw);
    } else {
        const struct rp_json *attrs = rp_json_get(root, "attributes");

        rp_msgset_init(&ms);
        RP_FUZZ_CHECK(rp_msgset_decode(&ms, l->data, l->data_len, NULL) == 0);
        v = rp_json_get(root, "messages");
        RP_FUZZ_CHECK(ms.msg_count == v->len);
        RP_FUZZ_CHECK(ms.attr_count == (attrs != NULL ? attrs->len : 0));
        rp_msgset_dispose(&ms);
    }
    rp_json_free(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_import_line l;
    struct rp_error err;
    size_t at = 0;

    rp_import_line_init(&l);
    while (at < size) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t len = nl != NULL ? (size_t)(nl - (data + at)) + 1 : size - at;
        const char *text = (const char *)data + at;
        int rc;

        err.msg[0] = '\0';
        rc = rp_import_line_parse(&l, text, len, &err);
        RP_FUZZ_CHECK((rc == 0) == blank(data + at, len));
        if (rc < 0)
            RP_FUZZ_CHECK(err.msg[0] != '\0');
        if (rc == 1) {
            RP_FUZZ_CHECK(rp_utf8_valid(l.key, l.key_len, NULL));
            check_payload(&l, text, len);
        }
        at += len;
    }
    rp_import_line_dispose(&l);
    return 0;
}
