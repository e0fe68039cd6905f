/* Shared plumbing: errors, aborting allocators, bounded buffers, base64,
** UTF-8 validation, clocks and whole-file reads. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

int
rp_error_set(struct rp_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

int
rp_error_prefix(struct rp_error *err, const char *fmt, ...)
{
    char head[256];
    char old[sizeof(err->msg)];
    va_list ap;

    if (err == NULL)
        return RP_EINVAL;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    if (snprintf(err->msg, sizeof(err->msg), "%s: %s", head, old) < 0)
        err->msg[0] = '\0';
    return err->code;
}

static void
out_of_memory(size_t n)
{
    fprintf(stderr, "replicator: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *
rp_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        out_of_memory(n);
    return p;
}

void *
rp_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);

    if (p == NULL)
        out_of_memory(count * size);
    return p;
}

void *
rp_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        out_of_memory(n);
    return q;
}

char *
rp_xstrdup(const char *s)
{
    return rp_xstrndup(s, strlen(s));
}

char *
rp_xstrndup(const char *s, size_t n)
{
    char *p = rp_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void
rp_buf_init(struct rp_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

void
rp_buf_dispose(struct rp_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
rp_buf_reset(struct rp_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

char *
rp_buf_reserve(struct rp_buf *b, size_t n)
{
    size_t want;

    if (n > b->max - b->len)
        return NULL;
    want = b->len + n + 1;
    if (want > b->cap) {
        size_t cap = b->cap ? b->cap : 64;

        while (cap < want)
            cap = cap > SIZE_MAX / 4 ? want : cap * 2;
        b->data = rp_xrealloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

int
rp_buf_add(struct rp_buf *b, const void *p, size_t n)
{
    char *dst = rp_buf_reserve(b, n);

    if (dst == NULL)
        return RP_ELIMIT;
    if (n > 0)
        memcpy(dst, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
rp_buf_adds(struct rp_buf *b, const char *s)
{
    return rp_buf_add(b, s, strlen(s));
}

int
rp_buf_addc(struct rp_buf *b, char c)
{
    return rp_buf_add(b, &c, 1);
}

int
rp_buf_printf(struct rp_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *dst;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return RP_EINVAL;
    dst = rp_buf_reserve(b, (size_t)n);
    if (dst == NULL)
        return RP_ELIMIT;
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int
rp_buf_add_u64(struct rp_buf *b, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return rp_buf_add(b, tmp + sizeof(tmp) - n, n);
}

char *
rp_buf_detach(struct rp_buf *b, size_t *len)
{
    char *p = b->data;

    if (len != NULL)
        *len = b->len;
    if (p == NULL)
        p = rp_xstrdup("");
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
rp_base64_encode(struct rp_buf *out, const void *data, size_t n)
{
    const unsigned char *s = data;
    size_t groups = (n + 2) / 3;
    char *dst;
    size_t i;

    if (groups > (SIZE_MAX / 4))
        return RP_ELIMIT;
    dst = rp_buf_reserve(out, groups * 4);
    if (dst == NULL)
        return RP_ELIMIT;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

        *dst++ = b64_alphabet[v >> 18];
        *dst++ = b64_alphabet[(v >> 12) & 63];
        *dst++ = b64_alphabet[(v >> 6) & 63];
        *dst++ = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        *dst++ = b64_alphabet[v >> 18];
        *dst++ = b64_alphabet[(v >> 12) & 63];
        *dst++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        *dst++ = '=';
    }
    out->len += groups * 4;
    out->data[out->len] = '\0';
    return 0;
}

/* Value of each byte as a base64 digit, -1 for the others. */
static const signed char b64_table[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, 62, -1, -1, -1, 63, 52, 53, 54, 55, 56, 57, 58, 59, 60,
    61, -1, -1, -1, -1, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1,
    -1, -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
    43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static int
b64_value(unsigned char c)
{
    return b64_table[c];
}

int
rp_base64_decode(struct rp_buf *out, const char *text, size_t n,
                 struct rp_error *err)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i;
    char *dst;

    if (n % 4 != 0)
        return rp_error_set(err, RP_EFORMAT,
                            "base64 length %zu is not a multiple of 4", n);
    dst = rp_buf_reserve(out, n / 4 * 3);
    if (dst == NULL)
        return rp_error_set(err, RP_ELIMIT, "base64 data too large");
    /* Every quad but the last has no padding: decode it by table, and
    ** leave any fault to the careful loop below, which names it. */
    for (i = 0; i + 4 < n; i += 4) {
        int a = b64_table[s[i]], b = b64_table[s[i + 1]];
        int c = b64_table[s[i + 2]], d = b64_table[s[i + 3]];

        if ((a | b | c | d) < 0)
            break;
        *dst++ = (char)(a << 2 | b >> 4);
        *dst++ = (char)((b & 15) << 4 | c >> 2);
        *dst++ = (char)((c & 3) << 6 | d);
        out->len += 3;
    }
    for (; i < n; i += 4) {
        int v[4];
        int k, pad = 0;

        for (k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            v[k] = pad ? -1 : b64_value(s[i + k]);
            if (v[k] < 0)
                return rp_error_set(err, RP_EFORMAT,
                                    "bad base64 character at offset %zu",
                                    i + (size_t)k);
        }
        if (pad == 1 && s[i + 3] != '=')
            return rp_error_set(err, RP_EFORMAT,
                                "bad base64 padding at offset %zu", i + 2);
        *dst++ = (char)(v[0] << 2 | v[1] >> 4);
        if (pad < 2)
            *dst++ = (char)((v[1] & 15) << 4 | v[2] >> 2);
        if (pad < 1)
            *dst++ = (char)((v[2] & 3) << 6 | v[3]);
        out->len += (size_t)(3 - pad);
    }
    out->data[out->len] = '\0';
    return 0;
}

int
rp_utf8_valid(const void *p, size_t n, size_t *bad)
{
    const unsigned char *s = p;
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp, min;
        uint64_t w;

#if defined(__SSE2__)
        /* ASCII runs, sixteen bytes at a time, then eight. */
        if (n - i >= 16 && _mm_movemask_epi8(_mm_loadu_si128(
                               (const __m128i *)(const void *)(s + i))) == 0) {
            i += 16;
            continue;
        }
#endif
        /* ASCII runs, eight bytes at a time. */
        if (n - i >= 8 &&
            (memcpy(&w, s + i, 8), (w & 0x8080808080808080ull) == 0)) {
            i += 8;
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            goto fail;
        }
        if (need > n - i - 1)
            goto fail;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                goto fail;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto fail;
        i += need + 1;
    }
    return 1;
fail:
    if (bad != NULL)
        *bad = i;
    return 0;
}

uint64_t
rp_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
rp_now_ms(void)
{
    return rp_now_ns() / 1000000u;
}

int
rp_read_file(struct rp_buf *out, const char *path, struct rp_error *err)
{
    char chunk[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return rp_error_set(err, errno == ENOENT ? RP_ENOENT : RP_EIO,
                            "open %s: %s", path, strerror(errno));
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof(chunk));

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc =
                rp_error_set(err, RP_EIO, "read %s: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        if (rp_buf_add(out, chunk, (size_t)got) != 0) {
            rc = rp_error_set(err, RP_ELIMIT, "%s: larger than %zu bytes", path,
                              out->max);
            break;
        }
    }
    close(fd);
    if (rc == 0 && out->data == NULL)
        rp_buf_add(out, "", 0);
    return rc;
}

int
rp_parse_u64(const char *s, uint64_t *out, const char **rest)
{
    unsigned long long v;
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || (rest == NULL && *end != '\0'))
        return -1;
    if (rest != NULL)
        *rest = end;
    *out = v;
    return 0;
}

uint64_t
rp_fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 14695981039346656037u;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211u;
    }
    return h;
}
