/*
 * A raw AF_NETLINK socket for Node: open, send a datagram, receive datagrams,
 * close. Nothing else: every message is built and parsed in TypeScript
 * (src/kernel/netlink/). Sending runs on the libuv thread pool, because the
 * kernel handles a netlink request inside sendmsg (a batch of a thousand
 * IPVS changes is real work), and so does a receive that must wait for the
 * kernel: neither may hold up the event loop. Each trip through the pool
 * costs two thread hand-offs (about 0.1 ms each here, and several ms when a
 * core is busy), so where the kernel's work is known to be small the caller
 * sends inline, and replies already queued (the kernel answers inside
 * sendmsg, and makes a dump's next part inside recvmsg) are taken inline.
 *
 *   const sock = addon.open(protocol, netnsPath?);  // throws Error with .errno
 *   addon.send(sock, buffer, (err) => ...);
 *   addon.sendNow(sock, buffer);                    // throws Error with .errno
 *   addon.receive(sock, (err, buffer) => ...);  // one or more datagrams, end to end
 *   addon.receiveNow(sock);                         // the same, or undefined if none is queued
 *   addon.close(sock);
 *
 * The JS side runs one operation per socket at a time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#define ADDON_NAME "netlink"
#include "addon.h"
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Room for the replies to one batch of requests (the JS side sends at most
 * 64 KiB of them; each ACK costs the receive queue about 1 KiB) and for a
 * dump's datagrams. SO_RCVBUFFORCE (root) is not capped by rmem_max. */
#define RECEIVE_BUFFER (4 << 20)
/* One receive returns what is queued, up to this much... */
#define RECEIVE_CHUNK (256 << 10)
/* ...and reads another datagram only while this much room is left: no
 * datagram the kernel sends us is larger (dump parts are at most 32 KiB). */
#define MAX_DATAGRAM (64 << 10)


struct nlsock {
  int fd;
};

struct job {
  napi_async_work work;
  napi_ref callback;
  napi_ref sock; /* keeps the socket from being finalized while the job runs */
  int fd;
  char *data;
  size_t len;
  int receiving;
  int err;
};

static napi_value errno_error(napi_env env, const char *what, int err) {
  char text[160];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_value msg, error, num;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  return error;
}

static void finalize_sock(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct nlsock *s = data;
  if (s->fd >= 0) close(s->fd);
  free(s);
}

/* socket(2) in the network namespace at `path`: a socket stays in the
 * namespace it was created in, so only the creating thread has to switch,
 * and it switches back at once. */
static int socket_in_netns(const char *path, int protocol) {
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return -1;
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0 || setns(target, CLONE_NEWNET) < 0) {
    int err = errno;
    if (target >= 0) close(target);
    close(self);
    errno = err;
    return -1;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  int err = errno;
  /* A thread left in the wrong namespace would send everything else there. */
  if (setns(self, CLONE_NEWNET) < 0) abort();
  close(target);
  close(self);
  errno = err;
  return fd;
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t protocol;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &protocol) != napi_ok) {
    napi_throw_type_error(env, NULL, "open(protocol, netnsPath?)");
    return NULL;
  }
  char path[4096] = "";
  napi_valuetype type = napi_undefined;
  if (argc == 2) CHECK(env, napi_typeof(env, argv[1], &type));
  if (type == napi_string) CHECK(env, napi_get_value_string_utf8(env, argv[1], path, sizeof path, NULL));

  int fd = path[0] ? socket_in_netns(path, protocol) : socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    napi_throw(env, errno_error(env, path[0] ? "netlink socket in a network namespace" : "netlink socket", errno));
    return NULL;
  }
  int size = RECEIVE_BUFFER;
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if ((setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0 &&
       setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0) ||
      bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    int err = errno;
    close(fd);
    napi_throw(env, errno_error(env, "netlink socket setup", err));
    return NULL;
  }
  struct nlsock *s = malloc(sizeof *s);
  if (!s) {
    close(fd);
    napi_throw_error(env, NULL, "netlink addon: out of memory");
    return NULL;
  }
  s->fd = fd;
  napi_value external;
  CHECK(env, napi_create_external(env, s, finalize_sock, NULL, &external));
  return external;
}

static struct nlsock *get_sock(napi_env env, napi_value value) {
  struct nlsock *s;
  if (napi_get_value_external(env, value, (void **)&s) != napi_ok) {
    napi_throw_type_error(env, NULL, "not a netlink socket");
    return NULL;
  }
  if (s->fd < 0) {
    napi_throw_error(env, NULL, "the netlink socket is closed");
    return NULL;
  }
  return s;
}

/* One datagram to the kernel: 0, or an errno. */
static int send_to_kernel(int fd, const void *data, size_t len) {
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do n = sendto(fd, data, len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}

/* Datagrams into buf (RECEIVE_CHUNK bytes), end to end, setting *len: the
 * first waits unless `wait` is 0, the rest are taken only if queued. 0, or an
 * errno (EAGAIN: nothing was queued and `wait` is 0). */
static int receive_into(int fd, char *buf, size_t *len, int wait) {
  *len = 0;
  while (*len + MAX_DATAGRAM <= RECEIVE_CHUNK) {
    size_t room = RECEIVE_CHUNK - *len;
    /* MSG_TRUNC: the result is the datagram's real length, so a cut one is seen. */
    ssize_t n = recv(fd, buf + *len, room, MSG_TRUNC | (*len || !wait ? MSG_DONTWAIT : 0));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && *len && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) return errno == EWOULDBLOCK ? EAGAIN : errno;
    if ((size_t)n > room) return EMSGSIZE;
    *len += (size_t)n;
  }
  return 0;
}

static void execute_send(napi_env env, void *data) {
  (void)env;
  struct job *j = data;
  j->err = send_to_kernel(j->fd, j->data, j->len);
}

static void execute_receive(napi_env env, void *data) {
  (void)env;
  struct job *j = data;
  j->data = malloc(RECEIVE_CHUNK);
  j->err = j->data ? receive_into(j->fd, j->data, &j->len, 1) : ENOMEM;
}

static void complete(napi_env env, napi_status status, void *data) {
  struct job *j = data;
  napi_value cb, global, argv[2];
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  napi_get_null(env, &argv[0]);
  napi_get_undefined(env, &argv[1]);
  if (status != napi_ok) j->err = ECANCELED;
  if (j->err) argv[0] = errno_error(env, j->receiving ? "netlink receive" : "netlink send", j->err);
  else if (j->receiving) napi_create_buffer_copy(env, j->len, j->data, NULL, &argv[1]);
  napi_call_function(env, global, cb, 2, argv, NULL);
  napi_delete_reference(env, j->callback);
  napi_delete_reference(env, j->sock);
  napi_delete_async_work(env, j->work);
  free(j->data);
  free(j);
}

/* Shared by send and receive: argv = (sock, [buffer,] callback). */
static napi_value queue(napi_env env, napi_callback_info info, int with_buffer) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != (size_t)(with_buffer ? 3 : 2)) {
    napi_throw_type_error(env, NULL, with_buffer ? "send(sock, buffer, callback)" : "receive(sock, callback)");
    return NULL;
  }
  struct nlsock *s = get_sock(env, argv[0]);
  if (!s) return NULL;
  struct job *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "netlink addon: out of memory");
    return NULL;
  }
  j->fd = s->fd;
  j->receiving = !with_buffer;
  if (with_buffer) {
    void *bytes;
    if (napi_get_buffer_info(env, argv[1], &bytes, &j->len) != napi_ok || !(j->data = malloc(j->len ? j->len : 1))) {
      free(j);
      napi_throw_type_error(env, NULL, "send: not a Buffer, or out of memory");
      return NULL;
    }
    memcpy(j->data, bytes, j->len);
  }
  CHECK(env, napi_create_reference(env, argv[0], 1, &j->sock));
  CHECK(env, napi_create_reference(env, argv[with_buffer ? 2 : 1], 1, &j->callback));
  napi_value name;
  CHECK(env, napi_create_string_utf8(env, with_buffer ? "netlink_send" : "netlink_receive", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_async_work(env, NULL, name, with_buffer ? execute_send : execute_receive, complete, j, &j->work));
  CHECK(env, napi_queue_async_work(env, j->work));
  return NULL;
}

static napi_value send_datagram(napi_env env, napi_callback_info info) { return queue(env, info, 1); }

static napi_value receive_datagrams(napi_env env, napi_callback_info info) { return queue(env, info, 0); }

/* sendNow(sock, buffer): the send on the event loop, for requests whose kernel work is small. */
static napi_value send_now(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *bytes;
  size_t len;
  if (argc != 2 || napi_get_buffer_info(env, argv[1], &bytes, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendNow(sock, buffer)");
    return NULL;
  }
  struct nlsock *s = get_sock(env, argv[0]);
  if (!s) return NULL;
  int err = send_to_kernel(s->fd, bytes, len);
  if (err) napi_throw(env, errno_error(env, "netlink send", err));
  return NULL;
}

/* receiveNow(sock): the datagrams already queued, end to end, or undefined if there are none. */
static napi_value receive_now(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct nlsock *s = argc == 1 ? get_sock(env, argv[0]) : NULL;
  if (!s) {
    if (argc != 1) napi_throw_type_error(env, NULL, "receiveNow(sock)");
    return NULL;
  }
  char *buf = malloc(RECEIVE_CHUNK);
  if (!buf) {
    napi_throw_error(env, NULL, "netlink addon: out of memory");
    return NULL;
  }
  size_t len;
  int err = receive_into(s->fd, buf, &len, 0);
  if (!err) napi_create_buffer_copy(env, len, buf, NULL, &result);
  free(buf);
  if (err == EAGAIN) napi_get_undefined(env, &result);
  else if (err) {
    napi_throw(env, errno_error(env, "netlink receive", err));
    return NULL;
  }
  return result;
}

static napi_value close_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct nlsock *s;
  CHECK(env, napi_get_value_external(env, argv[0], (void **)&s));
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  return NULL;
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor fns[] = {
      FUNCTION("open", open_socket), FUNCTION("send", send_datagram), FUNCTION("sendNow", send_now),
      FUNCTION("receive", receive_datagrams), FUNCTION("receiveNow", receive_now), FUNCTION("close", close_socket),
  };
  DEFINE(env, exports, fns);
  return exports;
}
