// Echo server for kernel tests. Usage: echo-server <port>...
//
// Every TCP connection gets "<localAddr> <localPort> <peerAddr> <peerPort>\n"
// and is closed; every UDP datagram is answered with the same line, sent from
// the address it was sent to (IP_PKTINFO), so replies need no per-address
// sockets. Listens on the IPv4 and IPv6 wildcards; prints READY when listening.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SOCKETS 64

static void text(const struct sockaddr_storage *a, char *host, size_t n, int *port) {
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const void *)a;
    inet_ntop(AF_INET, &s->sin_addr, host, n);
    *port = ntohs(s->sin_port);
  } else {
    const struct sockaddr_in6 *s = (const void *)a;
    if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], host, n);
    else inet_ntop(AF_INET6, &s->sin6_addr, host, n);
    *port = ntohs(s->sin6_port);
  }
}

static int line(char *out, size_t n, const struct sockaddr_storage *local, const struct sockaddr_storage *peer) {
  char lh[INET6_ADDRSTRLEN], ph[INET6_ADDRSTRLEN];
  int lp, pp;
  text(local, lh, sizeof lh, &lp);
  text(peer, ph, sizeof ph, &pp);
  return snprintf(out, n, "%s %d %s %d\n", lh, lp, ph, pp);
}

static int open_socket(int family, int type, int port) {
  int fd = socket(family, type | SOCK_NONBLOCK, 0), one = 1;
  if (fd < 0) return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_storage at = {0};
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *s = (void *)&at;
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    len = sizeof *s;
    if (type == SOCK_DGRAM) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  } else {
    struct sockaddr_in6 *s = (void *)&at;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    len = sizeof *s;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (type == SOCK_DGRAM) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  }
  if (bind(fd, (struct sockaddr *)&at, len) != 0 || (type == SOCK_STREAM && listen(fd, 1024) != 0)) {
    fprintf(stderr, "echo-server: port %d: %s\n", port, strerror(errno));
    exit(1);
  }
  return fd;
}

static void serve_tcp(int fd) {
  for (;;) {
    struct sockaddr_storage peer, local;
    socklen_t pl = sizeof peer, ll = sizeof local;
    int c = accept(fd, (struct sockaddr *)&peer, &pl);
    if (c < 0) return;
    char out[160];
    if (getsockname(c, (struct sockaddr *)&local, &ll) == 0) {
      int n = line(out, sizeof out, &local, &peer);
      if (write(c, out, n) < 0) { /* the peer went away: nothing to do */ }
    }
    close(c);
  }
}

static void serve_udp(int fd, int port) {
  for (;;) {
    char buf[512], ctl[256], out[160];
    struct sockaddr_storage peer, local = {0};
    struct iovec iov = { buf, sizeof buf };
    struct msghdr m = { .msg_name = &peer, .msg_namelen = sizeof peer, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
    if (recvmsg(fd, &m, 0) < 0) return;
    local.ss_family = peer.ss_family;
    char rctl[256] = {0};
    struct msghdr r = { .msg_name = &peer, .msg_namelen = m.msg_namelen, .msg_iovlen = 1, .msg_control = rctl };
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        struct in_pktinfo *pi = (void *)CMSG_DATA(c);
        struct sockaddr_in *l = (void *)&local;
        l->sin_addr = pi->ipi_addr;
        l->sin_port = htons(port);
        struct cmsghdr *rc = (void *)rctl;
        r.msg_controllen = CMSG_SPACE(sizeof *pi);
        rc->cmsg_level = IPPROTO_IP; rc->cmsg_type = IP_PKTINFO; rc->cmsg_len = CMSG_LEN(sizeof *pi);
        struct in_pktinfo *rp = (void *)CMSG_DATA(rc);
        memset(rp, 0, sizeof *rp);
        rp->ipi_spec_dst = pi->ipi_addr;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        struct in6_pktinfo *pi = (void *)CMSG_DATA(c);
        struct sockaddr_in6 *l = (void *)&local;
        l->sin6_addr = pi->ipi6_addr;
        l->sin6_port = htons(port);
        struct cmsghdr *rc = (void *)rctl;
        r.msg_controllen = CMSG_SPACE(sizeof *pi);
        rc->cmsg_level = IPPROTO_IPV6; rc->cmsg_type = IPV6_PKTINFO; rc->cmsg_len = CMSG_LEN(sizeof *pi);
        struct in6_pktinfo *rp = (void *)CMSG_DATA(rc);
        memset(rp, 0, sizeof *rp);
        rp->ipi6_addr = pi->ipi6_addr;
      }
    }
    struct iovec oiov = { out, (size_t)line(out, sizeof out, &local, &peer) };
    r.msg_iov = &oiov;
    if (r.msg_controllen == 0) r.msg_control = NULL;
    sendmsg(fd, &r, 0);
  }
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 1 + MAX_SOCKETS / 4) {
    fprintf(stderr, "usage: echo-server <port>...\n");
    return 2;
  }
  struct pollfd fds[MAX_SOCKETS];
  int ports[MAX_SOCKETS], types[MAX_SOCKETS], n = 0;
  for (int i = 1; i < argc; i++) {
    int port = atoi(argv[i]);
    if (port <= 0 || port > 65535) { fprintf(stderr, "echo-server: bad port %s\n", argv[i]); return 2; }
    int fams[] = { AF_INET, AF_INET6 }, kinds[] = { SOCK_STREAM, SOCK_DGRAM };
    for (int f = 0; f < 2; f++) for (int k = 0; k < 2; k++) {
      fds[n] = (struct pollfd){ .fd = open_socket(fams[f], kinds[k], port), .events = POLLIN };
      ports[n] = port;
      types[n++] = kinds[k];
    }
  }
  printf("READY\n");
  fflush(stdout);
  for (;;) {
    if (poll(fds, n, -1) < 0 && errno != EINTR) return 1;
    for (int i = 0; i < n; i++) {
      if (!(fds[i].revents & POLLIN)) continue;
      if (types[i] == SOCK_STREAM) serve_tcp(fds[i].fd);
      else serve_udp(fds[i].fd, ports[i]);
    }
  }
}
