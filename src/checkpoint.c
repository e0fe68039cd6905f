/* The local checkpoint file (text, one item per line, replaced atomically)
** and the JSON form of a position for the target's checkpoint stream. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"

#define MAGIC "replicator-checkpoint 1"

struct rp_checkpoint_writer {
    FILE *f;
    char *path; /* final name */
    char *tmp;  /* temporary name */
    struct rp_buf line;
    uint64_t counts; /* count lines written */
    int failed;      /* a write failed: commit refuses */
};

static void
add_hex(struct rp_buf *b, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        rp_buf_addc(b, hex[p[i] >> 4]);
        rp_buf_addc(b, hex[p[i] & 15]);
    }
}

static int
parse_hex(unsigned char *out, size_t n, const char *s, size_t len)
{
    if (len != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;

        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

static void
put_line(struct rp_checkpoint_writer *w)
{
    rp_buf_addc(&w->line, '\n');
    if (fwrite(w->line.data, 1, w->line.len, w->f) != w->line.len)
        w->failed = 1;
    rp_buf_reset(&w->line);
}

int
rp_checkpoint_begin(struct rp_checkpoint_writer **out, const char *path,
                    const char *source_id, const struct rp_store_pos *pos,
                    struct rp_error *err)
{
    struct rp_checkpoint_writer *w;
    size_t n = strlen(path);

    *out = NULL;
    w = rp_xcalloc(1, sizeof(*w));
    w->path = rp_xstrdup(path);
    w->tmp = rp_xmalloc(n + 5);
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    rp_buf_init(&w->line, 0);
    w->f = fopen(w->tmp, "w");
    if (w->f == NULL) {
        int e = errno;

        rp_checkpoint_abort(w);
        return rp_error_set(err, RP_EIO, "checkpoint %s: %s", path,
                            strerror(e));
    }
    rp_buf_adds(&w->line, MAGIC);
    put_line(w);
    rp_buf_adds(&w->line, "source ");
    rp_json_add_string(&w->line, source_id, strlen(source_id));
    put_line(w);
    rp_buf_printf(&w->line, "position %" PRIu64 " %" PRIu64 " %" PRIu64 " ",
                  pos->store_version, pos->offset, pos->end);
    add_hex(&w->line, pos->sha1, sizeof(pos->sha1));
    rp_buf_addc(&w->line, ' ');
    rp_json_add_string(&w->line, pos->file, strlen(pos->file));
    put_line(w);
    *out = w;
    return 0;
}

int
rp_checkpoint_add_count(void *ctx, const char *key, size_t key_len,
                        uint64_t count)
{
    struct rp_checkpoint_writer *w = ctx;

    rp_buf_printf(&w->line, "count %" PRIu64 " ", count);
    rp_json_add_string(&w->line, key, key_len);
    put_line(w);
    w->counts++;
    return 0;
}

static void
writer_free(struct rp_checkpoint_writer *w)
{
    if (w->f != NULL)
        fclose(w->f);
    rp_buf_dispose(&w->line);
    free(w->path);
    free(w->tmp);
    free(w);
}

void
rp_checkpoint_abort(struct rp_checkpoint_writer *w)
{
    if (w == NULL)
        return;
    if (w->f != NULL) {
        fclose(w->f);
        w->f = NULL;
        unlink(w->tmp);
    }
    writer_free(w);
}

/* fsync the folder holding 'path' so the rename itself is durable. */
static int
sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd, rc;

    if (slash == NULL)
        dir = rp_xstrdup(".");
    else if (slash == path)
        dir = rp_xstrdup("/");
    else
        dir = rp_xstrndup(path, (size_t)(slash - path));
    fd = open(dir, O_RDONLY);
    free(dir);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

int
rp_checkpoint_commit(struct rp_checkpoint_writer *w, struct rp_error *err)
{
    int e = 0;

    rp_buf_printf(&w->line, "end %" PRIu64, w->counts);
    put_line(w);
    if (w->failed || fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
        e = errno ? errno : EIO;
    if (fclose(w->f) != 0 && e == 0)
        e = errno;
    w->f = NULL;
    if (e == 0 && rename(w->tmp, w->path) != 0)
        e = errno;
    if (e != 0) {
        int rc = rp_error_set(err, RP_EIO, "checkpoint %s: %s", w->path,
                              strerror(e));

        unlink(w->tmp);
        writer_free(w);
        return rc;
    }
    if (sync_dir(w->path) != 0) {
        int rc = rp_error_set(err, RP_EIO,
                              "checkpoint %s: syncing its "
                              "folder: %s",
                              w->path, strerror(errno));

        writer_free(w);
        return rc;
    }
    writer_free(w);
    return 0;
}

/* Parse one JSON string token taking the rest of the line into 'out'. */
static int
parse_string(const char *s, size_t n, char *out, size_t size,
             struct rp_buf *keybuf)
{
    struct rp_json_doc *doc = NULL;
    const struct rp_json *v;
    int rc = -1;

    if (rp_json_parse(&doc, s, n, NULL) < 0)
        return -1;
    v = rp_json_root(doc);
    if (v->type == RP_JSON_STRING) {
        if (out != NULL && v->len < size) {
            memcpy(out, v->str, v->len + 1);
            rc = 0;
        } else if (keybuf != NULL) {
            rp_buf_reset(keybuf);
            rc = rp_buf_add(keybuf, v->str, v->len) == 0 ? 0 : -1;
        }
    }
    rp_json_free(doc);
    return rc;
}

static int
parse_u64(const char **p, uint64_t *out)
{
    const char *end;

    if (rp_parse_u64(*p, out, &end) != 0 || *end != ' ')
        return -1;
    *p = end + 1;
    return 0;
}

int
rp_checkpoint_load(const char *path, char *source, size_t size,
                   struct rp_store_pos *pos, rp_store_count_fn fn, void *ctx,
                   struct rp_error *err)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    int have_source = 0, have_pos = 0, done = 0, rc = 0;
    uint64_t counts = 0;
    struct rp_buf key;

    if (f == NULL) {
        if (errno == ENOENT)
            return rp_error_set(err, RP_ENOENT, "checkpoint %s: no such file",
                                path);
        return rp_error_set(err, RP_EIO, "checkpoint %s: %s", path,
                            strerror(errno));
    }
    rp_buf_init(&key, 0);
    memset(pos, 0, sizeof(*pos));
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        const char *p = line;
        uint64_t n;

        lineno++;
        if (line[len - 1] != '\n' || done) {
            rc = -1;
            break;
        }
        line[--len] = '\0';
        if (lineno == 1) {
            rc = strcmp(line, MAGIC) == 0 ? 0 : -1;
        } else if (strncmp(line, "source ", 7) == 0) {
            rc = parse_string(line + 7, (size_t)len - 7, source, size, NULL);
            have_source = 1;
        } else if (strncmp(line, "position ", 9) == 0) {
            p += 9;
            if (parse_u64(&p, &pos->store_version) < 0 ||
                parse_u64(&p, &pos->offset) < 0 ||
                parse_u64(&p, &pos->end) < 0 ||
                parse_hex(pos->sha1, sizeof(pos->sha1), p, 40) < 0 ||
                p[40] != ' ')
                rc = -1;
            else
                rc = parse_string(p + 41, strlen(p + 41), pos->file,
                                  sizeof(pos->file), NULL);
            have_pos = 1;
        } else if (strncmp(line, "count ", 6) == 0) {
            p += 6;
            if (parse_u64(&p, &n) < 0 ||
                parse_string(p, strlen(p), NULL, 0, &key) < 0) {
                rc = -1;
            } else {
                counts++;
                rc = fn(ctx, key.data ? key.data : "", key.len, n);
                if (rc != 0) {
                    free(line);
                    fclose(f);
                    rp_buf_dispose(&key);
                    return rc;
                }
            }
        } else if (strncmp(line, "end ", 4) == 0) {
            p += 4;
            rc = strtoull(p, NULL, 10) == counts ? 0 : -1;
            done = 1;
        } else {
            rc = -1;
        }
    }
    free(line);
    if (ferror(f) && rc == 0) {
        fclose(f);
        rp_buf_dispose(&key);
        return rp_error_set(err, RP_EIO, "checkpoint %s: %s", path,
                            strerror(errno));
    }
    fclose(f);
    rp_buf_dispose(&key);
    if (rc != 0 || !have_source || !have_pos || !done)
        return rp_error_set(err, RP_EFORMAT,
                            "checkpoint %s: damaged at line %u (remove it to "
                            "start over: resuming then re-reads the store and "
                            "the target, nothing is sent twice)",
                            path, rc != 0 ? lineno : lineno + 1);
    return 0;
}

int
rp_checkpoint_to_json(struct rp_buf *out, const char *source_id,
                      const struct rp_store_pos *pos)
{
    int rc = 0;

    rc |= rp_buf_adds(out, "{\"source\":");
    rc |= rp_json_add_string(out, source_id, strlen(source_id));
    rc |= rp_buf_printf(
        out, ",\"storeVersion\":%" PRIu64 ",\"file\":", pos->store_version);
    rc |= rp_json_add_string(out, pos->file, strlen(pos->file));
    rc |= rp_buf_printf(
        out, ",\"offset\":%" PRIu64 ",\"end\":%" PRIu64 ",\"sha1\":\"",
        pos->offset, pos->end);
    add_hex(out, pos->sha1, sizeof(pos->sha1));
    rc |= rp_buf_adds(out, "\"}");
    return rc ? RP_ELIMIT : 0;
}

static int
get_u64(const struct rp_json *obj, const char *name, uint64_t *out)
{
    int64_t v;

    if (rp_json_int64(rp_json_get(obj, name), &v) < 0 || v < 0)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int
rp_checkpoint_from_json(const char *text, size_t len, const char *source_id,
                        struct rp_store_pos *pos, struct rp_error *err)
{
    struct rp_json_doc *doc = NULL;
    const struct rp_json *root, *file, *sha1;
    const char *src;
    int rc = 0;

    if (rp_json_parse(&doc, text, len, err) < 0)
        return rp_error_set(err, RP_EFORMAT, "checkpoint event: not JSON");
    root = rp_json_root(doc);
    src = rp_json_string(rp_json_get(root, "source"));
    file = rp_json_get(root, "file");
    sha1 = rp_json_get(root, "sha1");
    memset(pos, 0, sizeof(*pos));
    if (src == NULL || file == NULL || file->type != RP_JSON_STRING ||
        file->len >= sizeof(pos->file) || sha1 == NULL ||
        sha1->type != RP_JSON_STRING ||
        get_u64(root, "storeVersion", &pos->store_version) < 0 ||
        get_u64(root, "offset", &pos->offset) < 0 ||
        get_u64(root, "end", &pos->end) < 0 ||
        parse_hex(pos->sha1, sizeof(pos->sha1), sha1->str, sha1->len) < 0)
        rc = rp_error_set(err, RP_EFORMAT,
                          "checkpoint event: missing or bad fields");
    else if (strcmp(src, source_id) != 0)
        rc = rp_error_set(err, RP_EFORMAT,
                          "checkpoint event: made for source '%s', not '%s'",
                          src, source_id);
    else
        memcpy(pos->file, file->str, file->len + 1);
    rp_json_free(doc);
    return rc;
}
