/* One input line of `replicator import` turned into a record's key and
** payload: {"key": K, "data": BASE64}, or {"key": K, "messages": [...],
** "attributes": {...}} encoded as a message set (spec 9) as the .NET writer
** does. */
#ifndef RP_IMPORTLINE_H
#define RP_IMPORTLINE_H

#include <stddef.h>

#include "json.h"
#include "msgset.h"
#include "util.h"

/* A line parser with buffers reused from line to line.  After
** rp_import_line_parse() returned 1, 'key' and 'data' describe the record;
** they are valid until the next parse or the dispose. */
struct rp_import_line {
    const char *key;           /* UTF-8, key_len bytes (may hold NUL) */
    size_t key_len;            /* bytes in 'key' */
    const unsigned char *data; /* the payload */
    size_t data_len;           /* bytes in 'data' */
    /* private to importline.c */
    struct rp_json_doc *doc; /* the parsed line */
    struct rp_buf payload;   /* the payload bytes */
    struct rp_buf bodies;    /* decoded base64 bodies, back to back */
    struct rp_msgset ms;     /* the message set to encode */
};

void rp_import_line_init(struct rp_import_line *l);
/* Free the buffers; 'l' may then be initialised again. */
void rp_import_line_dispose(struct rp_import_line *l);

/* Parse 'len' bytes of 'text', one line (its line end may be included).
** Returns 1 with the record in l->key and l->data; 0 for a blank line
** (spaces, tabs and line ends only: a NUL byte is not blank); or
** RP_EFORMAT with the reason in err (the caller adds the line number). */
int rp_import_line_parse(struct rp_import_line *l, const char *text, size_t len,
                         struct rp_error *err);

#endif
