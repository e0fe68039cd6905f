/* Fuzz target: the JSON parser (server answers, import lines, checkpoint
** events).  Promises checked: the tree parser, the shallow parser and the
** validator agree on what is JSON; every string in a tree is UTF-8; a tree
** written back compactly parses again to the same compact text. */
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "json.h"
#include "util.h"

/* Check the strings of 'v' and everything below it; read its numbers. */
static void
walk(const struct rp_json *v, int depth)
{
    int64_t x;

    RP_FUZZ_CHECK(depth <= 512);
    if (v->key != NULL)
        RP_FUZZ_CHECK(rp_utf8_valid(v->key, v->key_len, NULL));
    if (v->type == RP_JSON_STRING) {
        RP_FUZZ_CHECK(rp_utf8_valid(v->str, v->len, NULL));
        RP_FUZZ_CHECK(v->str[v->len] == '\0');
        RP_FUZZ_CHECK(rp_json_string(v) == v->str);
    }
    if (v->type == RP_JSON_NUMBER && rp_json_int64(v, &x) == 0)
        for (size_t i = 0; i < v->len; i++)
            RP_FUZZ_CHECK(v->str[i] != '.' && v->str[i] != 'e' &&
                          v->str[i] != 'E');
    if (v->type == RP_JSON_OBJECT && v->child != NULL &&
        strlen(v->child->key) == v->child->key_len)
        RP_FUZZ_CHECK(rp_json_get(v, v->child->key) != NULL);
    for (const struct rp_json *c = v->child; c != NULL; c = c->next)
        walk(c, depth + 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct rp_json_doc *doc = NULL, *again = NULL, *shallow = NULL;
    struct rp_buf out, out2;
    int ok, valid;

    ok = rp_json_parse(&doc, text, size, NULL) == 0;
    valid = rp_json_validate(text, size, NULL) == 0;
    RP_FUZZ_CHECK(ok == valid);
    for (int depth = 1; depth <= 2; depth++) {
        int sok = rp_json_parse_shallow(&shallow, text, size, depth, NULL) == 0;

        RP_FUZZ_CHECK(sok == ok);
        rp_json_free(shallow);
        shallow = NULL;
    }
    if (!ok) {
        RP_FUZZ_CHECK(doc == NULL);
        return 0;
    }
    walk(rp_json_root(doc), 0);
    rp_buf_init(&out, 0);
    rp_buf_init(&out2, 0);
    RP_FUZZ_CHECK(rp_json_add_value(&out, rp_json_root(doc)) == 0);
    RP_FUZZ_CHECK(rp_json_parse(&again, out.data, out.len, NULL) == 0);
    RP_FUZZ_CHECK(rp_json_root(again)->type == rp_json_root(doc)->type);
    RP_FUZZ_CHECK(rp_json_add_value(&out2, rp_json_root(again)) == 0);
    RP_FUZZ_CHECK(out.len == out2.len &&
                  memcmp(out.data, out2.data, out.len) == 0);
    rp_buf_dispose(&out);
    rp_buf_dispose(&out2);
    rp_json_free(again);
    rp_json_free(doc);
    return 0;
}
