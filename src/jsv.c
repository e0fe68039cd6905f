/* JsvFormatter bodies to compact JSON: one pass over the bytes, output
** never longer than the input, so one reservation covers it. */
#include "jsv.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

int
rp_jsv_compact(struct rp_buf *out, const char *s, size_t n,
               struct rp_error *err)
{
    char *d = rp_buf_reserve(out, n);
    size_t i = 0, o = 0;

    if (d == NULL)
        return rp_error_set(err, RP_ELIMIT, "body of %zu bytes too large", n);
    while (i < n) {
        char c = s[i];

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            i++;
            continue;
        }
        if (c != '"') {
            d[o++] = c;
            i++;
            continue;
        }
        /* A string: copy through the closing quote. */
        {
            size_t start = i++;

            while (i < n && s[i] != '"') {
                if (s[i] == '\r' || s[i] == '\n' || s[i] == '\t')
                    return rp_error_set(
                        err, RP_EFORMAT,
                        "the string at offset %zu holds a raw newline or "
                        "tab: the body was written by ServiceStack.Text "
                        "3.9.35, which breaks strings at ',', '{', '[', "
                        "'}' and ']'",
                        start);
                i += s[i] == '\\' ? 2 : 1;
            }
            if (i >= n)
                return rp_error_set(err, RP_EFORMAT,
                                    "the string at offset %zu is not closed",
                                    start);
            i++;
            memcpy(d + o, s + start, i - start);
            o += i - start;
        }
    }
    out->len += o;
    out->data[out->len] = '\0';
    return 0;
}

int
rp_jsv_unformat(struct rp_buf *out, const char *s, size_t n)
{
    char *d = rp_buf_reserve(out, n);
    size_t i = 0, o = 0;
    int first = 1; /* the formatter's "first key separator" flag */

    if (d == NULL)
        return RP_ELIMIT;
    while (i < n) {
        char c;

#if defined(__SSE2__) && defined(__GNUC__)
        /* Copy sixteen bytes at a time up to the next byte the switch
        ** below looks at.  The output is never longer than the input, so
        ** the store stays within the reservation. */
        while (n - i >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i lc = _mm_or_si128(v, _mm_set1_epi8(0x20)); /* [ { and ] } */
            __m128i hit = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))),
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8(':'))));
            unsigned m;

            hit = _mm_or_si128(
                hit, _mm_or_si128(_mm_cmpeq_epi8(lc, _mm_set1_epi8('{')),
                                  _mm_cmpeq_epi8(lc, _mm_set1_epi8('}'))));
            m = (unsigned)_mm_movemask_epi8(hit);
            _mm_storeu_si128((__m128i *)(void *)(d + o), v);
            if (m != 0) {
                i += (size_t)__builtin_ctz(m);
                o += (size_t)__builtin_ctz(m);
                break;
            }
            i += 16;
            o += 16;
        }
        if (i == n)
            break;
#endif
        c = s[i];
        switch (c) {
        case '\r':
        case '\n':
            i++;
            if (c == '\r' && i < n && s[i] == '\n')
                i++;
            while (i < n && s[i] == '\t')
                i++;
            continue;
        case '{':
        case '[':
            if (i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
                /* "{}" or "[]" after ':': written as a pair, flag kept */
                d[o++] = c;
                d[o++] = s[i + 1];
                i += 2;
                continue;
            }
            first = 1;
            break;
        case '}':
        case ']':
        case ',':
            first = 1;
            break;
        case ':':
            d[o++] = c;
            i++;
            if (first) {
                if (i < n && s[i] == ' ')
                    i++;
                first = 0;
            }
            continue;
        default:
            break;
        }
        d[o++] = c;
        i++;
    }
    out->len += o;
    out->data[out->len] = '\0';
    return 0;
}
