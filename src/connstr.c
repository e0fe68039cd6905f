/* Connection strings: scheme, nodes, options. */
#include "connstr.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const schemes[] = {"kurrentdb", "kurrent", "kdb", "esdb"};

/* Length of the scheme and "://" that start 's', and whether it is a
** "+discover" form; 0 when 's' does not start with one. */
static size_t
scheme_len(const char *s, int *discover)
{
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i]);

        if (strncasecmp(s, schemes[i], n) != 0)
            continue;
        *discover = 0;
        if (strncasecmp(s + n, "+discover", 9) == 0) {
            *discover = 1;
            n += 9;
        }
        if (strncmp(s + n, "://", 3) == 0)
            return n + 3;
    }
    return 0;
}

int
rp_connstr_is(const char *s)
{
    int d;

    return s != NULL && scheme_len(s, &d) > 0;
}

void
rp_connstr_dispose(struct rp_connstr *c)
{
    free(c->tls_ca_file);
    free(c->user_cert_file);
    free(c->user_key_file);
    free(c->connection_name);
    c->tls_ca_file = c->user_cert_file = c->user_key_file = NULL;
    c->connection_name = NULL;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode 'n' bytes of 's' into a new string.  Returns it, or NULL
** when an escape is malformed or decodes to a NUL. */
static char *
decode(const char *s, size_t n)
{
    char *out = rp_xmalloc(n + 1);
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int hi, lo;

        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
        lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

/* 1 when the option name 'key' ('n' bytes) is 'name', ignoring case, '-'
** and '_'. */
static int
key_is(const char *key, size_t n, const char *name)
{
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        if (key[i] == '-' || key[i] == '_')
            continue;
        if (name[j] == '\0' ||
            tolower((unsigned char)key[i]) != tolower((unsigned char)name[j]))
            return 0;
        j++;
    }
    return name[j] == '\0';
}

static int
parse_bool(const char *v, int *out)
{
    if (strcasecmp(v, "true") == 0)
        *out = 1;
    else if (strcasecmp(v, "false") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* A whole number of milliseconds (or attempts) from 0 to 'max'. */
static int
parse_long(const char *v, long max, long *out)
{
    uint64_t x;

    if (rp_parse_u64(v, &x, NULL) < 0 || x > (uint64_t)max)
        return -1;
    *out = (long)x;
    return 0;
}

/* The options that are read. */
enum opt {
    O_TLS,
    O_VERIFY,
    O_CA,
    O_CERT,
    O_KEY,
    O_NAME,
    O_PREF,
    O_DEADLINE,
    O_ATTEMPTS,
    O_INTERVAL,
    O_GOSSIP,
    O_DNS,
    O_KA_INTERVAL,
    O_KA_TIMEOUT,
    O_THROW,
    O_COUNT
};

static const char *const opt_names[O_COUNT] = {
    "tls",
    "tlsVerifyCert",
    "tlsCaFile",
    "userCertFile",
    "userKeyFile",
    "connectionName",
    "nodePreference",
    "defaultDeadline",
    "maxDiscoverAttempts",
    "discoveryInterval",
    "gossipTimeout",
    "dnsDiscover",
    "keepAliveInterval",
    "keepAliveTimeout",
    "throwOnAppendFailure",
};

/* Apply option 'o' with the decoded value 'v'.  Returns 0 or -1 (bad
** value). */
static int
apply(struct rp_connstr *c, enum opt o, const char *v)
{
    long n;
    int b;

    switch (o) {
    case O_TLS:
        return parse_bool(v, &c->tls);
    case O_VERIFY:
        return parse_bool(v, &c->tls_verify_cert);
    case O_DNS:
        if (parse_bool(v, &b) < 0)
            return -1;
        c->discover |= b;
        return 0;
    case O_THROW:
        if (parse_bool(v, &b) < 0)
            return -1;
        break;
    case O_CA:
        c->tls_ca_file = rp_xstrdup(v);
        return v[0] != '\0' ? 0 : -1;
    case O_CERT:
        c->user_cert_file = rp_xstrdup(v);
        return v[0] != '\0' ? 0 : -1;
    case O_KEY:
        c->user_key_file = rp_xstrdup(v);
        return v[0] != '\0' ? 0 : -1;
    case O_NAME:
        for (const char *p = v; *p != '\0'; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return -1;
        c->connection_name = rp_xstrdup(v);
        return 0;
    case O_PREF:
        if (strcasecmp(v, "leader") == 0)
            c->node_preference = RP_PREFER_LEADER;
        else if (strcasecmp(v, "follower") == 0)
            c->node_preference = RP_PREFER_FOLLOWER;
        else if (strcasecmp(v, "random") == 0)
            c->node_preference = RP_PREFER_RANDOM;
        else if (strcasecmp(v, "readOnlyReplica") == 0)
            c->node_preference = RP_PREFER_READ_ONLY;
        else
            return -1;
        return 0;
    case O_DEADLINE:
        if (parse_long(v, 86400000, &n) < 0 || n == 0)
            return -1;
        c->default_deadline_ms = n;
        return 0;
    case O_ATTEMPTS:
        if (parse_long(v, 1000000, &n) < 0 || n == 0)
            return -1;
        c->max_discover_attempts = n;
        return 0;
    case O_INTERVAL:
        if (parse_long(v, 3600000, &n) < 0)
            return -1;
        c->discovery_interval_ms = n;
        return 0;
    case O_GOSSIP:
        if (parse_long(v, 3600000, &n) < 0 || n == 0)
            return -1;
        c->gossip_timeout_ms = n;
        return 0;
    case O_KA_INTERVAL:
    case O_KA_TIMEOUT:
        if (strcmp(v, "-1") != 0 && parse_long(v, 86400000, &n) < 0)
            return -1;
        break;
    default:
        return -1;
    }
    /* Accepted, without effect here: say so once. */
    {
        size_t len = strlen(c->ignored);

        if (len + strlen(opt_names[o]) + 3 < sizeof(c->ignored)) {
            if (len > 0)
                strcat(c->ignored, ", ");
            strcat(c->ignored, opt_names[o]);
        }
    }
    return 0;
}

/* Parse the query 'q' ('n' bytes, after '?'). */
static int
parse_query(struct rp_connstr *c, const char *q, size_t n, struct rp_error *err)
{
    int seen[O_COUNT] = {0};
    const char *end = q + n;

    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *item_end = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(item_end - q));
        size_t klen;
        char *v;
        int o;

        if (item_end == q) { /* "&&" or a trailing '&' */
            q = item_end + 1;
            continue;
        }
        if (eq == NULL)
            return rp_error_set(err, RP_EINVAL,
                                "connection string: option '%.*s' has no "
                                "value (key=value)",
                                (int)(item_end - q > 60 ? 60 : item_end - q),
                                q);
        klen = (size_t)(eq - q);
        for (o = 0; o < O_COUNT; o++)
            if (key_is(q, klen, opt_names[o]))
                break;
        if (o == O_COUNT)
            return rp_error_set(err, RP_EINVAL,
                                "connection string: unknown option '%.*s'",
                                (int)(klen > 60 ? 60 : klen), q);
        if (seen[o]++)
            return rp_error_set(err, RP_EINVAL,
                                "connection string: option '%s' is given "
                                "twice",
                                opt_names[o]);
        v = decode(eq + 1, (size_t)(item_end - eq - 1));
        if (v == NULL || apply(c, (enum opt)o, v) < 0) {
            int rc = rp_error_set(
                err, RP_EINVAL,
                "connection string: option '%s' has a bad value '%.*s'",
                opt_names[o],
                (int)(item_end - eq - 1 > 100 ? 100 : item_end - eq - 1),
                eq + 1);

            free(v);
            return rc;
        }
        free(v);
        q = item_end + (amp != NULL);
    }
    return 0;
}

/* Parse one "host[:port]" of 'n' bytes into node 'i'. */
static int
parse_node(struct rp_connstr *c, const char *s, size_t n, struct rp_error *err)
{
    struct rp_connstr_node *node = &c->nodes[c->nnodes];
    const char *colon = memchr(s, ':', n);
    size_t hlen = colon ? (size_t)(colon - s) : n;

    if (c->nnodes == RP_CONNSTR_MAX_NODES)
        return rp_error_set(err, RP_EINVAL,
                            "connection string: more than %d nodes",
                            RP_CONNSTR_MAX_NODES);
    if (hlen == 0)
        return rp_error_set(err, RP_EINVAL,
                            "connection string: a node without a host");
    if (memchr(s, '[', n) != NULL)
        return rp_error_set(err, RP_EINVAL,
                            "connection string: IPv6 addresses are not "
                            "supported (the official clients do not read "
                            "them either): give a host name");
    if (hlen >= sizeof(node->host))
        return rp_error_set(err, RP_EINVAL,
                            "connection string: host name too long");
    for (size_t i = 0; i < hlen; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.' &&
            s[i] != '_')
            return rp_error_set(err, RP_EINVAL,
                                "connection string: '%.*s' is not a host "
                                "name",
                                (int)(hlen > 100 ? 100 : hlen), s);
    memcpy(node->host, s, hlen);
    node->host[hlen] = '\0';
    node->port = RP_CONNSTR_DEFAULT_PORT;
    if (colon != NULL) {
        char num[8];
        size_t plen = n - hlen - 1;
        uint64_t port;

        if (plen == 0 || plen >= sizeof(num))
            return rp_error_set(err, RP_EINVAL,
                                "connection string: bad port in '%.*s'",
                                (int)(n > 100 ? 100 : n), s);
        memcpy(num, colon + 1, plen);
        num[plen] = '\0';
        if (rp_parse_u64(num, &port, NULL) < 0 || port == 0 || port > 65535)
            return rp_error_set(err, RP_EINVAL,
                                "connection string: bad port in '%.*s'",
                                (int)(n > 100 ? 100 : n), s);
        node->port = (int)port;
    }
    c->nnodes++;
    return 0;
}

int
rp_connstr_parse(struct rp_connstr *out, const char *s, struct rp_error *err)
{
    int discover = 0;
    size_t skip = scheme_len(s, &discover);
    const char *p = s + skip, *hosts_end, *q;
    int rc;

    memset(out, 0, sizeof(*out));
    out->tls = 1;
    out->tls_verify_cert = 1;
    out->max_discover_attempts = 10;
    out->discovery_interval_ms = 100;
    out->gossip_timeout_ms = 5000;
    if (skip == 0)
        return rp_error_set(err, RP_EINVAL,
                            "'%.60s' is not a connection string "
                            "(kurrentdb://, esdb:// ...)",
                            s);
    out->discover = discover;
    hosts_end = p + strcspn(p, "/?#");
    if (*hosts_end == '#')
        return rp_error_set(err, RP_EINVAL,
                            "connection string: a '#' fragment is not "
                            "allowed");
    if (memchr(p, '@', (size_t)(hosts_end - p)) != NULL)
        return rp_error_set(err, RP_EINVAL,
                            "connection string: credentials are never taken "
                            "from the connection string: set "
                            "REPLICATOR_USER and REPLICATOR_PASSWORD, or give "
                            "--credentials FILE");
    while (p < hosts_end) {
        const char *comma = memchr(p, ',', (size_t)(hosts_end - p));
        const char *e = comma ? comma : hosts_end;

        if ((rc = parse_node(out, p, (size_t)(e - p), err)) < 0)
            goto fail;
        p = comma ? comma + 1 : hosts_end;
        if (comma != NULL && p == hosts_end) {
            rc = rp_error_set(err, RP_EINVAL,
                              "connection string: a node without a host");
            goto fail;
        }
    }
    if (out->nnodes == 0) {
        rc = rp_error_set(err, RP_EINVAL, "connection string: no host");
        goto fail;
    }
    q = hosts_end;
    if (*q == '/')
        q++;
    if (*q != '\0' && *q != '?') {
        rc = rp_error_set(err, RP_EINVAL,
                          "connection string: a path is not allowed ('%.40s')",
                          hosts_end);
        goto fail;
    }
    if (*q == '?' && (rc = parse_query(out, q + 1, strlen(q + 1), err)) < 0)
        goto fail;
    if ((out->user_cert_file == NULL) != (out->user_key_file == NULL)) {
        rc = rp_error_set(err, RP_EINVAL,
                          "connection string: userCertFile and userKeyFile "
                          "go together");
        goto fail;
    }
    if (out->nnodes > 1)
        out->discover = 1;
    return 0;
fail:
    rp_connstr_dispose(out);
    return rc;
}
