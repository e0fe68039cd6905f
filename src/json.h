/* JSON: a strict RFC 8259 parser into a read-only tree held in one arena,
** and the writers for strings and values.  Used for import lines, server
** answers and, in the emulator, request bodies. */
#ifndef RP_JSON_H
#define RP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum rp_json_type {
    RP_JSON_NULL,
    RP_JSON_FALSE,
    RP_JSON_TRUE,
    RP_JSON_NUMBER,
    RP_JSON_STRING,
    RP_JSON_ARRAY,
    RP_JSON_OBJECT
};

/* One value of a parsed document.  Every pointer is borrowed from the
** document and lives until rp_json_free(). */
struct rp_json {
    enum rp_json_type type; /* what the value is */
    const char *str;        /* STRING: unescaped bytes, NUL-terminated (may
                               hold NULs); NUMBER: the literal as written */
    size_t len;             /* STRING/NUMBER: bytes in 'str'; ARRAY/OBJECT:
                               number of children */
    const char *key;        /* member name (unescaped, NUL-terminated) when
                               the parent is an object, else NULL */
    size_t key_len;         /* bytes in 'key' */
    const char *raw;        /* the value's text in the parsed input */
    size_t raw_len;         /* bytes of that text */
    struct rp_json *child;  /* ARRAY/OBJECT: first child, else NULL */
    struct rp_json *next;   /* next sibling in the parent, else NULL */
};

/* A parsed document: the tree and the arena that holds it. */
struct rp_json_doc;

/* Parse 'len' bytes of 'text' (which need not be NUL-terminated and must
** outlive the document: 'raw' points into it).  The whole input must be one
** value with optional surrounding whitespace.  Strings must be valid UTF-8;
** \u escapes of lone surrogates are refused.  Nesting is limited to 512
** levels.  Returns 0 with *out set, or RP_EFORMAT with the byte offset and
** the reason in err (then *out is NULL). */
int rp_json_parse(struct rp_json_doc **out, const char *text, size_t len,
                  struct rp_error *err);

/* Like rp_json_parse(), but an array or object 'depth' levels below the
** root (the root is level 0) or deeper is only checked, by the rules of
** rp_json_validate() (which may name another of several faults first): in
** the tree it has its type and 'raw' text, 'len' 0 and no children.  For a
** caller that reads the top of a document and needs only the text of what
** lies below. */
int rp_json_parse_shallow(struct rp_json_doc **out, const char *text,
                          size_t len, int depth, struct rp_error *err);

/* Check that 'len' bytes of 'text' are one JSON value by the same rules as
** rp_json_parse(), without building a tree or allocating.  Returns 0, or
** RP_EFORMAT with the offset and the reason in err. */
int rp_json_validate(const char *text, size_t len, struct rp_error *err);

/* The document's top-level value. */
const struct rp_json *rp_json_root(const struct rp_json_doc *doc);

/* Free the document and everything it holds.  Accepts NULL. */
void rp_json_free(struct rp_json_doc *doc);

/* The last member named 'key' of object 'obj', or NULL when 'obj' is NULL,
** not an object, or has no such member. */
const struct rp_json *rp_json_get(const struct rp_json *obj, const char *key);

/* The NUL-terminated string of 'v' if it is a string, else NULL. */
const char *rp_json_string(const struct rp_json *v);

/* Convert a NUMBER that is an integer literal (no fraction, no exponent)
** fitting in int64_t.  Returns 0, or RP_EINVAL when 'v' is not such a
** number. */
int rp_json_int64(const struct rp_json *v, int64_t *out);

/* Append 'n' bytes as a quoted JSON string: '"', '\\' and control
** characters escaped, everything else (UTF-8 included) copied.  The bytes
** must be valid UTF-8 (check with rp_utf8_valid first).  Returns 0 or
** RP_ELIMIT. */
int rp_json_add_string(struct rp_buf *b, const char *s, size_t n);

/* Append 'v' as compact JSON (no whitespace; numbers as written; strings
** re-escaped).  Returns 0 or RP_ELIMIT. */
int rp_json_add_value(struct rp_buf *b, const struct rp_json *v);

#endif
