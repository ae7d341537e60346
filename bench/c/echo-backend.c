/*
 * Echo backend for the benchmark: accepts on 127.0.0.1, strips one PROXY protocol header (v2 binary or v1 text)
 * when the connection starts with one, then echoes every byte after it (the forwarded ClientHello included).
 * A connection that starts with anything else (the "direct" target: a TLS record) is echoed from its first byte.
 *
 *   echo-backend PORT          PORT 0 picks a free port; prints "LISTENING <port>" once it accepts
 *
 * One thread, epoll, nonblocking sockets. Backpressure: when a write would block, the rest is kept and reading that
 * connection stops until it drains. A FIN from the peer is answered by close() once everything is written.
 * On SIGTERM/SIGINT it prints one JSON line of counters (how many headers of each kind it saw) and exits.
 * It dies with its parent (PR_SET_PDEATHSIG), so a killed benchmark leaves nothing behind.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* PROXY protocol, haproxy.org/download/2.6/doc/proxy-protocol.txt */
static const uint8_t PP2_SIGNATURE[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
#define PP2_SIGNATURE_BYTES 12
#define PP2_HEADER_BYTES 16 /* signature(12) + ver_cmd(1) + fam(1) + len(2) */
#define PP2_OFFSET_LENGTH 14
#define PP1_PREFIX "PROXY "
#define PP1_PREFIX_BYTES 6
#define PP1_MAX_BYTES 107 /* the longest v1 line, CRLF included */
#define HEADER_FIRST_BYTES 256 /* enough for v1 and for a v2 header with a few TLVs; grown when v2 says more */

#define READ_BUFFER_BYTES (256 * 1024)
#define MAX_EVENTS 512
#define LISTEN_BACKLOG 4096

enum phase {
  PHASE_HEADER, /* deciding whether a PROXY header is there, and reading it */
  PHASE_ECHO,   /* echoing */
};

struct conn {
  int fd;
  enum phase phase;
  int is_eof;         /* the peer sent FIN: close once pending is written */
  uint8_t *header;    /* bytes seen in PHASE_HEADER (allocated on first use) */
  size_t header_len;
  size_t header_cap;
  uint8_t *pending;   /* echo bytes the socket did not take yet */
  size_t pending_len;
  size_t pending_off;
};

static struct {
  unsigned long accepted, v2, v1, none, bad;
} counters;

static volatile sig_atomic_t stop_requested;
static int epfd;
static uint8_t read_buffer[READ_BUFFER_BYTES];

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void close_conn(struct conn *c) {
  close(c->fd);
  free(c->header);
  free(c->pending);
  free(c);
}

static void set_events(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes bytes back; keeps what the socket would not take. Returns -1 when the connection must close. */
static int echo(struct conn *c, const uint8_t *bytes, size_t len) {
  if (len == 0) return 0;
  if (c->pending_len > 0) {
    /* Not reading while pending, so this only happens for header leftovers: append. */
    uint8_t *grown = realloc(c->pending, c->pending_len + len);
    if (grown == NULL) return -1;
    memcpy(grown + c->pending_len, bytes, len);
    c->pending = grown;
    c->pending_len += len;
    return 0;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(c->fd, bytes + off, len - off);
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return -1;
  }
  if (off == len) return 0;
  c->pending = malloc(len - off);
  if (c->pending == NULL) return -1;
  memcpy(c->pending, bytes + off, len - off);
  c->pending_len = len - off;
  c->pending_off = 0;
  set_events(c, EPOLLOUT); /* stop reading until drained: backpressure */
  return 0;
}

/* Feeds bytes read in PHASE_HEADER. Returns -1 to close. */
static int take_header_bytes(struct conn *c, const uint8_t *bytes, size_t len) {
  if (c->header_len == 0 && len > 0 && bytes[0] != PP2_SIGNATURE[0] && bytes[0] != (uint8_t)PP1_PREFIX[0]) {
    counters.none++;
    c->phase = PHASE_ECHO;
    return echo(c, bytes, len);
  }
  if (c->header == NULL) {
    c->header = malloc(HEADER_FIRST_BYTES);
    if (c->header == NULL) return -1;
    c->header_cap = HEADER_FIRST_BYTES;
  }
  if (c->header_len >= PP2_HEADER_BYTES && c->header[0] == PP2_SIGNATURE[0]) {
    size_t total = PP2_HEADER_BYTES + (((size_t)c->header[PP2_OFFSET_LENGTH] << 8) | c->header[PP2_OFFSET_LENGTH + 1]);
    if (total > c->header_cap) {
      uint8_t *grown = realloc(c->header, total);
      if (grown == NULL) return -1;
      c->header = grown;
      c->header_cap = total;
    }
  }
  size_t room = c->header_cap - c->header_len;
  size_t take = len < room ? len : room;
  memcpy(c->header + c->header_len, bytes, take);
  c->header_len += take;
  const uint8_t *h = c->header;
  size_t have = c->header_len;
  size_t header_end = 0;

  if (h[0] == PP2_SIGNATURE[0]) {
    size_t cmp = have < PP2_SIGNATURE_BYTES ? have : PP2_SIGNATURE_BYTES;
    if (memcmp(h, PP2_SIGNATURE, cmp) != 0) goto bad;
    if (have < PP2_HEADER_BYTES) return 0;
    size_t total = PP2_HEADER_BYTES + (((size_t)h[PP2_OFFSET_LENGTH] << 8) | h[PP2_OFFSET_LENGTH + 1]);
    if (have < total) {
      /* The buffer may have been too small for this header: grow it (above) and take the rest of this read. */
      return take < len ? take_header_bytes(c, bytes + take, len - take) : 0;
    }
    header_end = total;
    counters.v2++;
  } else {
    size_t cmp = have < PP1_PREFIX_BYTES ? have : PP1_PREFIX_BYTES;
    if (memcmp(h, PP1_PREFIX, cmp) != 0) goto bad;
    size_t limit = have < PP1_MAX_BYTES ? have : PP1_MAX_BYTES;
    for (size_t i = 1; i < limit; i++) {
      if (h[i - 1] == '\r' && h[i] == '\n') {
        header_end = i + 1;
        break;
      }
    }
    if (header_end == 0) {
      if (have >= PP1_MAX_BYTES) goto bad;
      return 0;
    }
    counters.v1++;
  }
  c->phase = PHASE_ECHO;
  /* Everything after the header, including bytes that came in the same read, is echoed. */
  size_t rest_in_header = c->header_len - header_end;
  int rc = echo(c, c->header + header_end, rest_in_header);
  if (rc == 0 && take < len) rc = echo(c, bytes + take, len - take);
  free(c->header);
  c->header = NULL;
  return rc;
bad:
  counters.bad++;
  return -1;
}

static void on_readable(struct conn *c) {
  for (;;) {
    if (c->pending_len > 0) return; /* backpressure: wait for EPOLLOUT */
    ssize_t n = read(c->fd, read_buffer, sizeof read_buffer);
    if (n > 0) {
      int rc = c->phase == PHASE_HEADER ? take_header_bytes(c, read_buffer, (size_t)n) : echo(c, read_buffer, (size_t)n);
      if (rc < 0) {
        close_conn(c);
        return;
      }
      if ((size_t)n < sizeof read_buffer) return; /* level-triggered: epoll reports the rest */
      continue;
    }
    if (n == 0) {
      c->is_eof = 1;
      if (c->pending_len == 0) close_conn(c);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    close_conn(c);
    return;
  }
}

static void on_writable(struct conn *c) {
  while (c->pending_off < c->pending_len) {
    ssize_t n = write(c->fd, c->pending + c->pending_off, c->pending_len - c->pending_off);
    if (n > 0) {
      c->pending_off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close_conn(c);
    return;
  }
  free(c->pending);
  c->pending = NULL;
  c->pending_len = c->pending_off = 0;
  if (c->is_eof) {
    close_conn(c);
    return;
  }
  set_events(c, EPOLLIN);
}

static void accept_all(int listen_fd) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return; /* EAGAIN, or EMFILE: the backlog keeps them until a slot frees */
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
      close(fd);
      continue;
    }
    c->fd = fd;
    c->phase = PHASE_HEADER;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      close_conn(c);
      continue;
    }
    counters.accepted++;
  }
}

static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: echo-backend PORT\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 1; /* the parent is already gone */
  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listen_fd, LISTEN_BACKLOG) < 0) {
    perror("echo-backend: bind/listen");
    return 1;
  }
  socklen_t addr_len = sizeof addr;
  getsockname(listen_fd, (struct sockaddr *)&addr, &addr_len);

  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &lev);
  printf("LISTENING %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  struct epoll_event events[MAX_EVENTS];
  while (!stop_requested) {
    int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("echo-backend: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        accept_all(listen_fd);
        continue;
      }
      if (c->pending_len > 0) {
        if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) on_writable(c);
      } else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        on_readable(c);
      }
    }
  }
  printf("{\"accepted\":%lu,\"proxy_v2\":%lu,\"proxy_v1\":%lu,\"no_header\":%lu,\"bad_header\":%lu}\n", counters.accepted,
         counters.v2, counters.v1, counters.none, counters.bad);
  fflush(stdout);
  return 0;
}
