/*
 * Load generator for the benchmark: one thread, epoll (edge-triggered), nonblocking sockets, 127.0.0.1 only.
 *
 *   loadgen rate   --port P --hello FILE [--payload 100] [--conc 64] [--warmup-ms 1000] [--duration-ms 5000]
 *                  [--max-conns N]
 *       N loops of: connect → write hello + payload in one write → read the echo of both (the backend echoes
 *       everything after the PROXY header, so that is hello + payload, compared byte for byte) → close.
 *       Reports completed cycles/s and p50/p99/max of the whole cycle (connect() to close()).
 *   stream --port P --hello FILE [--streams 8] [--chunk 65536] [--window 1048576] [--warmup-ms] [--duration-ms]
 *       S connections: hello, wait for its echo, then write CHUNK-byte writes while fewer than WINDOW bytes are
 *       unanswered, reading the echo. Reports echoed MB/s (10^6 bytes).
 *   idle   --port P --hello FILE [--conns 9000] [--batch 256] [--open-timeout-ms 30000] [--hold-ms 60000]
 *       Opens N connections past the hello (its echo came back), prints "READY <n>", holds them until a line
 *       (or EOF) on stdin or --hold-ms, then closes them all.
 *
 * Every mode is bounded in time (and rate in count: --max-conns). Progress lines on stdout: "WARMED" when the
 * warm-up ends, "MEASURED" when the measured window ends (the orchestrator samples /proc at both), then one JSON
 * line with the results. Dies with its parent (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define READ_BUFFER_BYTES (256 * 1024)
#define DRAIN_MS 2000 /* after the measured window, how long in-flight cycles may finish */
#define MAX_REQUEST_BYTES (1024 * 1024)

/* ---- options ---------------------------------------------------------------------------------------------- */

static struct {
  const char *mode;
  const char *host;
  int port;
  const char *hello_file;
  long payload;
  long conc;
  long warmup_ms;
  long duration_ms;
  long max_conns;
  long streams;
  long chunk;
  long window;
  long conns;
  long batch;
  long open_timeout_ms;
  long hold_ms;
} opt = {
    .host = "127.0.0.1",
    .payload = 100,
    .conc = 64,
    .warmup_ms = 1000,
    .duration_ms = 5000,
    .max_conns = 5000000,
    .streams = 8,
    .chunk = 65536,
    .window = 1048576,
    .conns = 9000,
    .batch = 256,
    .open_timeout_ms = 30000,
    .hold_ms = 60000,
};

/* ---- shared state ----------------------------------------------------------------------------------------- */

static int epfd;
static struct sockaddr_in target;
static uint8_t *request; /* hello (+ payload in rate mode): what is written, and what must come back */
static size_t request_len;
static size_t hello_len;
static uint8_t read_buffer[READ_BUFFER_BYTES];

static struct {
  unsigned long refused, reset, addr_not_avail, early_eof, mismatch, other;
  char first[160];
} errs;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void marker(const char *line) {
  printf("%s\n", line);
  fflush(stdout);
}

static void note_error(int err, const char *what) {
  switch (err) {
    case ECONNREFUSED: errs.refused++; break;
    case ECONNRESET: case EPIPE: errs.reset++; break;
    case EADDRNOTAVAIL: errs.addr_not_avail++; break;
    case 0: break;
    default: errs.other++; break;
  }
  if (errs.first[0] == '\0') snprintf(errs.first, sizeof errs.first, "%s: %s", what, err ? strerror(err) : "-");
}

static void print_errors_json(void) {
  printf("\"errors\":{\"refused\":%lu,\"reset\":%lu,\"addr_not_avail\":%lu,\"early_eof\":%lu,\"mismatch\":%lu,\"other\":%lu},"
         "\"first_error\":\"%s\"",
         errs.refused, errs.reset, errs.addr_not_avail, errs.early_eof, errs.mismatch, errs.other, errs.first);
}

static unsigned long error_total(void) {
  return errs.refused + errs.reset + errs.addr_not_avail + errs.early_eof + errs.mismatch + errs.other;
}

/* A nonblocking socket, connect() started, registered edge-triggered for in and out. -1 on failure. */
static int open_conn(void *tag) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    note_error(errno, "socket");
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
    note_error(errno, "connect");
    close(fd);
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = tag};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    note_error(errno, "epoll_ctl");
    close(fd);
    return -1;
  }
  return fd;
}

/* The pending error of a socket whose connect() was in progress (0 when connected). */
static int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

/* Writes request[*off..len); 1 when all is written, 0 when the socket is full, -1 on error (errno set). */
static int write_from(int fd, const uint8_t *bytes, size_t len, size_t *off) {
  while (*off < len) {
    ssize_t n = write(fd, bytes + *off, len - *off);
    if (n > 0) {
      *off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
  }
  return 1;
}

/*
 * Reads what has arrived and compares it with expected[*got..]. Returns 1 once `want` bytes are in, 0 when more
 * must come, -1 on error/EOF/mismatch (counted). Reads no further than `want` (bytes past it are a mismatch).
 */
static int read_expected(int fd, const uint8_t *expected, size_t want, size_t *got) {
  while (*got < want) {
    ssize_t n = read(fd, read_buffer, sizeof read_buffer);
    if (n > 0) {
      if (*got + (size_t)n > want || memcmp(read_buffer, expected + *got, (size_t)n) != 0) {
        errs.mismatch++;
        note_error(0, "echo differs from what was sent");
        return -1;
      }
      *got += (size_t)n;
      continue;
    }
    if (n == 0) {
      errs.early_eof++;
      note_error(0, "closed before the whole echo came back");
      return -1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    note_error(errno, "read");
    return -1;
  }
  return 1;
}

/* ---- rate ------------------------------------------------------------------------------------------------- */

enum { SLOT_IDLE, SLOT_CONNECTING, SLOT_WRITING, SLOT_READING };

struct slot {
  int fd;
  int state;
  size_t sent;
  size_t got;
  int64_t started_ns;
};

static uint32_t *latencies_us;
static size_t latencies_len, latencies_cap;

static void record_latency(int64_t ns) {
  if (latencies_len == latencies_cap) {
    size_t cap = latencies_cap ? latencies_cap * 2 : 65536;
    uint32_t *grown = realloc(latencies_us, cap * sizeof *grown);
    if (grown == NULL) return;
    latencies_us = grown;
    latencies_cap = cap;
  }
  latencies_us[latencies_len++] = (uint32_t)(ns / 1000);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t percentile(double p) {
  if (latencies_len == 0) return 0;
  size_t i = (size_t)(p * (double)(latencies_len - 1) + 0.5);
  return latencies_us[i];
}

static long active_slots;

static void slot_start(struct slot *s) {
  s->sent = s->got = 0;
  s->started_ns = now_ns();
  s->fd = open_conn(s);
  s->state = s->fd < 0 ? SLOT_IDLE : SLOT_CONNECTING;
  if (s->fd >= 0) active_slots++;
}

static void slot_close(struct slot *s) {
  if (s->fd < 0) return;
  close(s->fd);
  s->fd = -1;
  s->state = SLOT_IDLE;
  active_slots--;
}

/* Advances a slot as far as the socket allows. Returns 1 when the cycle completed, -1 on error, 0 otherwise. */
static int slot_advance(struct slot *s, uint32_t events) {
  if (s->state == SLOT_CONNECTING) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return 0;
    int err = socket_error(s->fd);
    if (err != 0) {
      note_error(err, "connect");
      return -1;
    }
    s->state = SLOT_WRITING;
  }
  if (s->state == SLOT_WRITING) {
    int rc = write_from(s->fd, request, request_len, &s->sent);
    if (rc < 0) {
      note_error(errno, "write");
      return -1;
    }
    if (rc == 0) return 0;
    s->state = SLOT_READING;
  }
  int rc = read_expected(s->fd, request, request_len, &s->got);
  return rc;
}

static int run_rate(void) {
  struct slot *slots = calloc((size_t)opt.conc, sizeof *slots);
  int64_t t_start = now_ns();
  int64_t t_warm = t_start + opt.warmup_ms * 1000000LL;
  int64_t t_end = t_warm + opt.duration_ms * 1000000LL;
  int64_t t_drain = t_end + DRAIN_MS * 1000000LL;
  int is_warm = 0, is_over = 0;
  long measured = 0;
  unsigned long errors_at_warm = 0;
  double cpu_at_warm = 0, cpu_at_end = 0;
  int64_t measured_from = t_warm, measured_to = t_end;
  for (long i = 0; i < opt.conc; i++) slots[i].fd = -1;

  struct epoll_event events[MAX_EVENTS];
  /* Bounded by time: ends at t_end, or at t_drain at the latest when cycles are still in flight. */
  for (;;) {
    int64_t now = now_ns();
    if (!is_warm && now >= t_warm) {
      is_warm = 1;
      measured_from = now;
      errors_at_warm = error_total();
      cpu_at_warm = cpu_seconds();
      marker("WARMED");
    }
    if (!is_over && (now >= t_end || measured >= opt.max_conns)) {
      is_over = 1;
      measured_to = now;
      cpu_at_end = cpu_seconds();
      marker("MEASURED");
    }
    if (is_over && (active_slots == 0 || now >= t_drain)) break;
    if (!is_over) {
      /* (Re)start every idle slot: the first pass, and slots whose socket could not be opened. */
      for (long i = 0; i < opt.conc; i++) {
        if (slots[i].state == SLOT_IDLE) slot_start(&slots[i]);
      }
    }
    int n = epoll_wait(epfd, events, MAX_EVENTS, 10);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      struct slot *s = events[i].data.ptr;
      if (s->state == SLOT_IDLE) continue;
      int rc = slot_advance(s, events[i].events);
      if (rc == 0) continue;
      int64_t done_ns = now_ns();
      slot_close(s);
      if (rc > 0 && is_warm && !is_over) {
        measured++;
        record_latency(done_ns - s->started_ns);
      }
      if (!is_over) slot_start(s);
    }
  }
  for (long i = 0; i < opt.conc; i++) slot_close(&slots[i]);
  qsort(latencies_us, latencies_len, sizeof *latencies_us, cmp_u32);
  double seconds = (double)(measured_to - measured_from) / 1e9;
  printf("{\"mode\":\"rate\",\"conc\":%ld,\"conns\":%ld,\"seconds\":%.3f,\"conn_per_s\":%.1f,\"p50_us\":%u,\"p99_us\":%u,"
         "\"max_us\":%u,\"loadgen_cpu_s\":%.3f,\"errors_measured\":%lu,",
         opt.conc, measured, seconds, seconds > 0 ? measured / seconds : 0.0, percentile(0.50), percentile(0.99),
         latencies_len ? latencies_us[latencies_len - 1] : 0, cpu_at_end - cpu_at_warm, error_total() - errors_at_warm);
  print_errors_json();
  printf("}\n");
  fflush(stdout);
  free(slots);
  return 0;
}

/* ---- stream ----------------------------------------------------------------------------------------------- */

enum { STREAM_CONNECTING, STREAM_HELLO, STREAM_HELLO_ECHO, STREAM_FLOWING, STREAM_DEAD };

struct stream {
  int fd;
  int state;
  size_t hello_sent;
  size_t hello_got;
  size_t chunk_off;      /* bytes of the current CHUNK-sized write already written */
  uint64_t written;      /* stream bytes written after the hello */
  uint64_t echoed;       /* stream bytes read back after the hello */
};

static uint8_t *chunk_bytes;
static uint64_t measured_bytes;
static int stream_counting;

/* Moves a stream on as far as it can without blocking. Returns -1 when it died. */
static int stream_advance(struct stream *st, uint32_t events) {
  if (st->state == STREAM_CONNECTING) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return 0;
    int err = socket_error(st->fd);
    if (err != 0) {
      note_error(err, "connect");
      return -1;
    }
    st->state = STREAM_HELLO;
  }
  if (st->state == STREAM_HELLO) {
    int rc = write_from(st->fd, request, hello_len, &st->hello_sent);
    if (rc < 0) {
      note_error(errno, "write hello");
      return -1;
    }
    if (rc == 0) return 0;
    st->state = STREAM_HELLO_ECHO;
  }
  if (st->state == STREAM_HELLO_ECHO) {
    int rc = read_expected(st->fd, request, hello_len, &st->hello_got);
    if (rc <= 0) return rc;
    st->state = STREAM_FLOWING;
  }
  /* Flowing: alternate reading and writing until both would block (or the window stops the writes). */
  for (;;) {
    int progressed = 0;
    for (;;) {
      ssize_t n = read(st->fd, read_buffer, sizeof read_buffer);
      if (n > 0) {
        st->echoed += (uint64_t)n;
        if (stream_counting) measured_bytes += (uint64_t)n;
        progressed = 1;
        continue;
      }
      if (n == 0) {
        errs.early_eof++;
        note_error(0, "stream closed by the peer");
        return -1;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      note_error(errno, "read");
      return -1;
    }
    while (st->chunk_off > 0 || st->written - st->echoed + (uint64_t)opt.chunk <= (uint64_t)opt.window) {
      ssize_t n = write(st->fd, chunk_bytes + st->chunk_off, (size_t)opt.chunk - st->chunk_off);
      if (n > 0) {
        st->chunk_off += (size_t)n;
        st->written += (uint64_t)n;
        if (st->chunk_off == (size_t)opt.chunk) st->chunk_off = 0;
        progressed = 1;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      note_error(errno, "write");
      return -1;
    }
    if (!progressed) return 0;
  }
}

static int run_stream(void) {
  chunk_bytes = malloc((size_t)opt.chunk);
  for (long i = 0; i < opt.chunk; i++) chunk_bytes[i] = (uint8_t)(i * 131 + 7);
  struct stream *streams = calloc((size_t)opt.streams, sizeof *streams);
  int64_t t_start = now_ns();
  int64_t t_warm = t_start + opt.warmup_ms * 1000000LL;
  int64_t t_end = t_warm + opt.duration_ms * 1000000LL;
  int64_t measured_from = t_warm, measured_to = t_end;
  int is_warm = 0;
  long alive = 0;
  double cpu_at_warm = 0, cpu_at_end = 0;
  for (long i = 0; i < opt.streams; i++) {
    streams[i].fd = open_conn(&streams[i]);
    streams[i].state = streams[i].fd < 0 ? STREAM_DEAD : STREAM_CONNECTING;
    if (streams[i].fd >= 0) alive++;
  }
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int64_t now = now_ns();
    if (!is_warm && now >= t_warm) {
      is_warm = 1;
      stream_counting = 1;
      measured_from = now;
      cpu_at_warm = cpu_seconds();
      marker("WARMED");
    }
    if (now >= t_end || alive == 0) {
      measured_to = now;
      cpu_at_end = cpu_seconds();
      stream_counting = 0;
      if (!is_warm) marker("WARMED");
      marker("MEASURED");
      break;
    }
    int n = epoll_wait(epfd, events, MAX_EVENTS, 10);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      struct stream *st = events[i].data.ptr;
      if (st->state == STREAM_DEAD) continue;
      if (stream_advance(st, events[i].events) < 0) {
        close(st->fd);
        st->fd = -1;
        st->state = STREAM_DEAD;
        alive--;
      }
    }
  }
  long flowing = 0;
  for (long i = 0; i < opt.streams; i++) {
    if (streams[i].state == STREAM_FLOWING) flowing++;
    if (streams[i].fd >= 0) close(streams[i].fd);
  }
  double seconds = (double)(measured_to - measured_from) / 1e9;
  printf("{\"mode\":\"stream\",\"streams\":%ld,\"streams_alive\":%ld,\"chunk\":%ld,\"bytes\":%llu,\"seconds\":%.3f,"
         "\"mb_per_s\":%.1f,\"loadgen_cpu_s\":%.3f,",
         opt.streams, flowing, opt.chunk, (unsigned long long)measured_bytes, seconds,
         seconds > 0 ? (double)measured_bytes / seconds / 1e6 : 0.0, cpu_at_end - cpu_at_warm);
  print_errors_json();
  printf("}\n");
  fflush(stdout);
  return 0;
}

/* ---- idle ------------------------------------------------------------------------------------------------- */

enum { HELD_CONNECTING, HELD_HELLO, HELD_HELLO_ECHO, HELD_OPEN, HELD_DEAD };

struct held {
  int fd;
  int state;
  size_t sent;
  size_t got;
};

static int stdin_tag;

static int held_advance(struct held *h, uint32_t events) {
  if (h->state == HELD_OPEN) {
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      note_error(0, "an idle connection was closed by the peer");
      return -1;
    }
    return 0;
  }
  if (h->state == HELD_CONNECTING) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return 0;
    int err = socket_error(h->fd);
    if (err != 0) {
      note_error(err, "connect");
      return -1;
    }
    h->state = HELD_HELLO;
  }
  if (h->state == HELD_HELLO) {
    int rc = write_from(h->fd, request, hello_len, &h->sent);
    if (rc < 0) {
      note_error(errno, "write hello");
      return -1;
    }
    if (rc == 0) return 0;
    h->state = HELD_HELLO_ECHO;
  }
  int rc = read_expected(h->fd, request, hello_len, &h->got);
  if (rc > 0) h->state = HELD_OPEN;
  return rc;
}

static int run_idle(void) {
  struct held *held = calloc((size_t)opt.conns, sizeof *held);
  int64_t t_start = now_ns();
  int64_t t_open_deadline = t_start + opt.open_timeout_ms * 1000000LL;
  long cursor = 0, opening = 0, open = 0, failed = 0, dropped = 0, attempts = 0;
  long max_attempts = opt.conns + 1000;
  struct epoll_event events[MAX_EVENTS];
  for (long i = 0; i < opt.conns; i++) held[i].state = HELD_DEAD, held[i].fd = -1;
  /* Open phase: at most `batch` connections between connect() and the hello's echo; failed ones are retried
     (bounded by max_attempts and the deadline). */
  while (open < opt.conns && now_ns() < t_open_deadline) {
    while (opening < opt.batch && open + opening < opt.conns && attempts < max_attempts) {
      while (held[cursor].state != HELD_DEAD) cursor = (cursor + 1) % opt.conns; /* one exists: open+opening < N */
      struct held *h = &held[cursor];
      h->sent = h->got = 0;
      h->fd = open_conn(h);
      attempts++;
      if (h->fd < 0) {
        failed++;
        break; /* e.g. out of ports or fds: let the loop breathe */
      }
      h->state = HELD_CONNECTING;
      opening++;
    }
    if (opening == 0 && attempts >= max_attempts) break;
    int n = epoll_wait(epfd, events, MAX_EVENTS, 10);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      struct held *h = events[i].data.ptr;
      if (h->state == HELD_DEAD) continue;
      int was_open = h->state == HELD_OPEN;
      int rc = held_advance(h, events[i].events);
      if (rc < 0) {
        close(h->fd);
        h->fd = -1;
        h->state = HELD_DEAD;
        if (was_open) {
          open--;
          dropped++;
        } else {
          opening--;
          failed++;
        }
      } else if (rc > 0 && !was_open) {
        opening--;
        open++;
      }
    }
  }
  double open_ms = (double)(now_ns() - t_start) / 1e6;
  printf("READY %ld\n", open);
  fflush(stdout);

  /* Hold phase: until stdin says so (a line or EOF) or --hold-ms. */
  struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &stdin_tag};
  epoll_ctl(epfd, EPOLL_CTL_ADD, STDIN_FILENO, &sev);
  int64_t t_hold_end = now_ns() + opt.hold_ms * 1000000LL;
  int is_released = 0;
  while (!is_released && now_ns() < t_hold_end) {
    int n = epoll_wait(epfd, events, MAX_EVENTS, 50);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == &stdin_tag) {
        is_released = 1;
        continue;
      }
      struct held *h = events[i].data.ptr;
      if (h->state != HELD_OPEN) continue;
      if (held_advance(h, events[i].events) < 0) {
        close(h->fd);
        h->fd = -1;
        h->state = HELD_DEAD;
        open--;
        dropped++;
      }
    }
  }
  for (long i = 0; i < opt.conns; i++) {
    if (held[i].fd >= 0) close(held[i].fd);
  }
  printf("{\"mode\":\"idle\",\"wanted\":%ld,\"open\":%ld,\"failed\":%ld,\"dropped\":%ld,\"open_ms\":%.1f,", opt.conns, open,
         failed, dropped, open_ms);
  print_errors_json();
  printf("}\n");
  fflush(stdout);
  return 0;
}

/* ---- main ------------------------------------------------------------------------------------------------- */

static int load_request(void) {
  FILE *f = fopen(opt.hello_file, "rb");
  if (f == NULL) {
    perror(opt.hello_file);
    return -1;
  }
  request = malloc(MAX_REQUEST_BYTES + (size_t)opt.payload);
  hello_len = fread(request, 1, MAX_REQUEST_BYTES, f);
  fclose(f);
  if (hello_len == 0) {
    fprintf(stderr, "loadgen: %s is empty\n", opt.hello_file);
    return -1;
  }
  for (long i = 0; i < opt.payload; i++) request[hello_len + (size_t)i] = (uint8_t)('a' + i % 26);
  request_len = hello_len + (strcmp(opt.mode, "rate") == 0 ? (size_t)opt.payload : 0);
  return 0;
}

static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"host", required_argument, 0, 'h'},         {"port", required_argument, 0, 'p'},
      {"hello", required_argument, 0, 'H'},        {"payload", required_argument, 0, 'P'},
      {"conc", required_argument, 0, 'c'},         {"warmup-ms", required_argument, 0, 'w'},
      {"duration-ms", required_argument, 0, 'd'},  {"max-conns", required_argument, 0, 'm'},
      {"streams", required_argument, 0, 's'},      {"chunk", required_argument, 0, 'k'},
      {"window", required_argument, 0, 'W'},       {"conns", required_argument, 0, 'n'},
      {"batch", required_argument, 0, 'b'},        {"open-timeout-ms", required_argument, 0, 'o'},
      {"hold-ms", required_argument, 0, 'L'},      {0, 0, 0, 0},
  };
  if (argc < 2) {
    fprintf(stderr, "usage: loadgen rate|stream|idle --port P --hello FILE [options]\n");
    return 2;
  }
  opt.mode = argv[1];
  optind = 2;
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (ch) {
      case 'h': opt.host = optarg; break;
      case 'p': opt.port = atoi(optarg); break;
      case 'H': opt.hello_file = optarg; break;
      case 'P': opt.payload = atol(optarg); break;
      case 'c': opt.conc = atol(optarg); break;
      case 'w': opt.warmup_ms = atol(optarg); break;
      case 'd': opt.duration_ms = atol(optarg); break;
      case 'm': opt.max_conns = atol(optarg); break;
      case 's': opt.streams = atol(optarg); break;
      case 'k': opt.chunk = atol(optarg); break;
      case 'W': opt.window = atol(optarg); break;
      case 'n': opt.conns = atol(optarg); break;
      case 'b': opt.batch = atol(optarg); break;
      case 'o': opt.open_timeout_ms = atol(optarg); break;
      case 'L': opt.hold_ms = atol(optarg); break;
      default: return 2;
    }
  }
  if (opt.port <= 0 || opt.hello_file == NULL || opt.conc <= 0 || opt.streams <= 0 || opt.chunk <= 0 ||
      opt.conns <= 0 || opt.batch <= 0 || opt.payload < 0 || opt.window < opt.chunk) {
    fprintf(stderr, "loadgen: bad options\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 1;
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)opt.port);
  if (inet_pton(AF_INET, opt.host, &target.sin_addr) != 1 || (ntohl(target.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "loadgen: --host must be a 127.x.y.z address (loopback only)\n");
    return 2;
  }
  if (load_request() < 0) return 2;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (strcmp(opt.mode, "rate") == 0) return run_rate();
  if (strcmp(opt.mode, "stream") == 0) return run_stream();
  if (strcmp(opt.mode, "idle") == 0) return run_idle();
  fprintf(stderr, "loadgen: unknown mode %s\n", opt.mode);
  return 2;
}
