// First-packet latency: times blocking TCP connect()s to addr:port and prints
// each sample in nanoseconds, one per line, after some untimed warm-up ones.
// SO_LINGER 0 closes with a RST, so no TIME_WAIT piles up between samples.
//   connect-timer <ipv4> <port> <samples> <warmup>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s <ipv4> <port> <samples> <warmup>\n", argv[0]);
    return 2;
  }
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2])) };
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
    fprintf(stderr, "bad address %s\n", argv[1]);
    return 2;
  }
  int samples = atoi(argv[3]), warmup = atoi(argv[4]);
  struct linger nolinger = { .l_onoff = 1, .l_linger = 0 };
  // A lost SYN would otherwise block for minutes of retransmits: fail fast instead.
  struct timeval limit = { .tv_sec = 2, .tv_usec = 0 };
  for (int i = 0; i < warmup + samples; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_LINGER, &nolinger, sizeof nolinger) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) != 0) {
      fprintf(stderr, "socket: %s\n", strerror(errno));
      return 1;
    }
    long long t0 = now_ns();
    int rc = connect(fd, (struct sockaddr *)&to, sizeof to);
    long long t1 = now_ns();
    if (rc != 0) {
      fprintf(stderr, "connect %s:%s (attempt %d): %s\n", argv[1], argv[2], i + 1, strerror(errno));
      return 1;
    }
    close(fd);
    if (i >= warmup) printf("%lld\n", t1 - t0);
  }
  return 0;
}
