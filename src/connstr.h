/* KurrentDB connection strings, read as the official clients read them:
**   kurrentdb://host[:port][,host[:port]...][/][?key=value[&key=value...]]
** with the schemes kurrentdb, kurrent, kdb and esdb, each also in a
** "+discover" form.  Credentials are never taken from one. */
#ifndef RP_CONNSTR_H
#define RP_CONNSTR_H

#include <stddef.h>

#include "util.h"

#define RP_CONNSTR_MAX_NODES 16
#define RP_CONNSTR_DEFAULT_PORT 2113

/* Which node takes the calls (nodePreference). */
enum rp_node_preference {
    RP_PREFER_LEADER,   /* the leader (the default; writes need it) */
    RP_PREFER_FOLLOWER, /* a follower: writes are forwarded to the leader */
    RP_PREFER_RANDOM,   /* any alive node */
    RP_PREFER_READ_ONLY /* a read-only replica */
};

/* One node: a host name or IPv4 address and a port. */
struct rp_connstr_node {
    char host[256]; /* NUL-terminated */
    int port;       /* 1..65535 */
};

/* A parsed connection string.  Strings are owned (rp_connstr_dispose). */
struct rp_connstr {
    struct rp_connstr_node nodes[RP_CONNSTR_MAX_NODES]; /* as written */
    size_t nnodes;                                      /* at least 1 */
    int discover;               /* 1: the nodes are gossip seeds ("+discover",
                                   dnsDiscover=true, or several nodes) */
    int tls;                    /* tls (default 1); 0: HTTP/2 without TLS */
    int tls_verify_cert;        /* tlsVerifyCert (default 1) */
    char *tls_ca_file;          /* tlsCaFile, or NULL */
    char *user_cert_file;       /* userCertFile, or NULL */
    char *user_key_file;        /* userKeyFile, or NULL */
    char *connection_name;      /* connectionName, or NULL */
    int node_preference;        /* an enum rp_node_preference */
    long default_deadline_ms;   /* defaultDeadline, or 0 when not given */
    long max_discover_attempts; /* maxDiscoverAttempts (default 10) */
    long discovery_interval_ms; /* discoveryInterval (default 100) */
    long gossip_timeout_ms;     /* gossipTimeout (default 5000) */
    char ignored[128];          /* options accepted without effect, for a
                                   warning ("" when none) */
};

/* 1 when 's' starts with one of the connection-string schemes. */
int rp_connstr_is(const char *s);

/* Parse 's' into 'out' (initialised here).  Option names are matched
** without regard to case, '-' or '_'; an unknown or repeated option, a
** bad value, user info (credentials), an empty or IPv6 host are errors.
** Returns 0, or RP_EINVAL with err saying what and where (then 'out' holds
** nothing to dispose). */
int rp_connstr_parse(struct rp_connstr *out, const char *s,
                     struct rp_error *err);

/* Free the strings of 'c'.  Accepts a zeroed struct. */
void rp_connstr_dispose(struct rp_connstr *c);

#endif
