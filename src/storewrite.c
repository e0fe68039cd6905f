/* Writing a Lokad.CQRS store: frames encoded as the .NET writer encodes
** them, buffered, written to a temporary file that is renamed (without
** replacing anything) when the session commits. */
#include "storewrite.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "msgset.h"
#include "sha1.h"

#define FLUSH_AT ((size_t)1 << 20) /* buffered bytes written at once */

struct rp_storewrite {
    char *dir;         /* the store folder */
    char *tmp;         /* the temporary file's path; NULL once renamed */
    int fd;            /* open on 'tmp', or -1 */
    uint64_t first;    /* store version of the session's first frame */
    uint64_t count;    /* frames appended */
    time_t started;    /* UTC time the session started */
    struct rp_buf buf; /* frames not written yet */
};

int
rp_frame_encode(struct rp_buf *out, int64_t stamp, const char *key,
                size_t key_len, const void *data, size_t data_len)
{
    unsigned char le[8];
    size_t start = out->len;
    unsigned char h[RP_SHA1_LEN];
    int rc;

    if (key_len > 0x7FFFFFFF || data_len > 0x7FFFFFFF)
        return RP_EINVAL;
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)stamp >> (8 * i));
    if ((rc = rp_buf_add(out, le, 8)) < 0 ||
        (rc = rp_varint_add(out, (uint32_t)key_len)) < 0 ||
        (rc = rp_buf_add(out, key, key_len)) < 0 ||
        (rc = rp_varint_add(out, (uint32_t)data_len)) < 0 ||
        (rc = rp_buf_add(out, data, data_len)) < 0)
        goto fail;
    rp_sha1(out->data + start, out->len - start, h);
    if ((rc = rp_buf_add(out, h, sizeof(h))) < 0)
        goto fail;
    return 0;
fail:
    out->len = start;
    return rc;
}

/* Name the temporary files that sessions killed before their commit left
** in 'dir' (the reader ignores them; another import may be writing one
** now, so they are not removed here). */
static void
warn_leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, ".import-", 8) == 0)
            rp_log(RP_LOG_WARN,
                   "store %s: %s was left by an import that did not finish "
                   "(killed?); it is not part of the store, and can be "
                   "removed once no import runs",
                   dir, e->d_name);
    closedir(d);
}

int
rp_storewrite_open(struct rp_storewrite **out, const char *dir, uint64_t count,
                   struct rp_error *err)
{
    struct rp_storewrite *w = rp_xcalloc(1, sizeof(*w));
    size_t n = strlen(dir) + 32;

    *out = NULL;
    w->dir = rp_xstrdup(dir);
    w->tmp = rp_xmalloc(n);
    snprintf(w->tmp, n, "%s/.import-XXXXXX", dir);
    warn_leftovers(dir);
    w->first = count + 1;
    w->started = time(NULL);
    rp_buf_init(&w->buf, 0);
    if ((w->fd = mkstemp(w->tmp)) < 0) {
        int e = errno;

        free(w->tmp);
        w->tmp = NULL;
        rp_storewrite_free(w);
        return rp_error_set(err, RP_EIO, "store %s: cannot create a file: %s",
                            dir, strerror(e));
    }
    /* mkstemp makes the file private; data files get the usual mode. */
    {
        mode_t mask = umask(022);

        umask(mask);
        fchmod(w->fd, 0666 & ~mask);
    }
    *out = w;
    return 0;
}

/* Write out the buffered frames. */
static int
flush(struct rp_storewrite *w, struct rp_error *err)
{
    size_t done = 0;

    while (done < w->buf.len) {
        ssize_t r = write(w->fd, w->buf.data + done, w->buf.len - done);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return rp_error_set(err, RP_EIO, "store %s: write %s: %s", w->dir,
                                w->tmp, strerror(errno));
        done += (size_t)r;
    }
    rp_buf_reset(&w->buf);
    return 0;
}

int
rp_storewrite_append(struct rp_storewrite *w, int64_t stamp, const char *key,
                     size_t key_len, const void *data, size_t data_len,
                     struct rp_error *err)
{
    int rc;

    if (w->tmp == NULL || w->fd < 0)
        return rp_error_set(err, RP_EINVAL, "store %s: session is closed",
                            w->dir);
    rc = rp_frame_encode(&w->buf, stamp, key, key_len, data, data_len);
    if (rc == RP_EINVAL)
        return rp_error_set(
            err, rc, "store %s: key or data longer than 2^31-1 bytes", w->dir);
    if (rc < 0)
        return rp_error_set(err, rc, "store %s: frame too large", w->dir);
    w->count++;
    if (w->buf.len >= FLUSH_AT)
        return flush(w, err);
    return 0;
}

uint64_t
rp_storewrite_count(const struct rp_storewrite *w)
{
    return w->count;
}

int
rp_storewrite_commit(struct rp_storewrite *w, char *name, struct rp_error *err)
{
    char *path = NULL;
    size_t n = strlen(w->dir) + 300;
    int rc, dfd;

    name[0] = '\0';
    if (w->tmp == NULL || w->fd < 0)
        return rp_error_set(err, RP_EINVAL, "store %s: session is closed",
                            w->dir);
    if (w->count == 0) {
        /* Nothing to keep: no file, as .NET makes none without an append. */
        close(w->fd);
        w->fd = -1;
        unlink(w->tmp);
        free(w->tmp);
        w->tmp = NULL;
        return 0;
    }
    if ((rc = flush(w, err)) < 0)
        return rc;
    if (fsync(w->fd) < 0 || close(w->fd) < 0) {
        w->fd = -1;
        return rp_error_set(err, RP_EIO, "store %s: sync %s: %s", w->dir,
                            w->tmp, strerror(errno));
    }
    w->fd = -1;
    path = rp_xmalloc(n);
    for (time_t t = w->started;; t++) {
        struct tm tm;

        gmtime_r(&t, &tm);
        snprintf(name, 256, "%08" PRIu64 "-%04d-%02d-%02d-%02d%02d%02d.dat",
                 w->first, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        snprintf(path, n, "%s/%s", w->dir, name);
        /* link() never replaces an existing name, unlike rename(). */
        if (link(w->tmp, path) == 0)
            break;
        if (errno != EEXIST) {
            rc = rp_error_set(err, RP_EIO, "store %s: name %s: %s", w->dir,
                              name, strerror(errno));
            name[0] = '\0';
            free(path);
            return rc;
        }
    }
    free(path);
    unlink(w->tmp);
    free(w->tmp);
    w->tmp = NULL;
    if ((dfd = open(w->dir, O_RDONLY)) >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

void
rp_storewrite_free(struct rp_storewrite *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->tmp != NULL)
        unlink(w->tmp);
    free(w->tmp);
    w->tmp = NULL;
    rp_buf_dispose(&w->buf);
    free(w->dir);
    w->dir = NULL;
    free(w);
}
