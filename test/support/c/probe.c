// Probe client for kernel tests. Reads one probe a line on stdin:
//   tcp|udp <addr> <port> <src or -> <timeoutMs> <source port, 0: any>
// and prints one result a line, in the same order:
//   ok <localAddr> <localPort> <peerAddr> <peerPort>   (the echo server's line)
//   refused | timeout | error <ERRNO>: <message>
// Up to 64 probes are in flight at once. UDP uses a connected socket (so an
// ICMP port unreachable surfaces as ECONNREFUSED) and resends at a third and
// two thirds of the timeout, as datagrams can be lost while ARP/ND resolves.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_FLIGHT 64

struct probe {
  int udp, fd, connected, sends;
  long long start, timeout;
  struct sockaddr_storage to, from;
  socklen_t len;
  int has_from;
  char reply[200];
  size_t got;
  char result[240];
};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_addr(const char *text, int port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  struct sockaddr_in *v4 = (void *)out;
  struct sockaddr_in6 *v6 = (void *)out;
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof *v6;
    return 0;
  }
  return -1;
}

static void finish(struct probe *p, const char *fmt, const char *arg) {
  snprintf(p->result, sizeof p->result, fmt, arg);
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
}

static void fail(struct probe *p, int err) {
  if (err == ECONNREFUSED) return finish(p, "refused", "");
  // As node reports it: "EHOSTUNREACH: No route to host".
  const char *name = strerrorname_np(err);
  snprintf(p->reply, sizeof p->reply, "%s: %s", name ? name : "ERROR", strerror(err));
  finish(p, "error %s", p->reply);
}

/** The echo server's line: four fields, the last a number. */
static void finish_reply(struct probe *p) {
  char la[64], pa[64];
  int lp, pp;
  p->reply[p->got] = 0;
  if (sscanf(p->reply, "%63s %d %63s %d", la, &lp, pa, &pp) == 4) {
    snprintf(p->result, sizeof p->result, "ok %s %d %s %d", la, lp, pa, pp);
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
  } else {
    finish(p, "error bad reply: %s", p->reply);
  }
}

static void start(struct probe *p) {
  p->fd = socket(p->to.ss_family, (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);
  if (p->fd < 0) return fail(p, errno);
  if (p->has_from) {
    int one = 1;
    setsockopt(p->fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); // a given source port, used again
    if (bind(p->fd, (struct sockaddr *)&p->from, p->len) != 0) return fail(p, errno);
  }
  p->start = now_ms();
  if (connect(p->fd, (struct sockaddr *)&p->to, p->len) != 0 && errno != EINPROGRESS) return fail(p, errno);
  if (p->udp) {
    p->connected = 1;
    if (send(p->fd, "probe", 5, 0) < 0) return fail(p, errno);
    p->sends = 1;
  }
}

/** Advances a probe whose socket is ready (or whose time has come). */
static void step(struct probe *p, short revents) {
  if (revents & (POLLERR | POLLHUP) && !(revents & POLLIN)) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) return fail(p, err);
  }
  if (!p->udp && !p->connected && (revents & (POLLOUT | POLLERR | POLLHUP))) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) return fail(p, err);
    p->connected = 1;
  }
  if (revents & POLLIN) {
    ssize_t n = recv(p->fd, p->reply + p->got, sizeof p->reply - 1 - p->got, 0);
    if (n < 0) return errno == EAGAIN ? (void)0 : fail(p, errno);
    p->got += (size_t)n;
    if (p->udp || n == 0 || p->got == sizeof p->reply - 1) return finish_reply(p);
  }
  long long elapsed = now_ms() - p->start;
  if (elapsed >= p->timeout) return finish(p, "timeout", "");
  if (p->udp && p->sends < 3 && elapsed >= p->sends * p->timeout / 3) {
    if (send(p->fd, "probe", 5, 0) < 0 && errno != EAGAIN) return fail(p, errno);
    p->sends++;
  }
}

int main(void) {
  size_t n = 0, cap = 64;
  struct probe *ps = calloc(cap, sizeof *ps);
  char proto[8], addr[64], src[64];
  int port, sport;
  long long timeout;
  while (scanf("%7s %63s %d %63s %lld %d", proto, addr, &port, src, &timeout, &sport) == 6) {
    if (n == cap) ps = realloc(ps, (cap *= 2) * sizeof *ps);
    struct probe *p = &ps[n++];
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->udp = strcmp(proto, "udp") == 0;
    p->timeout = timeout;
    if (parse_addr(addr, port, &p->to, &p->len) != 0) { finish(p, "error bad address %s", addr); continue; }
    socklen_t l;
    if (strcmp(src, "-") != 0 || sport != 0) {
      const char *any = p->to.ss_family == AF_INET ? "0.0.0.0" : "::";
      if (parse_addr(strcmp(src, "-") != 0 ? src : any, sport, &p->from, &l) != 0) { finish(p, "error bad source %s", src); continue; }
      p->has_from = 1;
    }
  }
  size_t next = 0, done = 0;
  for (size_t i = 0; i < n; i++) if (ps[i].result[0]) done++;
  struct pollfd fds[IN_FLIGHT];
  size_t owner[IN_FLIGHT];
  while (done < n) {
    size_t live = 0;
    for (size_t i = 0; i < next; i++) if (!ps[i].result[0]) live++;
    while (live < IN_FLIGHT && next < n) {
      struct probe *p = &ps[next++];
      if (p->result[0]) continue;
      start(p);
      if (p->result[0]) done++;
      else live++;
    }
    int k = 0;
    for (size_t i = 0; i < next && k < IN_FLIGHT; i++) {
      struct probe *p = &ps[i];
      if (p->result[0]) continue;
      fds[k] = (struct pollfd){ .fd = p->fd, .events = (short)(POLLIN | (p->connected ? 0 : POLLOUT)) };
      owner[k++] = i;
    }
    if (k == 0) continue;
    poll(fds, k, 20);
    for (int j = 0; j < k; j++) {
      struct probe *p = &ps[owner[j]];
      step(p, fds[j].revents);
      if (p->result[0]) done++;
    }
  }
  for (size_t i = 0; i < n; i++) printf("%s\n", ps[i].result);
  return 0;
}
