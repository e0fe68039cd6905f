/* JSON parser into an arena-held tree, and compact writers.  The parser is
** a plain recursive descent over the input bytes; it refuses anything RFC
** 8259 does not allow, so a malformed import line or server answer is named
** at its offset instead of half-read. */
#include "json.h"

#include <limits.h>
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
    int build_depth;         /* containers this deep are checked, not built */
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
skip_ws_run(struct parser *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->i++;
    }
}

/* Step over white space.  Most calls find none: that case is inlined. */
static inline void
skip_ws(struct parser *p)
{
    if (p->i < p->n && (unsigned char)p->s[p->i] > ' ')
        return;
    skip_ws_run(p);
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

/* Strings are read in two passes: one finds the closing quote and checks
** the raw bytes, the other copies them with the escapes decoded.  Bodies
** full of escaped line breaks, tabs and quotes are common (a pretty-printed
** JSON document sent as a string), so neither pass follows the input escape
** by escape, whose cost is a dependent load per escape: both step through
** it sixteen bytes at a time, or byte by byte without a branch per escape. */

/* What the escapes of one byte after the backslash stand for; 0 for the
** bytes that are not such an escape ('u' among them). */
static const unsigned char simple_escape[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
};

/* First pass, byte by byte: from 'i', the first byte of a string's
** contents, find its closing quote, checking that no control character
** comes before it.  The byte after a backslash belongs to the escape,
** whatever it is (the second pass checks it).  *high gets a nonzero value
** when a byte above 0x7f may be there, *escaped when a backslash is.
** Returns the offset of the quote, or of the control character with
** *ctl set, or 'n' when there is neither. */
static size_t
find_end_slow(const char *s, size_t i, size_t n, unsigned *high, int *escaped,
              int *ctl)
{
    *ctl = 0;
    while (i < n && s[i] != '"') {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20) {
            *ctl = 1;
            return i;
        }
        *high |= c & 0x80u;
        if (c == '\\') {
            *escaped = 1;
            if (++i == n)
                break;
            *high |= (unsigned char)s[i] & 0x80u;
        }
        i++;
    }
    return i;
}

/* First pass, the fast way: the same search as find_end_slow(), sixteen
** bytes at a time.  A quote with no backslash before it ends the string;
** one after a single backslash is escaped.  It gives up, returning
** SIZE_MAX, on what it cannot decide so simply: a control character or a
** quote after two or more backslashes before the end; the slow pass then
** starts over and finds the answer. */
static size_t
find_end(const char *s, size_t i, size_t n, unsigned *high, int *escaped)
{
    size_t end;
    int ctl;

#if defined(__SSE2__) && defined(__GNUC__)
    unsigned prev = 0; /* the backslashes of the previous block */

    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned c = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
        unsigned q =
            (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
        unsigned bs =
            (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
        unsigned h = (unsigned)_mm_movemask_epi8(v);
        unsigned b1 = (bs << 1 | prev >> 15) & 0xffffu; /* after a '\\' */
        unsigned b2 = (bs << 2 | prev >> 14) & 0xffffu; /* two after one */
        unsigned endq = q & ~b1;
        unsigned stop = endq | (q & b1 & b2) | c;

        if (stop != 0) {
            unsigned first = stop & (0u - stop);

            if ((first & endq) == 0)
                return SIZE_MAX;
            *high |= h & (first - 1);
            *escaped |= (bs & (first - 1)) != 0;
            return i + (size_t)__builtin_ctz(first);
        }
        *high |= h;
        *escaped |= bs != 0;
        prev = bs;
        i += 16;
    }
    /* The rest byte by byte, from a known state: is the byte at 'i' the
    ** escape of a backslash before it? */
    if (prev & 0x8000u) {
        if (prev & 0x4000u)
            return SIZE_MAX;
        if (i == n)
            return n;
        *high |= (unsigned char)s[i] & 0x80u;
        i++;
    }
#endif
    end = find_end_slow(s, i, n, high, escaped, &ctl);
    return ctl ? SIZE_MAX : end;
}

/* Second pass: copy the 'end' - p->i bytes at p->i to 'd' with their
** escapes decoded, and step p->i to 'end'.  The first pass found no
** control character before 'end', which is the closing quote.  'd' has
** room for 15 bytes more than the input: bytes are copied sixteen at a
** time.  Returns the bytes written, or (size_t)-1 with the
** error set.  The offsets are kept in locals: stores through 'd' may alias
** anything, so the compiler would reload them from *p. */
static size_t
unescape(struct parser *p, size_t end, char *d)
{
    const char *s = p->s;
    size_t i = p->i, k = 0, n = p->n;

    while (i < end) {
        size_t stop;
        unsigned esc = 0; /* the byte at 'i' is an escape's */
        uint32_t cp, lo;

#if defined(__SSE2__) && defined(__GNUC__)
        /* A block of sixteen bytes: copied whole, then each escape (found
        ** from the block's mask of backslashes, not by stepping along) is
        ** written over its backslash, followed by a copy of the sixteen
        ** bytes after it.  The loads reach at most 33 bytes past 'i'. */
        if (n - i >= 33) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            unsigned m = (unsigned)_mm_movemask_epi8(
                _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
            size_t lim = end - i < 16 ? end - i : 16, pos = 0;

            _mm_storeu_si128((__m128i *)(void *)(d + k), v);
            m &= (1u << lim) - 1;
            while (m != 0) {
                size_t b = (size_t)__builtin_ctz(m);
                unsigned char e = simple_escape[(unsigned char)s[i + b + 1]];

                k += b - pos;
                if (e == 0) {
                    i += b + 1;
                    goto special; /* \u or a bad escape */
                }
                d[k++] = (char)e;
                pos = b + 2;
                m &= ~(3u << b); /* an escaped backslash is no escape */
                _mm_storeu_si128(
                    (__m128i *)(void *)(d + k),
                    _mm_loadu_si128(
                        (const __m128i *)(const void *)(s + i + pos)));
            }
            if (pos < lim) {
                k += lim - pos;
                pos = lim;
            }
            i += pos;
            continue;
        }
#endif
        /* Up to sixteen bytes (and the escape of a last backslash) one at a
        ** time: each is written, a backslash is overwritten by what its
        ** escape stands for. */
        stop = end - i > 16 ? i + 16 : end;
        for (; i < stop || esc; i++) {
            unsigned char c = (unsigned char)s[i];
            unsigned char v = esc ? simple_escape[c] : c;
            unsigned bs = (c == '\\') & !esc;

            if (v == 0)
                goto special; /* \u or a bad escape (c is not NUL) */
            d[k] = (char)v;
            k += 1u - bs;
            esc = bs;
        }
        continue;
    special:
        p->i = i;
        if (s[i] != 'u') {
            fail(p, "bad escape in string");
            return (size_t)-1;
        }
        p->i++;
        if (hex4(p, &cp) != 0)
            return (size_t)-1;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail(p, "lone low surrogate in \\u escape");
            return (size_t)-1;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (n - p->i < 2 || s[p->i] != '\\' || s[p->i + 1] != 'u') {
                fail(p, "lone high surrogate in \\u escape");
                return (size_t)-1;
            }
            p->i += 2;
            if (hex4(p, &lo) != 0)
                return (size_t)-1;
            if (lo < 0xDC00 || lo > 0xDFFF) {
                fail(p, "bad low surrogate in \\u escape");
                return (size_t)-1;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        k += put_utf8(d + k, cp);
        i = p->i;
    }
    p->i = i;
    return k;
}

/* Parse a string at p->i (on the opening quote) into arena memory.  The
** checks come in a fixed order, wherever the bytes are: the first control
** character, then a missing closing quote, then the first invalid UTF-8
** byte, then the first bad escape. */
static int
parse_string(struct parser *p, const char **out, size_t *outlen)
{
    size_t start = ++p->i, end, bad, k;
    unsigned high = 0;
    int escaped = 0, ctl;
    char *d;

    end = find_end(p->s, start, p->n, &high, &escaped);
    if (end == SIZE_MAX) {
        high = 0;
        escaped = 0;
        end = find_end_slow(p->s, start, p->n, &high, &escaped, &ctl);
        if (ctl) {
            p->i = end;
            return fail(p, "control character in string");
        }
    }
    if (end >= p->n) {
        p->i = start - 1;
        return fail(p, "unterminated string");
    }
    if (high != 0 && !rp_utf8_valid(p->s + start, end - start, &bad)) {
        p->i = start + bad;
        return fail(p, "string is not valid UTF-8");
    }
    if (!escaped) {
        d = arena_alloc(p->doc, end - start + 1);
        k = end - start;
        memcpy(d, p->s + start, k);
    } else {
        d = arena_alloc(p->doc, end - start + 16);
        k = unescape(p, end, d);
        if (k == (size_t)-1)
            return RP_EFORMAT;
    }
    p->i = end + 1;
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
static int check_value(struct parser *p, int depth);

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
        if (depth >= p->build_depth) {
            v->type = p->s[p->i] == '[' ? RP_JSON_ARRAY : RP_JSON_OBJECT;
            rc = check_value(p, depth);
            break;
        }
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
    return rp_json_parse_shallow(out, text, len, INT_MAX, err);
}

int
rp_json_parse_shallow(struct rp_json_doc **out, const char *text, size_t len,
                      int depth, struct rp_error *err)
{
    struct rp_json_doc *doc = rp_xcalloc(1, sizeof(*doc));
    struct parser p = {text, len, 0, doc, err, depth};

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
        } else if (simple_escape[c] == 0) {
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
    struct parser p = {text, len, 0, NULL, err, 0};

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
