/* The target: the EventStoreDB or KurrentDB that the loop writes to, behind
** one interface.  The loop hands it the sink's operations and takes back
** their outcomes; each protocol is one module behind this interface
** (atompub.c: the HTTP API; grpc.c: gRPC), which turns operations into its
** requests,
** answers into outcomes, and owns the rest of what is asked of the target
** beside the sink: finding and following the cluster's leader. */
#ifndef RP_TARGET_H
#define RP_TARGET_H

#include <signal.h>
#include <stddef.h>

#include "sink.h"
#include "util.h"

/* Settings of a target.  Strings are copied. */
struct rp_target_options {
    const char *targets;      /* the target: comma-separated node URLs */
    const char *gossip_seeds; /* comma-separated URLs of nodes to ask for
                                 the cluster's leader, or NULL */
    const char *username;     /* Basic auth user, or NULL for none */
    const char *password;     /* its password */
    const char *cacert;       /* CA bundle for TLS, or NULL: the system's */
    int insecure;             /* 1: do not verify the server's certificate */
    long connect_timeout_ms;  /* connection set-up limit (0: 5000) */
    long request_timeout_ms;  /* one request's limit (0: 30000) */
    size_t max_in_flight;     /* operations out at once (>= 1) */
    const volatile sig_atomic_t *stop; /* when set non-zero (a signal), the
                                          blocking steps end early; may be
                                          NULL */
};

struct rp_target;

/* Open the target named by opt->targets (the protocol follows from the
** URLs).  Nothing is sent yet.  Returns 0, or RP_EINVAL (bad URLs) /
** RP_EIO with err set. */
int rp_target_new(struct rp_target **out, const struct rp_target_options *opt,
                  struct rp_error *err);
/* Abandon what is in flight and free the target.  Accepts NULL. */
void rp_target_free(struct rp_target *t);

/* 1 when the target is a cluster (several nodes, or gossip seeds): writes
** go to its leader. */
int rp_target_cluster(const struct rp_target *t);
/* Write where requests go now, without credentials, into 'out' (logs). */
void rp_target_describe(const struct rp_target *t, char *out, size_t size);
/* Get ready to send, blocking for a few seconds at most (less when
** opt->stop is set): find the cluster's leader, and check that the target
** is what --target says it is.  Returns 0 (ready, or not reachable now:
** the operations then meet the outage), or RP_EREFUSED with err saying
** why the target cannot be used as given (a TLS failure, not a server of
** that protocol, a server without the calls, refused credentials): waiting
** would not help. */
int rp_target_connect(struct rp_target *t, struct rp_error *err);

/* 1 when another operation may start. */
int rp_target_room(const struct rp_target *t);
/* Start carrying out 'req' (borrowed until it comes back from
** rp_target_next_done()).  Returns 0, or RP_EIO / RP_ELIMIT when it could
** not start (then nothing is in flight for it). */
int rp_target_start(struct rp_target *t, struct rp_sink_req *req,
                    struct rp_error *err);
/* Move requests on and wait at most 'timeout_ms' for something to happen:
** an answer, or one of the 'nfds' descriptors in 'fds' becoming readable
** (bit i of *ready set for fds[i]).  Returns 0 or RP_EIO. */
int rp_target_wait(struct rp_target *t, const int *fds, int nfds,
                   int timeout_ms, unsigned *ready, struct rp_error *err);
/* The next operation carried out, with its outcome in *out (its pointers
** valid until the next call), or NULL. */
struct rp_sink_req *rp_target_next_done(struct rp_target *t,
                                        struct rp_sink_outcome *out);
/* Operations started and not yet returned by rp_target_next_done(). */
int rp_target_in_flight(const struct rp_target *t);

/* ---- for the protocol modules ---- */

/* One protocol: the functions above, on its own state. */
struct rp_target_proto {
    const char *name; /* for logs: "HTTP (AtomPub)" */
    int (*open)(void **impl, const struct rp_target_options *opt,
                struct rp_error *err);
    void (*close)(void *impl);
    int (*cluster)(const void *impl);
    void (*describe)(const void *impl, char *out, size_t size);
    int (*connect)(void *impl, struct rp_error *err);
    int (*room)(const void *impl);
    int (*start)(void *impl, struct rp_sink_req *req, struct rp_error *err);
    int (*wait)(void *impl, const int *fds, int nfds, int timeout_ms,
                unsigned *ready, struct rp_error *err);
    struct rp_sink_req *(*next_done)(void *impl, struct rp_sink_outcome *out);
    int (*in_flight)(const void *impl);
};

/* Split a comma-separated list of http:// or https:// URLs (trailing '/'
** dropped, empty items skipped) into at most 'max' heap strings in out[],
** *n of them.  URLs with credentials are refused.  Returns 0 or RP_EINVAL
** (out[0..*n) are then still to be freed). */
int rp_target_split_urls(char **out, size_t max, size_t *n, const char *list,
                         struct rp_error *err);

#endif
