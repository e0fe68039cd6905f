/* `import`'s input lines: JSON in, a record's key and payload out. */
#include "importline.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
rp_import_line_init(struct rp_import_line *l)
{
    memset(l, 0, sizeof(*l));
    rp_buf_init(&l->payload, 0);
    rp_buf_init(&l->bodies, 0);
    rp_msgset_init(&l->ms);
}

void
rp_import_line_dispose(struct rp_import_line *l)
{
    rp_json_free(l->doc);
    rp_buf_dispose(&l->payload);
    rp_buf_dispose(&l->bodies);
    rp_msgset_dispose(&l->ms);
    memset(l, 0, sizeof(*l));
}

/* Build the payload of the line's object 'root' into l->payload.  Returns
** 0 or RP_EFORMAT with the reason in err. */
static int
line_payload(struct rp_import_line *l, const struct rp_json *root,
             struct rp_error *err)
{
    const struct rp_json *data = rp_json_get(root, "data");
    const struct rp_json *msgs = rp_json_get(root, "messages");
    const struct rp_json *attrs = rp_json_get(root, "attributes");
    struct rp_error e = {0};
    size_t *offs = NULL, k = 0;
    int rc = RP_EFORMAT;

    rp_buf_reset(&l->payload);
    if (data != NULL) {
        if (data->type != RP_JSON_STRING)
            return rp_error_set(err, RP_EFORMAT,
                                "\"data\" must be a base64 string");
        if (rp_base64_decode(&l->payload, data->str, data->len, &e) < 0)
            return rp_error_set(err, RP_EFORMAT, "\"data\": %.400s", e.msg);
        return 0;
    }
    if (msgs == NULL)
        return rp_error_set(err, RP_EFORMAT, "needs \"data\" or \"messages\"");
    if (msgs->type != RP_JSON_ARRAY)
        return rp_error_set(err, RP_EFORMAT, "\"messages\" must be an array");
    if (attrs != NULL && attrs->type != RP_JSON_OBJECT)
        return rp_error_set(err, RP_EFORMAT,
                            "\"attributes\" must be an object");
    rp_msgset_reset(&l->ms);
    rp_buf_reset(&l->bodies);
    for (const struct rp_json *a = attrs ? attrs->child : NULL; a;
         a = a->next) {
        if (a->type != RP_JSON_STRING)
            return rp_error_set(err, RP_EFORMAT,
                                "attribute \"%.64s\" must be a string", a->key);
        rp_msgset_add_attr(&l->ms, a->key, a->key_len, a->str, a->len);
    }
    /* Bodies in base64 are decoded into one buffer, which may move while
    ** it grows: keep their offsets (SIZE_MAX for text bodies), point at
    ** them once all are decoded. */
    offs = rp_xcalloc(msgs->len + 1, sizeof(*offs));
    for (const struct rp_json *m = msgs->child; m; m = m->next, k++) {
        const struct rp_json *c = rp_json_get(m, "contract");
        const struct rp_json *b = rp_json_get(m, "body");
        const struct rp_json *b64 = rp_json_get(m, "bodyBase64");

        if (m->type != RP_JSON_OBJECT) {
            rp_error_set(err, RP_EFORMAT, "message %zu must be an object", k);
            goto done;
        }
        if (c == NULL || c->type != RP_JSON_STRING || c->len == 0) {
            rp_error_set(err, RP_EFORMAT,
                         "message %zu: \"contract\" must be a non-empty string",
                         k);
            goto done;
        }
        if (b != NULL && b->type == RP_JSON_STRING) {
            offs[k] = SIZE_MAX;
            rp_msgset_add_msg(&l->ms, c->str, c->len,
                              (const unsigned char *)b->str, b->len);
        } else if (b == NULL && b64 != NULL && b64->type == RP_JSON_STRING) {
            size_t at = l->bodies.len;

            if (rp_base64_decode(&l->bodies, b64->str, b64->len, &e) < 0) {
                rp_error_set(err, RP_EFORMAT,
                             "message %zu: \"bodyBase64\": %.400s", k, e.msg);
                goto done;
            }
            offs[k] = at;
            rp_msgset_add_msg(&l->ms, c->str, c->len, NULL, l->bodies.len - at);
        } else {
            rp_error_set(err, RP_EFORMAT,
                         "message %zu: needs \"body\" (a string) or "
                         "\"bodyBase64\"",
                         k);
            goto done;
        }
    }
    for (size_t i = 0; i < k; i++)
        if (offs[i] != SIZE_MAX)
            l->ms.msgs[i].body =
                (const unsigned char *)l->bodies.data + offs[i];
    if (rp_msgset_encode(&l->payload, &l->ms) < 0) {
        rp_error_set(err, RP_EFORMAT, "message set too large");
        goto done;
    }
    rc = 0;
done:
    free(offs);
    return rc;
}

int
rp_import_line_parse(struct rp_import_line *l, const char *text, size_t len,
                     struct rp_error *err)
{
    const struct rp_json *root, *key;
    size_t i;
    int rc;

    rp_json_free(l->doc);
    l->doc = NULL;
    l->key = NULL;
    l->key_len = 0;
    l->data = NULL;
    l->data_len = 0;
    for (i = 0; i < len && (text[i] == ' ' || text[i] == '\t' ||
                            text[i] == '\r' || text[i] == '\n');
         i++)
        ;
    if (i == len)
        return 0;
    if ((rc = rp_json_parse(&l->doc, text, len, err)) < 0)
        return rc;
    root = rp_json_root(l->doc);
    key = rp_json_get(root, "key");
    if (root->type != RP_JSON_OBJECT)
        return rp_error_set(err, RP_EFORMAT, "not a JSON object");
    if (key == NULL)
        return rp_error_set(err, RP_EFORMAT, "no \"key\"");
    if (key->type != RP_JSON_STRING)
        return rp_error_set(err, RP_EFORMAT, "\"key\" must be a string");
    if (!rp_utf8_valid(key->str, key->len, NULL))
        return rp_error_set(err, RP_EFORMAT, "\"key\" is not valid UTF-8");
    if ((rc = line_payload(l, root, err)) < 0)
        return rc;
    l->key = key->str;
    l->key_len = key->len;
    l->data = (const unsigned char *)(l->payload.data ? l->payload.data : "");
    l->data_len = l->payload.len;
    return 1;
}
