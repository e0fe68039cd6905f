/* Small helpers of the emulator: GUID text, JSON output the way the server
** shapes it (re-indented data, lossy strings), times and URL escapes. */
#include "emu.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"

/* One more than the value of each byte as a hex digit; 0 for the bytes
** that are not one. */
static const unsigned char hexval[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
    ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* Read 32 hex digits from 's', skipping dashes at the D-format places when
** 'dashed' (then 's' holds 36 bytes, else 32).  Returns 0, or -1 (with
** 'out' overwritten) when a digit or a dash is wrong. */
static int
read_hex(unsigned char out[16], const char *s, int dashed)
{
    /* Where the digits of each byte start, with and without dashes. */
    static const unsigned char at[2][16] = {
        {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30},
        {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}};
    const unsigned char *u = (const unsigned char *)s;
    const unsigned char *pos = at[dashed != 0];
    unsigned bad = 0;
    size_t k;

    if (dashed && (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-'))
        return -1;
    for (k = 0; k < 16; k++) {
        unsigned hi = hexval[u[pos[k]]], lo = hexval[u[pos[k] + 1]];

        bad |= (hi == 0) | (lo == 0);
        out[k] = (unsigned char)((hi - 1) << 4 | (lo - 1));
    }
    return bad ? -1 : 0;
}

int
emu_uuid_parse(unsigned char out[16], const char *s, size_t n)
{
    /* .NET Guid.TryParse trims surrounding white space. */
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 36)
        return read_hex(out, s, 1);
    if (n == 32)
        return read_hex(out, s, 0);
    if (n == 38 &&
        ((s[0] == '{' && s[37] == '}') || (s[0] == '(' && s[37] == ')')))
        return read_hex(out, s + 1, 1);
    return -1;
}

void
emu_uuid_format(char out[37], const unsigned char id[16])
{
    static const char hex[] = "0123456789abcdef";
    size_t k, i = 0;

    for (k = 0; k < 16; k++) {
        if (k == 4 || k == 6 || k == 8 || k == 10)
            out[i++] = '-';
        out[i++] = hex[id[k] >> 4];
        out[i++] = hex[id[k] & 15];
    }
    out[i] = '\0';
}

void
emu_json_add_lossy(struct rp_buf *b, const char *s, size_t n)
{
    struct rp_buf tmp;
    size_t i = 0;

    if (rp_utf8_valid(s, n, NULL)) {
        rp_json_add_string(b, s, n);
        return;
    }
    rp_buf_init(&tmp, 0);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;

        if (k <= n - i && rp_utf8_valid(s + i, k, NULL)) {
            rp_buf_add(&tmp, s + i, k);
            i += k;
        } else {
            rp_buf_add(&tmp, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    rp_json_add_string(b, tmp.data ? tmp.data : "", tmp.len);
    rp_buf_dispose(&tmp);
}

/* Two spaces per level. */
static void
pad(struct rp_buf *b, int depth)
{
    int i;

    for (i = 0; i < depth; i++)
        rp_buf_add(b, "  ", 2);
}

/* Append 'v' the way the server's serializer indents JSON. */
static void
indent_value(struct rp_buf *b, const struct rp_json *v, int depth)
{
    const struct rp_json *c;

    switch (v->type) {
    case RP_JSON_OBJECT:
    case RP_JSON_ARRAY:
        if (v->child == NULL) {
            rp_buf_adds(b, v->type == RP_JSON_OBJECT ? "{}" : "[]");
            return;
        }
        rp_buf_addc(b, v->type == RP_JSON_OBJECT ? '{' : '[');
        for (c = v->child; c != NULL; c = c->next) {
            rp_buf_addc(b, '\n');
            pad(b, depth + 1);
            if (v->type == RP_JSON_OBJECT) {
                rp_json_add_string(b, c->key, c->key_len);
                rp_buf_add(b, ": ", 2);
            }
            indent_value(b, c, depth + 1);
            if (c->next != NULL)
                rp_buf_addc(b, ',');
        }
        rp_buf_addc(b, '\n');
        pad(b, depth);
        rp_buf_addc(b, v->type == RP_JSON_OBJECT ? '}' : ']');
        return;
    case RP_JSON_STRING:
        rp_json_add_string(b, v->str, v->len);
        return;
    default:
        rp_json_add_value(b, v);
        return;
    }
}

int
emu_json_indent(struct rp_buf *b, const char *s, size_t n)
{
    struct rp_json_doc *doc = NULL;

    if (rp_json_parse(&doc, s, n, NULL) != 0)
        return -1;
    indent_value(b, rp_json_root(doc), 0);
    rp_json_free(doc);
    return 0;
}

const char *
emu_event_data(const struct emu_event *e, struct rp_buf *tmp, size_t *len)
{
    if (e->flags & EMU_EV_DATA_FMT) {
        rp_buf_reset(tmp);
        if (emu_json_indent(tmp, e->data, e->data_len) == 0) {
            *len = tmp->len;
            return tmp->data;
        }
    }
    *len = e->data_len;
    return e->data;
}

const char *
emu_event_meta(const struct emu_event *e, struct rp_buf *tmp, size_t *len)
{
    if (e->flags & EMU_EV_META_FMT) {
        rp_buf_reset(tmp);
        if (emu_json_indent(tmp, e->meta, e->meta_len) == 0) {
            *len = tmp->len;
            return tmp->data;
        }
    }
    *len = e->meta_len;
    return e->meta;
}

void
emu_format_time(char out[40], int64_t us)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    char tmp[128];

    gmtime_r(&t, &tm);
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06d0Z",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(us % 1000000));
    tmp[39] = '\0';
    memcpy(out, tmp, strlen(tmp) + 1);
}

void
emu_escape(struct rp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            rp_buf_addc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};

            rp_buf_add(b, e, 3);
        }
    }
}

uint64_t
emu_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int64_t
emu_unix_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
