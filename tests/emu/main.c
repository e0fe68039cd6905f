/* esdb-emu: an emulator of the EventStoreDB HTTP (AtomPub) API for tests,
** demos and benchmarks.  This file reads the command line, opens the
** listening sockets (one per cluster node), prints the URL(s) and runs the
** loop. */
#include "emu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: esdb-emu --port P [--profile v5|v20|v23|v25] [--data FILE]\n"
    "                [--latency-ms N] [--auth USER:PASS] [--fault-rate R]\n"
    "                [--seed S] [--fault-kinds K,K,...] [--no-atompub]\n"
    "                [--anonymous on|off] [--cluster N]\n"
    "                [--write-timeout-ms MS] [--request-timeout-ms MS]\n";

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Add "USER:PASS" to the users.  Returns 0, or -1 when malformed or full. */
static int
add_user(struct emu_server *srv, const char *spec, int admin)
{
    const char *colon = strchr(spec, ':');

    if (colon == NULL || colon == spec || srv->nusers == 8)
        return -1;
    srv->users[srv->nusers].name = rp_xstrndup(spec, (size_t)(colon - spec));
    srv->users[srv->nusers].pass = rp_xstrdup(colon + 1);
    srv->users[srv->nusers].admin = admin;
    srv->nusers++;
    return 0;
}

/* A non-blocking listening socket on 127.0.0.1:'port' (0: any); its
** port in *out_port.  Returns the descriptor or -1 (errno set). */
static int
open_listener(int port, int *out_port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    *out_port = ntohs(sa.sin_port);
    return fd;
}

int
main(int argc, char **argv)
{
    struct emu_server srv;
    struct rp_error err;
    const char *data = NULL, *auth = NULL, *anon = NULL;
    uint64_t port = 2113, v, seed = 0;
    int fds[EMU_MAX_NODES], i, rc = 1, have_seed = 0;
    uint64_t idrng;

    emu_loop_signals();
    memset(&srv, 0, sizeof(srv));
    memset(&err, 0, sizeof(err));
    srv.profile = EMU_V20;
    srv.atompub = 1;
    srv.write_timeout_ms = 2000;
    srv.request_timeout_ms = 10000;
    srv.nnodes = 1;
    srv.fault_kinds = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--no-atompub") == 0) {
            srv.atompub = 0;
            continue;
        }
        if (val == NULL)
            goto bad;
        i++;
        if (strcmp(a, "--port") == 0) {
            if (parse_u64(val, &port) != 0 || port > 65535)
                goto bad;
        } else if (strcmp(a, "--profile") == 0) {
            if (strcmp(val, "v5") == 0)
                srv.profile = EMU_V5;
            else if (strcmp(val, "v20") == 0)
                srv.profile = EMU_V20;
            else if (strcmp(val, "v23") == 0)
                srv.profile = EMU_V23;
            else if (strcmp(val, "v25") == 0)
                srv.profile = EMU_V25;
            else
                goto bad;
        } else if (strcmp(a, "--data") == 0) {
            data = val;
        } else if (strcmp(a, "--latency-ms") == 0) {
            if (parse_u64(val, &srv.latency_ms) != 0)
                goto bad;
        } else if (strcmp(a, "--auth") == 0) {
            auth = val;
        } else if (strcmp(a, "--anonymous") == 0) {
            if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
                goto bad;
            anon = val;
        } else if (strcmp(a, "--fault-rate") == 0) {
            char *end;

            srv.fault_rate = strtod(val, &end);
            if (*end != '\0' || !(srv.fault_rate >= 0.0) ||
                srv.fault_rate > 1.0)
                goto bad;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_u64(val, &seed) != 0)
                goto bad;
            have_seed = 1;
        } else if (strcmp(a, "--fault-kinds") == 0) {
            const char *p = val;

            while (*p != '\0') {
                const char *q = strchr(p, ',');
                size_t n = q ? (size_t)(q - p) : strlen(p);
                int k = emu_fault_kind(p, n);

                if (k < 0)
                    goto bad;
                srv.fault_kinds |= 1u << k;
                p += n + (q != NULL);
            }
        } else if (strcmp(a, "--cluster") == 0) {
            if (parse_u64(val, &v) != 0 || v < 1 || v > EMU_MAX_NODES)
                goto bad;
            srv.nnodes = (int)v;
        } else if (strcmp(a, "--write-timeout-ms") == 0) {
            if (parse_u64(val, &srv.write_timeout_ms) != 0)
                goto bad;
        } else if (strcmp(a, "--request-timeout-ms") == 0) {
            if (parse_u64(val, &srv.request_timeout_ms) != 0 ||
                srv.request_timeout_ms == 0)
                goto bad;
        } else {
            goto bad;
        }
        continue;
    bad:
        fprintf(stderr, "esdb-emu: bad argument '%s'%s%s%s\n%s", a,
                val ? " (value '" : "", val ? val : "", val ? "')" : "", usage);
        return 2;
    }
    if (srv.fault_kinds == 0) /* by default every kind */
        srv.fault_kinds = ((1u << EMU_F_COUNT) - 1) & ~1u;
    srv.rng = have_seed ? seed : (uint64_t)time(NULL) ^ (uint64_t)getpid();
    /* Credentials given on the command line are meant to be required. */
    srv.anonymous =
        (srv.profile == EMU_V5 || srv.profile == EMU_V20) && auth == NULL;
    if (anon != NULL)
        srv.anonymous = strcmp(anon, "on") == 0;
    if (auth != NULL) {
        if (add_user(&srv, auth, 1) != 0) {
            fprintf(stderr, "esdb-emu: --auth wants USER:PASS\n");
            return 2;
        }
    } else {
        add_user(&srv, "admin:changeit", 1);
        add_user(&srv, "ops:changeit", 0);
    }
    idrng = srv.rng ^ 0x5DEECE66Dull;
    for (i = 0; i < srv.nnodes; i++) {
        uint64_t a = emu_rand(&idrng), b = emu_rand(&idrng);

        memcpy(srv.instance[i], &a, 8);
        memcpy(srv.instance[i] + 8, &b, 8);
        fds[i] = -1;
    }
    signal(SIGPIPE, SIG_IGN);
#if defined(__GLIBC__)
    /* Each request parses its body into a tree of its own (about 1 MB for
    ** 500 events) and frees it: keep up to 64 MiB of freed memory, and
    ** serve blocks up to 32 MiB from the heap, instead of giving pages back
    ** to the system and faulting them in again for the next request. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
    emu_store_new(&srv.store);
    if (data != NULL && emu_store_open_log(srv.store, data, &err) != 0) {
        if (err.code == RP_ESTOP) {
            rc = 0; /* a signal during the replay */
            goto done;
        }
        fprintf(stderr, "esdb-emu: %s\n", err.msg);
        goto done;
    }
    for (i = 0; i < srv.nnodes; i++) {
        int want = port == 0 ? 0 : (int)port + i;

        fds[i] = open_listener(want, &srv.ports[i]);
        if (fds[i] < 0) {
            fprintf(stderr, "esdb-emu: cannot listen on 127.0.0.1:%d: %s\n",
                    want, strerror(errno));
            goto done;
        }
    }
    srv.leader = 0;
    if (emu_loop_stopping()) {
        rc = 0;
        goto done;
    }
    for (i = 0; i < srv.nnodes; i++)
        printf("%shttp://127.0.0.1:%d", i ? " " : "", srv.ports[i]);
    printf("\n");
    fflush(stdout);
    rc = emu_loop_run(&srv, fds, srv.nnodes);
done:
    for (i = 0; i < srv.nnodes; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    while (srv.faults != NULL) {
        struct emu_fault *f = srv.faults;

        srv.faults = f->next;
        free(f->stream);
        free(f);
    }
    for (i = 0; i < (int)srv.nusers; i++) {
        free(srv.users[i].name);
        free(srv.users[i].pass);
    }
    emu_store_free(srv.store);
    return rc;
}
