/*
 * loadgen: the one load client used for every MI server in the benchmark
 * (sipmi, Kamailio jsonrpcs, OpenSIPS), so that rows differ only by server.
 *
 *   loadgen udp  HOST PORT  CLIENTS SECONDS MAXREQ REQUEST
 *   loadgen unix PATH       CLIENTS SECONDS MAXREQ REQUEST
 *   loadgen http HOST PORT PATH CLIENTS SECONDS MAXREQ REQUEST
 *   loadgen fifo SERVER_FIFO REPLY_DIR pre|post opensips|kamailio SECONDS MAXREQ REQUEST
 *   loadgen udp-paced HOST PORT RATE SECONDS MAXREQ REQUEST
 *
 * Each client keeps one request in flight (ping-pong), as the C peers' own
 * clients do. A request counts as an error when the reply is not a JSON-RPC
 * result, or when no reply arrives within one second. Runs stop at SECONDS
 * or MAXREQ replies, whichever comes first. Prints one JSON line:
 *   {"requests":N,"errors":N,"seconds":S,"rps":R,"p50_ms":A,"p99_ms":B,"reply_bytes":N}
 *
 * For FIFO, REQUEST is the JSON without framing; the opensips framing is
 * ":reply_name:JSON", the kamailio framing adds "reply_name" to the JSON.
 * "pre" opens the reply FIFO before writing the request; "post" writes first
 * and then opens it (blocking), as the python opensips client does.
 *
 * "udp-paced" is the latency probe: one client, request k due at start +
 * k/RATE, its latency counted from when it was due, not from when it could
 * be sent. A server that stalls for 200 ms therefore shows 200 ms of late
 * requests, where a ping-pong client would record only the one it was
 * waiting on (coordinated omission).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#define MAX_CLIENTS 256
#define BUF_SIZE (1 << 20)
#define TIMEOUT_US 1000000

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *msg) {
  fprintf(stderr, "loadgen: %s: %s\n", msg, strerror(errno));
  exit(2);
}

/* ---- results ---------------------------------------------------------- */

static float *lat; /* latencies in microseconds */
static long nlat, maxreq, errors;
static long reply_bytes;

static void record(double us) {
  if (nlat < maxreq) lat[nlat++] = (float)us;
}

static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

static void report(double seconds) {
  qsort(lat, nlat, sizeof *lat, cmpf);
  double p50 = nlat ? lat[(long)(nlat * 0.50)] / 1000.0 : 0;
  double p99 = nlat ? lat[nlat * 99 / 100 < nlat ? nlat * 99 / 100 : nlat - 1] / 1000.0 : 0;
  printf("{\"requests\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"rps\":%.1f,\"p50_ms\":%.4f,"
         "\"p99_ms\":%.4f,\"reply_bytes\":%ld}\n",
         nlat, errors, seconds, seconds > 0 ? nlat / seconds : 0, p50, p99, reply_bytes);
}

/* A JSON-RPC reply with a result member (an error object counts as an error). */
static int is_result(const char *buf, long n) {
  return memmem(buf, n, "\"result\"", 8) != NULL && memmem(buf, n, "\"error\"", 7) == NULL;
}

static char *read_file(const char *path, long *len) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc(*len + 1);
  if (fread(b, 1, *len, f) != (size_t)*len) die("read request");
  b[*len] = 0;
  fclose(f);
  while (*len > 0 && (b[*len - 1] == '\n' || b[*len - 1] == '\r')) b[--*len] = 0;
  return b;
}

/* ---- UDP -------------------------------------------------------------- */

static int unix_client; /* datagram clients bind their own socket paths */

static void udp_address(const char *host, int port, struct sockaddr_storage *dst, socklen_t *dstlen) {
  memset(dst, 0, sizeof *dst);
  if (strchr(host, ':')) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)dst;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) die("bad host");
    *dstlen = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)dst;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) die("bad host");
    *dstlen = sizeof *a;
  }
}

static void unix_address(const char *path, struct sockaddr_storage *dst, socklen_t *dstlen) {
  memset(dst, 0, sizeof *dst);
  struct sockaddr_un *a = (struct sockaddr_un *)dst;
  a->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a->sun_path) die("unix path too long");
  strcpy(a->sun_path, path);
  *dstlen = sizeof *a;
  unix_client = 1;
}

static int run_dgram(struct sockaddr_storage dst, socklen_t dstlen, int clients, double seconds, const char *req,
                     long reqlen) {
  int ep = epoll_create1(0);
  int fds[MAX_CLIENTS];
  double sent[MAX_CLIENTS];
  char *buf = malloc(BUF_SIZE);
  char paths[MAX_CLIENTS][108];
  for (int i = 0; i < clients; i++) {
    fds[i] = socket(dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fds[i] < 0) die("socket");
    if (unix_client) {
      struct sockaddr_un me = {.sun_family = AF_UNIX};
      snprintf(paths[i], sizeof paths[i], "/tmp/loadgen_%d_%d.sock", getpid(), i);
      unlink(paths[i]);
      strcpy(me.sun_path, paths[i]);
      if (bind(fds[i], (struct sockaddr *)&me, sizeof me) < 0) die("bind");
    }
    if (connect(fds[i], (struct sockaddr *)&dst, dstlen) < 0) die("connect");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  double start = now_us(), end = start + seconds * 1e6;
  for (int i = 0; i < clients; i++) {
    sent[i] = now_us();
    send(fds[i], req, reqlen, 0);
  }
  struct epoll_event evs[MAX_CLIENTS];
  while (nlat < maxreq) {
    double t = now_us();
    if (t >= end) break;
    int n = epoll_wait(ep, evs, MAX_CLIENTS, 50);
    t = now_us();
    for (int k = 0; k < n; k++) {
      int i = evs[k].data.u32;
      ssize_t r = recv(fds[i], buf, BUF_SIZE, 0);
      if (r < 0) {
        if (errno == EAGAIN) continue;
        errors++;
      } else {
        reply_bytes = r;
        if (is_result(buf, r)) record(t - sent[i]);
        else errors++;
      }
      if (nlat >= maxreq || t >= end) continue;
      sent[i] = now_us();
      send(fds[i], req, reqlen, 0);
    }
    /* Lost datagram: count it and send again. */
    for (int i = 0; i < clients; i++) {
      if (t - sent[i] > TIMEOUT_US) {
        errors++;
        sent[i] = now_us();
        send(fds[i], req, reqlen, 0);
      }
    }
  }
  if (unix_client)
    for (int i = 0; i < clients; i++) unlink(paths[i]);
  report((now_us() - start) / 1e6);
  return 0;
}

static int run_paced(struct sockaddr_storage dst, socklen_t dstlen, double rate, double seconds, const char *req,
                     long reqlen) {
  int fd = socket(dst.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&dst, dstlen) < 0) die("connect");
  char *buf = malloc(BUF_SIZE);
  double start = now_us(), end = start + seconds * 1e6, period = 1e6 / rate;
  for (long k = 0; nlat < maxreq; k++) {
    double due = start + k * period;
    if (due >= end) break;
    double t = now_us();
    if (t < due) {
      struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)((due - t) * 1000)};
      nanosleep(&ts, NULL);
    }
    send(fd, req, reqlen, 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, TIMEOUT_US / 1000) <= 0) {
      errors++;
      continue;
    }
    ssize_t r = recv(fd, buf, BUF_SIZE, 0);
    double got = now_us();
    if (r > 0 && is_result(buf, r)) {
      reply_bytes = r;
      record(got - due);
    } else errors++;
  }
  report((now_us() - start) / 1e6);
  return 0;
}

/* ---- HTTP/1.1 keep-alive --------------------------------------------- */

struct conn {
  int fd;
  double sent;
  long have;
  char *buf;
};

static int http_connect(struct sockaddr_in *a) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)a, sizeof *a) < 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

/* Length of a complete response in buf (headers + Content-Length body), or 0. */
static long http_complete(const char *buf, long have, int *status) {
  const char *eoh = memmem(buf, have, "\r\n\r\n", 4);
  if (!eoh) return 0;
  long hlen = eoh - buf + 4;
  *status = atoi(buf + 9);
  const char *cl = memmem(buf, hlen, "ontent-Length:", 14);
  if (!cl) cl = memmem(buf, hlen, "ontent-length:", 14);
  long blen = cl ? atol(cl + 14) : 0;
  return have >= hlen + blen ? hlen + blen : 0;
}

static int run_http(const char *host, int port, const char *path, int clients, double seconds, const char *body,
                    long bodylen) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) die("bad host");
  char *req = malloc(bodylen + 512);
  long reqlen = sprintf(req,
                        "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                        "Content-Length: %ld\r\n\r\n",
                        path, host, port, bodylen);
  memcpy(req + reqlen, body, bodylen);
  reqlen += bodylen;
  int ep = epoll_create1(0);
  struct conn c[MAX_CLIENTS];
  for (int i = 0; i < clients; i++) {
    c[i].fd = http_connect(&a);
    c[i].buf = malloc(BUF_SIZE);
    c[i].have = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
  }
  double start = now_us(), end = start + seconds * 1e6;
  for (int i = 0; i < clients; i++) {
    c[i].sent = now_us();
    if (write(c[i].fd, req, reqlen) != reqlen) die("write");
  }
  struct epoll_event evs[MAX_CLIENTS];
  while (nlat < maxreq) {
    double t = now_us();
    if (t >= end) break;
    int n = epoll_wait(ep, evs, MAX_CLIENTS, 50);
    t = now_us();
    for (int k = 0; k < n; k++) {
      struct conn *x = &c[evs[k].data.u32];
      ssize_t r = read(x->fd, x->buf + x->have, BUF_SIZE - x->have);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        /* The server closed the connection: an error, then reconnect. */
        errors++;
        epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
        close(x->fd);
        x->fd = http_connect(&a);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[k].data.u32};
        epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev);
        x->have = 0;
      } else {
        x->have += r;
        int status = 0;
        long len = http_complete(x->buf, x->have, &status);
        if (len == 0) continue;
        const char *bodyp = memmem(x->buf, len, "\r\n\r\n", 4) + 4;
        reply_bytes = len - (bodyp - x->buf);
        if (status == 200 && is_result(bodyp, reply_bytes)) record(t - x->sent);
        else errors++;
        memmove(x->buf, x->buf + len, x->have - len);
        x->have -= len;
      }
      if (nlat >= maxreq || t >= end) continue;
      x->sent = now_us();
      if (write(x->fd, req, reqlen) != reqlen) errors++;
    }
  }
  report((now_us() - start) / 1e6);
  return 0;
}

/* ---- FIFO ------------------------------------------------------------- */

static void on_alarm(int sig) { (void)sig; }

static int run_fifo(const char *server, const char *reply_dir, int post, int kamailio, double seconds,
                    const char *json, long jsonlen) {
  char name[128], path[512];
  snprintf(name, sizeof name, "loadgen_reply_%d", getpid());
  snprintf(path, sizeof path, "%s/%s", reply_dir, name);
  unlink(path);
  if (mkfifo(path, 0600) < 0) die("mkfifo");
  /* Build the framed request once. */
  char *req = malloc(jsonlen + 256);
  long reqlen;
  if (kamailio) {
    /* Insert "reply_name" after the opening brace. */
    const char *brace = strchr(json, '{');
    reqlen = sprintf(req, "{\"reply_name\":\"%s\",%s\n", name, brace + 1);
  } else {
    reqlen = sprintf(req, ":%s:%s\n", name, json);
  }
  struct sigaction sa = {.sa_handler = on_alarm};
  sigaction(SIGALRM, &sa, NULL);
  char *buf = malloc(BUF_SIZE);
  double start = now_us(), end = start + seconds * 1e6;
  while (nlat < maxreq && now_us() < end) {
    double t0 = now_us();
    int rfd = -1;
    if (!post) rfd = open(path, O_RDONLY | O_NONBLOCK);
    int wfd = open(server, O_WRONLY);
    if (wfd < 0) die("open server fifo");
    if (write(wfd, req, reqlen) != reqlen) die("write server fifo");
    close(wfd);
    if (post) {
      /* Blocking open, bounded by an alarm (a server that never answers). */
      struct itimerval it = {.it_value = {.tv_sec = 1}};
      setitimer(ITIMER_REAL, &it, NULL);
      rfd = open(path, O_RDONLY);
      struct itimerval off = {0};
      setitimer(ITIMER_REAL, &off, NULL);
      if (rfd < 0) {
        errors++;
        continue;
      }
    }
    long have = 0;
    int ok = 1;
    for (;;) {
      struct pollfd p = {.fd = rfd, .events = POLLIN};
      int remaining = (int)((t0 + TIMEOUT_US - now_us()) / 1000);
      if (remaining <= 0 || poll(&p, 1, remaining) <= 0) {
        ok = 0;
        break;
      }
      ssize_t r = read(rfd, buf + have, BUF_SIZE - have);
      if (r < 0 && errno == EAGAIN) continue;
      if (r <= 0) break; /* EOF: the server closed its end */
      have += r;
    }
    close(rfd);
    reply_bytes = have;
    if (ok && is_result(buf, have)) record(now_us() - t0);
    else errors++;
  }
  unlink(path);
  report((now_us() - start) / 1e6);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: see the comment at the top of loadgen.c\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  long reqlen;
  struct sockaddr_storage dst;
  socklen_t dstlen;
  if (!strcmp(argv[1], "udp") && argc == 8 && atoi(argv[4]) <= MAX_CLIENTS) {
    maxreq = atol(argv[6]);
    lat = malloc(sizeof *lat * (maxreq + 1));
    char *req = read_file(argv[7], &reqlen);
    udp_address(argv[2], atoi(argv[3]), &dst, &dstlen);
    return run_dgram(dst, dstlen, atoi(argv[4]), atof(argv[5]), req, reqlen);
  }
  if (!strcmp(argv[1], "udp-paced") && argc == 8 && atof(argv[4]) > 0) {
    maxreq = atol(argv[6]);
    lat = malloc(sizeof *lat * (maxreq + 1));
    char *req = read_file(argv[7], &reqlen);
    udp_address(argv[2], atoi(argv[3]), &dst, &dstlen);
    return run_paced(dst, dstlen, atof(argv[4]), atof(argv[5]), req, reqlen);
  }
  if (!strcmp(argv[1], "unix") && argc == 7 && atoi(argv[3]) <= MAX_CLIENTS) {
    maxreq = atol(argv[5]);
    lat = malloc(sizeof *lat * (maxreq + 1));
    char *req = read_file(argv[6], &reqlen);
    unix_address(argv[2], &dst, &dstlen);
    return run_dgram(dst, dstlen, atoi(argv[3]), atof(argv[4]), req, reqlen);
  }
  if (!strcmp(argv[1], "http") && argc == 9 && atoi(argv[5]) <= MAX_CLIENTS) {
    maxreq = atol(argv[7]);
    lat = malloc(sizeof *lat * (maxreq + 1));
    char *req = read_file(argv[8], &reqlen);
    return run_http(argv[2], atoi(argv[3]), argv[4], atoi(argv[5]), atof(argv[6]), req, reqlen);
  }
  if (!strcmp(argv[1], "fifo") && argc == 9) {
    maxreq = atol(argv[7]);
    lat = malloc(sizeof *lat * (maxreq + 1));
    char *req = read_file(argv[8], &reqlen);
    return run_fifo(argv[2], argv[3], !strcmp(argv[4], "post"), !strcmp(argv[5], "kamailio"), atof(argv[6]), req,
                    reqlen);
  }
  fprintf(stderr, "loadgen: bad arguments (see the comment at the top of loadgen.c)\n");
  return 2;
}
