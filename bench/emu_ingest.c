/* Ingest benchmark of bin/esdb-emu: N keep-alive connections, one thread
** each, post batches of events (application/vnd.eventstore.events+json,
** exact expected versions, fresh ids) for S seconds, and print the events
** per second the emulator acknowledged with 201.
**
** usage: emu_ingest PORT [CONNS (4)] [SECONDS (5)] [BATCH (500)] [DATA (200)]
**                   [KIND (object)]
** DATA is the size in bytes of each event's "data" JSON object.  KIND
** "string" sends instead, whatever DATA says, the data the replicator sends
** for a Lokad.CQRS message body: a JSON string holding a ServiceStack-style
** pretty-printed body (173 bytes with CRLF and tabs, so the JSON text is
** full of escapes), and the metadata object it adds. */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct worker {
    int id;
    int port;
    int batch;
    int data_size;
    int string_data; /* KIND "string" */
    double seconds;
    unsigned long long events; /* acknowledged */
    unsigned long long requests;
    int failed;
};

/* The data of KIND "string": a body like bench/gen.py's CustomerCreated,
** as a JSON string. */
static const char pretty_data[] =
    "\"\\r\\n{\\r\\n\\t\\\"Id\\\": \\r\\n\\t{\\r\\n\\t\\t\\\"Id\\\": "
    "1\\r\\n\\t},\\r\\n\\t\\\"CustomerName\\\": \\\"Delta Cobalt Ltd "
    "867\\\",\\r\\n\\t\\\"Currency\\\": \\\"Eur\\\",\\r\\n\\t\\\"Email\\\": "
    "\\\"meadow.1931@example.com\\\",\\r\\n\\t\\\"Utc\\\": "
    "\\\"\\\\/Date(1363415296171)\\\\/\\\"\\r\\n}\\r\\n\"";

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one response; returns its status or -1. */
static int
read_response(int fd, char *buf, size_t cap)
{
    size_t len = 0, need = 0;
    char *end = NULL;

    for (;;) {
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);

        if (r <= 0)
            return -1;
        len += (size_t)r;
        buf[len] = '\0';
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            char *cl = strstr(buf, "Content-Length: ");

            need = (size_t)(end + 4 - buf) +
                   (cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10) : 0);
        }
        if (end != NULL && len >= need)
            return atoi(buf + 9);
        if (len + 1 >= cap)
            return -1;
    }
}

static void *
run(void *arg)
{
    struct worker *w = arg;
    struct sockaddr_in sa;
    size_t cap =
        (size_t)w->batch * ((size_t)w->data_size + sizeof(pretty_data) + 400) +
        1024;
    char *body = malloc(cap), *req = malloc(cap + 512), resp[8192];
    size_t *idpos = calloc((size_t)w->batch, sizeof(*idpos)), blen = 0;
    long long version = -1;
    unsigned long long counter = 0;
    double end;
    int fd, one = 1, i;
    char stream[64];

    snprintf(stream, sizeof(stream), "bench-%d-%ld", w->id, (long)getpid());
    /* The body template: ids are patched per request. */
    body[blen++] = '[';
    for (i = 0; i < w->batch; i++) {
        int pad = w->data_size - 24;

        blen += (size_t)sprintf(body + blen, "%s{\"eventId\":\"", i ? "," : "");
        idpos[i] = blen;
        if (w->string_data) {
            blen += (size_t)sprintf(body + blen,
                                    "00000000-0000-4000-8000-000000000000\","
                                    "\"eventType\":\"CustomerCreated\","
                                    "\"data\":%s,\"metadata\":{"
                                    "\"replicatedFrom\":{\"source\":"
                                    "\"store-r1000000-k3000-s1-g1\","
                                    "\"storeVersion\":%d,"
                                    "\"streamVersion\":1,\"key\":"
                                    "\"customer:1\",\"index\":0}}}",
                                    pretty_data, 1000000 + i);
            continue;
        }
        blen += (size_t)sprintf(body + blen,
                                "00000000-0000-4000-8000-000000000000\","
                                "\"eventType\":\"BenchEvent\",\"data\":"
                                "{\"seq\":%6d,\"payload\":\"",
                                i);
        memset(body + blen, 'x', (size_t)(pad > 0 ? pad : 0));
        blen += (size_t)(pad > 0 ? pad : 0);
        blen += (size_t)sprintf(body + blen, "\"}}");
    }
    body[blen++] = ']';
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)w->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        w->failed = 1;
        goto done;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    end = now_s() + w->seconds;
    while (now_s() < end) {
        int hl, status;

        for (i = 0; i < w->batch; i++) {
            char id[48];

            snprintf(id, sizeof(id), "%08x-%04x-4000-8000-%012llx",
                     (unsigned)w->id, (unsigned)i, counter);
            memcpy(body + idpos[i], id, 36);
        }
        counter++;
        hl = snprintf(req, 512,
                      "POST /streams/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "Content-Type: application/vnd.eventstore.events+json\r\n"
                      "ES-ExpectedVersion: %lld\r\nContent-Length: %zu\r\n\r\n",
                      stream, w->port, version, blen);
        memcpy(req + hl, body, blen);
        if (send_all(fd, req, (size_t)hl + blen) != 0 ||
            (status = read_response(fd, resp, sizeof(resp))) != 201) {
            w->failed = 1;
            break;
        }
        version += w->batch;
        w->events += (unsigned long long)w->batch;
        w->requests++;
    }
    close(fd);
done:
    free(body);
    free(req);
    free(idpos);
    return NULL;
}

int
main(int argc, char **argv)
{
    int port, conns, i, failed = 0;
    double seconds, t0, t1;
    struct worker *ws;
    pthread_t *th;
    unsigned long long events = 0, requests = 0;
    int batch, data, string_data;

    if (argc < 2) {
        fprintf(stderr, "usage: emu_ingest PORT [CONNS] [SECONDS] [BATCH] "
                        "[DATA] [KIND]\n");
        return 2;
    }
    port = atoi(argv[1]);
    conns = argc > 2 ? atoi(argv[2]) : 4;
    seconds = argc > 3 ? atof(argv[3]) : 5.0;
    batch = argc > 4 ? atoi(argv[4]) : 500;
    data = argc > 5 ? atoi(argv[5]) : 200;
    string_data = argc > 6 && strcmp(argv[6], "string") == 0;
    if (conns < 1 || batch < 1 || data < 24 || seconds <= 0 ||
        (argc > 6 && !string_data && strcmp(argv[6], "object") != 0)) {
        fprintf(stderr, "emu_ingest: bad arguments\n");
        return 2;
    }
    ws = calloc((size_t)conns, sizeof(*ws));
    th = calloc((size_t)conns, sizeof(*th));
    t0 = now_s();
    for (i = 0; i < conns; i++) {
        ws[i].id = i;
        ws[i].port = port;
        ws[i].batch = batch;
        ws[i].data_size = data;
        ws[i].string_data = string_data;
        ws[i].seconds = seconds;
        pthread_create(&th[i], NULL, run, &ws[i]);
    }
    for (i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        events += ws[i].events;
        requests += ws[i].requests;
        failed |= ws[i].failed;
    }
    t1 = now_s();
    if (string_data)
        printf("%llu events in %llu requests, %.2f s, %d connections, "
               "%d events/batch, pretty string data: %.0f events/s\n",
               events, requests, t1 - t0, conns, batch,
               (double)events / (t1 - t0));
    else
        printf("%llu events in %llu requests, %.2f s, %d connections, "
               "%d events/batch, %d-byte data: %.0f events/s\n",
               events, requests, t1 - t0, conns, batch, data,
               (double)events / (t1 - t0));
    free(ws);
    free(th);
    if (failed)
        fprintf(stderr, "emu_ingest: a request failed (not 201)\n");
    return failed ? 1 : 0;
}
