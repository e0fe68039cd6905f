/* JSON parser into an arena-held tree, and compact writers.  The parser is
** a plain recursive descent over the input bytes; it refuses anything RFC
** 8259 does not allow, so a malformed import line or server answer is named
** at its offset instead of half-read. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_DEPTH 512

/* Arena chunk: values and unescaped strings are carved from these. */
struct chunk {
    struct chunk *next; /* older chunk */
    size_t used;        /* bytes carved from 'mem' */
    size_t size;        /* bytes in 'mem' */
    max_align_t mem[];  /* the storage */
};

struct rp_json_doc {
    struct chunk *chunks; /* newest first */
    struct rp_json *root; /* the top-level value */
};

struct parser {
    const char *s;           /* input */
    size_t n;                /* input length */
    size_t i;                /* current offset */
    struct rp_json_doc *doc; /* arena owner */
    struct rp_error *err;    /* where failures go */
};

static void *
arena_alloc(struct rp_json_doc *doc, size_t n)
{
    struct chunk *c = doc->chunks;

    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
        sizeof(max_align_t);
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > 16384 ? n : 16384;

        c = rp_xmalloc(sizeof(*c) + size);
        c->size = size;
        c->used = 0;
        c->next = doc->chunks;
        doc->chunks = c;
    }
    c->used += n;
    return (char *)c->mem + c->used - n;
}

static int
fail(struct parser *p, const char *why)
{
    return rp_error_set(p->err, RP_EFORMAT, "invalid JSON at offset %zu: %s",
                        p->i, why);
}

static void
skip_ws(struct parser *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->i++;
    }
}

static int
hex4(struct parser *p, uint32_t *out)
{
    uint32_t v = 0;
    int k;

    if (p->n - p->i < 4)
        return fail(p, "short \\u escape");
    for (k = 0; k < 4; k++) {
        char c = p->s[p->i + (size_t)k];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return fail(p, "bad hex digit in \\u escape");
    }
    p->i += 4;
    *out = v;
    return 0;
}

static size_t
put_utf8(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12);
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | cp >> 18);
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parse a string at p->i (on the opening quote) into arena memory. */
static int
parse_string(struct parser *p, const char **out, size_t *outlen)
{
    size_t start = ++p->i, end = start, bad;
    int escaped = 0;
    char *d;
    size_t k = 0;

    /* First pass: find the end and check the raw bytes.  Runs of eight
    ** plain bytes (no quote, backslash or control character) are skipped
    ** a word at a time. */
    while (p->n - end >= 8) {
        const uint64_t ones = 0x0101010101010101ull;
        const uint64_t high = 0x8080808080808080ull;
        uint64_t w, q, b;

        memcpy(&w, p->s + end, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        if ((((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) &
            high)
            break;
        end += 8;
    }
    while (end < p->n && p->s[end] != '"') {
        unsigned char c = (unsigned char)p->s[end];

        if (c < 0x20) {
            p->i = end;
            return fail(p, "control character in string");
        }
        if (c == '\\') {
            escaped = 1;
            end++;
        }
        end++;
    }
    if (end >= p->n) {
        p->i = start - 1;
        return fail(p, "unterminated string");
    }
    if (!rp_utf8_valid(p->s + start, end - start, &bad)) {
        p->i = start + bad;
        return fail(p, "string is not valid UTF-8");
    }
    d = arena_alloc(p->doc, end - start + 1);
    if (!escaped) {
        memcpy(d, p->s + start, end - start);
        k = end - start;
        p->i = end + 1;
        goto done;
    }
    while (p->i < end) {
        char c = p->s[p->i];
        uint32_t cp, lo;

        if (c != '\\') {
            d[k++] = c;
            p->i++;
            continue;
        }
        p->i++;
        c = p->s[p->i++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            d[k++] = c;
            break;
        case 'b':
            d[k++] = '\b';
            break;
        case 'f':
            d[k++] = '\f';
            break;
        case 'n':
            d[k++] = '\n';
            break;
        case 'r':
            d[k++] = '\r';
            break;
        case 't':
            d[k++] = '\t';
            break;
        case 'u':
            if (hex4(p, &cp) != 0)
                return RP_EFORMAT;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail(p, "lone low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->n - p->i < 2 || p->s[p->i] != '\\' ||
                    p->s[p->i + 1] != 'u')
                    return fail(p, "lone high surrogate in \\u escape");
                p->i += 2;
                if (hex4(p, &lo) != 0)
                    return RP_EFORMAT;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(p, "bad low surrogate in \\u escape");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            k += put_utf8(d + k, cp);
            break;
        default:
            p->i--;
            return fail(p, "bad escape in string");
        }
    }
    p->i = end + 1;
done:
    d[k] = '\0';
    *out = d;
    *outlen = k;
    return 0;
}

static int
parse_number(struct parser *p, struct rp_json *v)
{
    size_t start = p->i;
    const char *s = p->s;

    if (p->i < p->n && s[p->i] == '-')
        p->i++;
    if (p->i >= p->n)
        return fail(p, "truncated number");
    if (s[p->i] == '0') {
        p->i++;
    } else if (s[p->i] >= '1' && s[p->i] <= '9') {
        while (p->i < p->n && s[p->i] >= '0' && s[p->i] <= '9')
            p->i++;
    } else {
        return fail(p, "bad number");
    }
    if (p->i < p->n && s[p->i] == '.') {
        p->i++;
        if (p->i >= p->n || s[p->i] < '0' || s[p->i] > '9')
            return fail(p, "digit expected after '.'");
        while (p->i < p->n && s[p->i] >= '0' && s[p->i] <= '9')
            p->i++;
    }
    if (p->i < p->n && (s[p->i] == 'e' || s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (s[p->i] == '+' || s[p->i] == '-'))
            p->i++;
        if (p->i >= p->n || s[p->i] < '0' || s[p->i] > '9')
            return fail(p, "digit expected in exponent");
        while (p->i < p->n && s[p->i] >= '0' && s[p->i] <= '9')
            p->i++;
    }
    v->type = RP_JSON_NUMBER;
    v->str = s + start;
    v->len = p->i - start;
    return 0;
}

static int
literal(struct parser *p, const char *word, enum rp_json_type t,
        struct rp_json *v)
{
    size_t n = strlen(word);

    if (p->n - p->i < n || memcmp(p->s + p->i, word, n) != 0)
        return fail(p, "unexpected character");
    p->i += n;
    v->type = t;
    return 0;
}

static int parse_value(struct parser *p, struct rp_json *v, int depth);

static int
parse_container(struct parser *p, struct rp_json *v, int depth)
{
    char close = p->s[p->i] == '[' ? ']' : '}';
    struct rp_json **tail = &v->child;

    v->type = close == ']' ? RP_JSON_ARRAY : RP_JSON_OBJECT;
    if (depth >= MAX_DEPTH)
        return fail(p, "nesting too deep");
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        struct rp_json *c = arena_alloc(p->doc, sizeof(*c));

        memset(c, 0, sizeof(*c));
        skip_ws(p);
        if (close == '}') {
            if (p->i >= p->n || p->s[p->i] != '"')
                return fail(p, "member name expected");
            if (parse_string(p, &c->key, &c->key_len) != 0)
                return RP_EFORMAT;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return fail(p, "':' expected");
            p->i++;
        }
        if (parse_value(p, c, depth + 1) != 0)
            return RP_EFORMAT;
        *tail = c;
        tail = &c->next;
        v->len++;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        return fail(p, close == ']' ? "',' or ']' expected"
                                    : "',' or '}' expected");
    }
}

static int
parse_value(struct parser *p, struct rp_json *v, int depth)
{
    int rc;

    skip_ws(p);
    if (p->i >= p->n)
        return fail(p, "value expected");
    v->raw = p->s + p->i;
    switch (p->s[p->i]) {
    case '{':
    case '[':
        rc = parse_container(p, v, depth);
        break;
    case '"':
        v->type = RP_JSON_STRING;
        rc = parse_string(p, &v->str, &v->len);
        break;
    case 't':
        rc = literal(p, "true", RP_JSON_TRUE, v);
        break;
    case 'f':
        rc = literal(p, "false", RP_JSON_FALSE, v);
        break;
    case 'n':
        rc = literal(p, "null", RP_JSON_NULL, v);
        break;
    default:
        rc = parse_number(p, v);
        break;
    }
    if (rc == 0)
        v->raw_len = (size_t)(p->s + p->i - v->raw);
    return rc;
}

int
rp_json_parse(struct rp_json_doc **out, const char *text, size_t len,
              struct rp_error *err)
{
    struct rp_json_doc *doc = rp_xcalloc(1, sizeof(*doc));
    struct parser p = {text, len, 0, doc, err};

    *out = NULL;
    doc->root = arena_alloc(doc, sizeof(*doc->root));
    memset(doc->root, 0, sizeof(*doc->root));
    if (parse_value(&p, doc->root, 0) != 0)
        goto bad;
    skip_ws(&p);
    if (p.i != len) {
        fail(&p, "trailing characters after the value");
        goto bad;
    }
    *out = doc;
    return 0;
bad:
    rp_json_free(doc);
    return RP_EFORMAT;
}

/* --- Validation without a tree ---------------------------------------- */

/* Check the string at p->i (on the opening quote) and step past it. */
static int
check_string(struct parser *p)
{
    size_t start = ++p->i, bad;
    uint32_t cp, lo;
    unsigned high = 0; /* nonzero once a byte above 0x7f may be there */

    for (;;) {
        unsigned char c;

#if defined(__SSE2__) && defined(__GNUC__)
        /* Step over sixteen bytes at a time up to the first quote,
        ** backslash or control character (UTF-8 is checked below). */
        while (p->n - p->i >= 16) {
            __m128i v =
                _mm_loadu_si128((const __m128i *)(const void *)(p->s + p->i));
            __m128i ctl =
                _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            __m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
            __m128i bs = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
            unsigned m = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(ctl, _mm_or_si128(q, bs)));

            high |= (unsigned)_mm_movemask_epi8(v);
            if (m != 0) {
                p->i += (size_t)__builtin_ctz(m);
                break;
            }
            p->i += 16;
        }
#endif
        if (p->i >= p->n || p->s[p->i] == '"')
            break;
        c = (unsigned char)p->s[p->i];

        if (c < 0x20)
            return fail(p, "control character in string");
        if (c != '\\') {
            high |= c & 0x80u;
            p->i++;
            continue;
        }
        if (++p->i >= p->n)
            break;
        c = (unsigned char)p->s[p->i++];
        if (c == 'u') {
            if (hex4(p, &cp) != 0)
                return RP_EFORMAT;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail(p, "lone low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->n - p->i < 2 || p->s[p->i] != '\\' ||
                    p->s[p->i + 1] != 'u')
                    return fail(p, "lone high surrogate in \\u escape");
                p->i += 2;
                if (hex4(p, &lo) != 0)
                    return RP_EFORMAT;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(p, "bad low surrogate in \\u escape");
            }
        } else if (strchr("\"\\/bfnrt", (int)c) == NULL || c == '\0') {
            p->i--;
            return fail(p, "bad escape in string");
        }
    }
    if (p->i >= p->n) {
        p->i = start - 1;
        return fail(p, "unterminated string");
    }
    if (high != 0 && !rp_utf8_valid(p->s + start, p->i - start, &bad)) {
        p->i = start + bad;
        return fail(p, "string is not valid UTF-8");
    }
    p->i++;
    return 0;
}

/* Check one value at p->i (after whitespace) and step past it. */
static int
check_value(struct parser *p, int depth)
{
    struct rp_json scratch;
    char close;

    skip_ws(p);
    if (p->i >= p->n)
        return fail(p, "value expected");
    switch (p->s[p->i]) {
    case '"':
        return check_string(p);
    case 't':
        return literal(p, "true", RP_JSON_TRUE, &scratch);
    case 'f':
        return literal(p, "false", RP_JSON_FALSE, &scratch);
    case 'n':
        return literal(p, "null", RP_JSON_NULL, &scratch);
    case '{':
    case '[':
        break;
    default:
        return parse_number(p, &scratch);
    }
    close = p->s[p->i] == '[' ? ']' : '}';
    if (depth >= MAX_DEPTH)
        return fail(p, "nesting too deep");
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (close == '}') {
            if (p->i >= p->n || p->s[p->i] != '"')
                return fail(p, "member name expected");
            if (check_string(p) != 0)
                return RP_EFORMAT;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return fail(p, "':' expected");
            p->i++;
        }
        if (check_value(p, depth + 1) != 0)
            return RP_EFORMAT;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        return fail(p, close == ']' ? "',' or ']' expected"
                                    : "',' or '}' expected");
    }
}

int
rp_json_validate(const char *text, size_t len, struct rp_error *err)
{
    struct parser p = {text, len, 0, NULL, err};

    if (check_value(&p, 0) != 0)
        return RP_EFORMAT;
    skip_ws(&p);
    if (p.i != len)
        return fail(&p, "trailing characters after the value");
    return 0;
}

const struct rp_json *
rp_json_root(const struct rp_json_doc *doc)
{
    return doc->root;
}

void
rp_json_free(struct rp_json_doc *doc)
{
    struct chunk *c, *next;

    if (doc == NULL)
        return;
    for (c = doc->chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(doc);
}

const struct rp_json *
rp_json_get(const struct rp_json *obj, const char *key)
{
    const struct rp_json *c, *found = NULL;
    size_t n = strlen(key);

    if (obj == NULL || obj->type != RP_JSON_OBJECT)
        return NULL;
    for (c = obj->child; c != NULL; c = c->next)
        if (c->key_len == n && memcmp(c->key, key, n) == 0)
            found = c;
    return found;
}

const char *
rp_json_string(const struct rp_json *v)
{
    return v != NULL && v->type == RP_JSON_STRING ? v->str : NULL;
}

int
rp_json_int64(const struct rp_json *v, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t acc = 0, lim;

    if (v == NULL || v->type != RP_JSON_NUMBER || v->len == 0)
        return RP_EINVAL;
    if (v->str[0] == '-') {
        neg = 1;
        i = 1;
    }
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < v->len; i++) {
        unsigned d;

        if (v->str[i] < '0' || v->str[i] > '9')
            return RP_EINVAL;
        d = (unsigned)(v->str[i] - '0');
        if (acc > (lim - d) / 10)
            return RP_EINVAL;
        acc = acc * 10 + d;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/* How each byte is written inside a JSON string: 0 as itself, 'u' as
** \u00XX, any other value v as the two bytes '\\' v. */
static const unsigned char escape_as[256] = {
    'u', 'u', 'u', 'u', 'u', 'u',         'u',           'u', 'b',
    't', 'n', 'u', 'f', 'r', 'u',         'u',           'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u',         'u',           'u', 'u',
    'u', 'u', 'u', 'u', 'u', ['"'] = '"', ['\\'] = '\\',
};

/* Bytes each input byte adds to its own when written in a string. */
static const unsigned char escape_extra[256] = {
    5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5,         5,
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, ['"'] = 1, ['\\'] = 1,
};

/* Write the escape of 'c' (escape_as[c] != 0) at 'dst'; returns the byte
** after it. */
static char *
put_escape(char *dst, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char e = escape_as[c];

    *dst++ = '\\';
    *dst++ = (char)e;
    if (e == 'u') {
        *dst++ = '0';
        *dst++ = '0';
        *dst++ = hex[c >> 4];
        *dst++ = hex[c & 15];
    }
    return dst;
}

int
rp_json_add_string(struct rp_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t extra = 2, i;
    char *dst, *start;

    /* When even six bytes per byte fit under the buffer's maximum, reserve
    ** that and write in one pass; else measure first, so that a string
    ** that fits exactly is still accepted.  Dump and the event bodies go
    ** through here. */
    if (n <= (SIZE_MAX - 2) / 6 && 6 * n + 2 <= b->max - b->len) {
        dst = rp_buf_reserve(b, 6 * n + 2);
    } else {
        for (i = 0; i < n; i++)
            extra += escape_extra[u[i]];
        if (n > SIZE_MAX - extra)
            return RP_ELIMIT;
        dst = rp_buf_reserve(b, n + extra);
    }
    if (dst == NULL)
        return RP_ELIMIT;
    start = dst;
    *dst++ = '"';
    i = 0;
#if defined(__SSE2__) && defined(__GNUC__)
    /* Sixteen bytes at a time: copy them, keep those before the first that
    ** needs an escape, and go on with that one.  The store stays within
    ** the reservation: the rest of the input is at least 16 bytes, and
    ** its output at least as long. */
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        __m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
        __m128i bs = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
        unsigned m =
            (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_or_si128(q, bs)));

        _mm_storeu_si128((__m128i *)(void *)dst, v);
        if (m == 0) {
            i += 16;
            dst += 16;
            continue;
        }
        i += (size_t)__builtin_ctz(m);
        dst += __builtin_ctz(m);
        dst = put_escape(dst, u[i++]);
    }
#endif
    for (; i < n; i++) {
        if (escape_as[u[i]] == 0)
            *dst++ = (char)u[i];
        else
            dst = put_escape(dst, u[i]);
    }
    *dst++ = '"';
    b->len += (size_t)(dst - start);
    b->data[b->len] = '\0';
    return 0;
}

int
rp_json_add_value(struct rp_buf *b, const struct rp_json *v)
{
    const struct rp_json *c;
    int rc = 0;

    switch (v->type) {
    case RP_JSON_NULL:
        return rp_buf_adds(b, "null");
    case RP_JSON_FALSE:
        return rp_buf_adds(b, "false");
    case RP_JSON_TRUE:
        return rp_buf_adds(b, "true");
    case RP_JSON_NUMBER:
        return rp_buf_add(b, v->str, v->len);
    case RP_JSON_STRING:
        return rp_json_add_string(b, v->str, v->len);
    case RP_JSON_ARRAY:
    case RP_JSON_OBJECT:
        rc |= rp_buf_addc(b, v->type == RP_JSON_ARRAY ? '[' : '{');
        for (c = v->child; c != NULL && rc == 0; c = c->next) {
            if (c != v->child)
                rc |= rp_buf_addc(b, ',');
            if (v->type == RP_JSON_OBJECT) {
                rc |= rp_json_add_string(b, c->key, c->key_len);
                rc |= rp_buf_addc(b, ':');
            }
            if (rc == 0)
                rc = rp_json_add_value(b, c);
        }
        rc |= rp_buf_addc(b, v->type == RP_JSON_ARRAY ? ']' : '}');
        return rc ? RP_ELIMIT : 0;
    }
    return 0;
}
