/* The target behind one interface: the protocol is chosen from --target (a
** connection string: gRPC; http:// URLs: the HTTP API), and every call goes
** to that protocol's module. */
#include "target.h"

#include <stdlib.h>
#include <string.h>

#include "atompub.h"
#include "connstr.h"
#include "grpc.h"

struct rp_target {
    const struct rp_target_proto *proto;
    void *impl;
};

int
rp_target_new(struct rp_target **out, const struct rp_target_options *opt,
              struct rp_error *err)
{
    struct rp_target *t = rp_xcalloc(1, sizeof(*t));
    int rc;

    *out = NULL;
    t->proto = rp_connstr_is(opt->targets) ? &rp_grpc_proto : &rp_atompub_proto;
    rc = t->proto->open(&t->impl, opt, err);
    if (rc < 0) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void
rp_target_free(struct rp_target *t)
{
    if (t == NULL)
        return;
    t->proto->close(t->impl);
    free(t);
}

int
rp_target_cluster(const struct rp_target *t)
{
    return t->proto->cluster(t->impl);
}

void
rp_target_describe(const struct rp_target *t, char *out, size_t size)
{
    t->proto->describe(t->impl, out, size);
}

int
rp_target_connect(struct rp_target *t, struct rp_error *err)
{
    return t->proto->connect(t->impl, err);
}

int
rp_target_room(const struct rp_target *t)
{
    return t->proto->room(t->impl);
}

int
rp_target_start(struct rp_target *t, struct rp_sink_req *req,
                struct rp_error *err)
{
    return t->proto->start(t->impl, req, err);
}

int
rp_target_wait(struct rp_target *t, const int *fds, int nfds, int timeout_ms,
               unsigned *ready, struct rp_error *err)
{
    return t->proto->wait(t->impl, fds, nfds, timeout_ms, ready, err);
}

struct rp_sink_req *
rp_target_next_done(struct rp_target *t, struct rp_sink_outcome *out)
{
    return t->proto->next_done(t->impl, out);
}

int
rp_target_in_flight(const struct rp_target *t)
{
    return t->proto->in_flight(t->impl);
}

int
rp_target_split_urls(char **out, size_t max, size_t *n, const char *list,
                     struct rp_error *err)
{
    const char *p = list;

    *n = 0;
    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        while (len > 0 && p[len - 1] == '/')
            len--;
        if (len > 0) {
            if (*n == max)
                return rp_error_set(err, RP_EINVAL, "more than %zu URLs", max);
            if (len >= 400)
                return rp_error_set(err, RP_EINVAL, "URL too long");
            if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)
                return rp_error_set(err, RP_EINVAL,
                                    "'%.*s' is not an http:// or https:// "
                                    "URL",
                                    (int)(len > 200 ? 200 : len), p);
            if (memchr(p, '@', len) != NULL)
                return rp_error_set(err, RP_EINVAL,
                                    "URLs must not carry credentials: use "
                                    "REPLICATOR_USER and REPLICATOR_PASSWORD "
                                    "or --credentials FILE");
            out[(*n)++] = rp_xstrndup(p, len);
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}
