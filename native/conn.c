/*
 * The per-connection state machine (states in plane.h) and its one close path, conn_close().
 *
 *   accept ─▶ HELLO ──route()──▶ CONNECTING ──SO_ERROR 0──▶ SENDING ──all sent──▶ SPLICING ──both FINs──▶ done
 *               │                   │ refused / timeout: next backend in the order, none left: backend_unavailable
 *               └─handoff()─▶ fd given to JavaScript, forgotten here
 *
 * Each state has at most one deadline, so one timer_entry serves them all: the hello timeout in HELLO, the connect
 * timeout in CONNECTING, the idle timeout in SENDING and SPLICING (checked lazily against last_activity_ms, so a
 * chunk costs no re-arm).
 */
#define _GNU_SOURCE
#include "plane.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#define HELLO_BLOCKS_KEPT 64
#define CLIENT_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static conn *conn_at(plane *p, uint32_t index) { return &p->slabs[index / SNIR_CONN_SLAB][index % SNIR_CONN_SLAB]; }

uint64_t conn_id(const conn *c) { return ((uint64_t)c->generation << SNIR_CONN_INDEX_BITS) | c->index; }

conn *conn_find(plane *p, uint64_t id) {
  uint32_t index = (uint32_t)(id & (SNIR_MAX_CONNS - 1));
  if (index / SNIR_CONN_SLAB >= (uint32_t)p->slab_count) return NULL;
  conn *c = conn_at(p, index);
  if (c->state == CONN_FREE || conn_id(c) != id) return NULL;
  return c;
}

static bool grow_slabs(plane *p) {
  if ((uint32_t)(p->slab_count + 1) * SNIR_CONN_SLAB > SNIR_MAX_CONNS) return false;
  conn **slabs = realloc(p->slabs, sizeof(conn *) * (size_t)(p->slab_count + 1));
  if (slabs == NULL) return false;
  p->slabs = slabs;
  conn *slab = calloc(SNIR_CONN_SLAB, sizeof(conn));
  if (slab == NULL) return false;
  p->slabs[p->slab_count] = slab;
  for (int i = SNIR_CONN_SLAB - 1; i >= 0; i--) {
    slab[i].index = (uint32_t)(p->slab_count * SNIR_CONN_SLAB + i);
    slab[i].generation = 1;
    slab[i].state = CONN_FREE;
    slab[i].next_free = p->free_conns;
    p->free_conns = &slab[i];
  }
  p->slab_count++;
  return true;
}

static hello_block *hello_take(plane *p) {
  hello_block *h = p->free_hellos;
  if (h != NULL) {
    p->free_hellos = h->next_free;
    p->free_hello_count--;
  } else {
    h = malloc(sizeof(hello_block) + p->hello_capacity);
    if (h == NULL) return NULL;
    p->hello_blocks++;
  }
  h->used = 0;
  h->header_bytes = 0;
  return h;
}

static void hello_give(plane *p, hello_block *h) {
  if (p->free_hello_count >= HELLO_BLOCKS_KEPT) {
    free(h);
    p->hello_blocks--;
    return;
  }
  h->next_free = p->free_hellos;
  p->free_hellos = h;
  p->free_hello_count++;
}

static void direction_init(direction *d) {
  d->pipe_index = -1;
  d->in_pipe = 0;
  d->is_source_eof = false;
  d->is_shut = false;
  d->bytes = 0;
}

conn *conn_new(plane *p, int client_fd, int listener_id) {
  if (p->free_conns == NULL && !grow_slabs(p)) return NULL;
  hello_block *h = hello_take(p);
  if (h == NULL) return NULL;
  conn *c = p->free_conns;
  p->free_conns = c->next_free;
  c->next_free = NULL;
  c->state = CONN_HELLO;
  c->client_fd = client_fd;
  c->backend_fd = -1;
  c->listener_id = listener_id;
  c->is_copy_mode = p->is_copy_forced;
  c->timer.prev = c->timer.next = NULL;
  c->idle_timeout_ms = 0;
  c->connect_timeout_ms = 0;
  c->accepted_ms = p->now_ms;
  c->last_activity_ms = p->now_ms;
  c->connect_us = 0;
  c->hello = h;
  c->hello_reported = 0;
  c->send_offset = 0;
  c->backend_count = 0;
  c->try_index = 0;
  c->tries = 0;
  c->connect_errno = 0;
  c->is_backend_closed_early = false;
  direction_init(&c->up);
  direction_init(&c->down);
  p->open_conns++;
  p->accepted++;
  plane_update_ref(p);
  return c;
}

/* ---- the one close path ------------------------------------------------------------------------------------- */

static void reset_on_close(int fd) {
  /* SO_LINGER 0: close() sends RST instead of FIN, so the peer learns the other side was reset, not finished. */
  struct linger hard = {.l_onoff = 1, .l_linger = 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
}

static void release_direction(plane *p, direction *d) {
  if (d->pipe_index >= 0) pipe_pool_give(&p->pipes, d->pipe_index, d->in_pipe == 0);
  d->pipe_index = -1;
}

static void free_conn(plane *p, conn *c) {
  wheel_disarm(&p->wheel, &c->timer);
  release_direction(p, &c->up);
  release_direction(p, &c->down);
  if (c->hello != NULL) hello_give(p, c->hello);
  c->hello = NULL;
  c->state = CONN_FREE;
  c->generation++;
  c->next_free = p->free_conns;
  p->free_conns = c;
  p->open_conns--;
  plane_update_ref(p);
}

void conn_close(plane *p, conn *c, close_reason reason) {
  if (c->state == CONN_FREE) return;
  event *e = events_push(p, EVENT_CLOSED);
  if (e != NULL) {
    e->conn_id = conn_id(c);
    e->listener_id = c->listener_id;
    e->reason = reason;
    e->bytes_in = c->up.bytes;
    e->bytes_out = c->down.bytes;
    e->backend_index = c->state == CONN_SENDING || c->state == CONN_SPLICING ? c->try_index : -1;
    e->tries = c->tries;
    e->connect_errno = c->connect_errno;
    e->duration_ms = p->now_ms - c->accepted_ms;
  }
  if (reason == REASON_CLIENT_RESET && c->backend_fd >= 0) reset_on_close(c->backend_fd);
  if (reason == REASON_BACKEND_RESET) reset_on_close(c->client_fd);
  if (c->backend_fd >= 0) close(c->backend_fd); /* closing also removes it from the epoll set */
  close(c->client_fd);
  c->backend_fd = c->client_fd = -1;
  p->closed++;
  p->closed_by_reason[reason]++;
  free_conn(p, c);
}

int conn_handoff(plane *p, conn *c, int *fd_out) {
  if (c->state != CONN_HELLO) return -EINVAL;
  /* The open file stays registered in our epoll set until removed, whoever holds the fd next. */
  if (epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, c->client_fd, NULL) < 0) return -errno;
  *fd_out = c->client_fd;
  c->client_fd = -1;
  p->handed_off++;
  free_conn(p, c);
  return 0;
}

void conn_free_all(plane *p) {
  for (int s = 0; s < p->slab_count; s++) {
    for (int i = 0; i < SNIR_CONN_SLAB; i++) {
      conn *c = &p->slabs[s][i];
      if (c->state != CONN_FREE) conn_close(p, c, REASON_SHUTDOWN);
    }
  }
}

/* ---- HELLO ---------------------------------------------------------------------------------------------------- */

/* Reads what the client sent into the hello buffer and reports the new bytes. False when the connection closed. */
static bool read_hello(plane *p, conn *c, bool is_first) {
  hello_block *h = c->hello;
  bool is_end = false;
  while (h->used < p->hello_capacity) {
    ssize_t n = read(c->client_fd, h->bytes + h->used, p->hello_capacity - h->used);
    if (n > 0) {
      h->used += (size_t)n;
      continue;
    }
    if (n == 0) {
      is_end = true; /* FIN: passed on after the peeked bytes, if JavaScript still routes it */
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) break;
    conn_close(p, c, REASON_CLIENT_RESET); /* ECONNRESET, ETIMEDOUT */
    return false;
  }
  /* A full buffer stops reading (the rest waits in the kernel); the decision, or the hello timeout, follows. */
  if (!is_first && h->used == c->hello_reported && !is_end) return true;
  if (is_end && c->is_client_eof_in_hello && h->used == c->hello_reported) return true; /* reported already */
  event *e = events_push(p, is_first ? EVENT_ACCEPTED : EVENT_HELLO_BYTES);
  if (e != NULL) {
    e->conn_id = conn_id(c);
    e->listener_id = c->listener_id;
    e->from = c->hello_reported;
    e->to = h->used;
    e->is_end = is_end;
    if (is_first) {
      memcpy(&e->client_addr, &c->client_addr, sizeof(c->client_addr));
      memcpy(&e->local_addr, &c->local_addr, sizeof(c->local_addr));
    }
  }
  c->hello_reported = h->used;
  if (is_end) c->is_client_eof_in_hello = true;
  return true;
}

void conn_start(plane *p, conn *c) {
  c->is_client_eof_in_hello = false;
  struct epoll_event ev = {.events = CLIENT_EVENTS, .data.u64 = TAG_MAKE(TAG_CLIENT, conn_id(c))};
  if (epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, c->client_fd, &ev) < 0) { /* ENOMEM, ENOSPC (max_user_watches) */
    conn_close(p, c, REASON_LIMIT);
    return;
  }
  if (p->hello_timeout_ms > 0) {
    wheel_arm(&p->wheel, &c->timer, p->now_ms + p->hello_timeout_ms);
    plane_ensure_tick(p);
  }
  /* The hello usually arrived with the handshake: read now rather than wait a round for its edge. */
  read_hello(p, c, true);
}

/* ---- CONNECTING ----------------------------------------------------------------------------------------------- */

static socklen_t backend_length(const struct sockaddr_in6 *b) {
  return b->sin6_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void start_splicing(plane *p, conn *c);
static void send_pending(plane *p, conn *c);

/* Starts a connect to the next backend in the order; closes the connection when none is left. */
static void connect_next(plane *p, conn *c) {
  while (c->try_index < c->backend_count) {
    const struct sockaddr_in6 *b = &c->hello->backends[c->try_index];
    int fd = socket(b->sin6_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { /* EMFILE, ENFILE, ENOBUFS: our shortage, named in the event so the backend is not blamed */
      c->connect_errno = errno;
      conn_close(p, c, REASON_BACKEND_UNAVAILABLE);
      return;
    }
    c->tries++;
    c->connect_started_us = plane_now_us();
    int r = connect(fd, (const struct sockaddr *)b, backend_length(b));
    /* EINTR: the connect goes on asynchronously, exactly like EINPROGRESS. */
    if (r == 0 || errno == EINPROGRESS || errno == EINTR) {
      /* The try index is in the tag so an edge of a previous attempt's socket, still in this round's batch, is
       * recognised as stale (SO_ERROR of a new, pending, socket would read 0). */
      uint64_t tag = TAG_MAKE(TAG_BACKEND, conn_id(c) | ((uint64_t)c->try_index << TAG_TRY_SHIFT));
      struct epoll_event ev = {.events = CLIENT_EVENTS, .data.u64 = tag};
      if (epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        conn_close(p, c, REASON_LIMIT);
        return;
      }
      c->backend_fd = fd;
      c->state = CONN_CONNECTING;
      if (c->connect_timeout_ms > 0) {
        wheel_arm(&p->wheel, &c->timer, p->now_ms + c->connect_timeout_ms);
        plane_ensure_tick(p);
      }
      return;
    }
    /* ECONNREFUSED, ENETUNREACH, EADDRNOTAVAIL (out of ephemeral ports): the next backend may do better. */
    c->connect_errno = errno;
    close(fd);
    p->connect_failures++;
    c->try_index++;
  }
  conn_close(p, c, REASON_BACKEND_UNAVAILABLE);
}

static void connect_failed(plane *p, conn *c, int error) {
  c->connect_errno = error;
  close(c->backend_fd);
  c->backend_fd = -1;
  p->connect_failures++;
  c->try_index++;
  connect_next(p, c);
}

static void on_connect_ready(plane *p, conn *c) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(c->backend_fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) error = errno;
  if (error == EINPROGRESS || error == EALREADY) return; /* spurious edge */
  if (error != 0) { /* ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH */
    connect_failed(p, c, error);
    return;
  }
  wheel_disarm(&p->wheel, &c->timer);
  c->connect_us = (uint32_t)(plane_now_us() - c->connect_started_us);
  event *e = events_push(p, EVENT_CONNECTED);
  if (e != NULL) {
    e->conn_id = conn_id(c);
    e->listener_id = c->listener_id;
    e->backend_index = c->try_index;
    e->connect_us = c->connect_us;
  }
  c->state = CONN_SENDING;
  c->last_activity_ms = p->now_ms;
  if (c->idle_timeout_ms > 0) {
    wheel_arm(&p->wheel, &c->timer, p->now_ms + c->idle_timeout_ms);
    plane_ensure_tick(p);
  }
  send_pending(p, c);
}

int conn_route(plane *p, conn *c, const struct sockaddr_in6 *backends, int count, const uint8_t *header,
               size_t header_bytes, uint32_t connect_timeout_ms, uint32_t idle_timeout_ms) {
  if (c->state != CONN_HELLO) return -EALREADY;
  if (count > SNIR_MAX_BACKENDS || header_bytes > SNIR_MAX_HEADER_BYTES) return -E2BIG;
  memcpy(c->hello->backends, backends, sizeof(*backends) * (size_t)count);
  if (header_bytes > 0) memcpy(c->hello->header, header, header_bytes); /* header may be NULL when empty */
  c->hello->header_bytes = header_bytes;
  c->backend_count = (uint8_t)count;
  c->try_index = 0;
  c->connect_timeout_ms = connect_timeout_ms;
  c->idle_timeout_ms = idle_timeout_ms;
  wheel_disarm(&p->wheel, &c->timer);
  p->now_ms = plane_now_ms();
  connect_next(p, c);
  return 0;
}

/* ---- SENDING: PROXY header + peeked bytes in one sendmsg ------------------------------------------------------ */

static void send_pending(plane *p, conn *c) {
  hello_block *h = c->hello;
  size_t total = h->header_bytes + h->used;
  while (c->send_offset < total) {
    struct iovec parts[2];
    int count = 0;
    if (c->send_offset < h->header_bytes) {
      parts[count].iov_base = h->header + c->send_offset;
      parts[count++].iov_len = h->header_bytes - c->send_offset;
      if (h->used > 0) {
        parts[count].iov_base = h->bytes;
        parts[count++].iov_len = h->used;
      }
    } else {
      parts[count].iov_base = h->bytes + (c->send_offset - h->header_bytes);
      parts[count++].iov_len = total - c->send_offset;
    }
    struct msghdr message = {.msg_iov = parts, .msg_iovlen = (size_t)count};
    ssize_t n = sendmsg(c->backend_fd, &message, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return; /* the backend's EPOLLOUT resumes us */
      conn_close(p, c, REASON_BACKEND_RESET); /* EPIPE, ECONNRESET */
      return;
    }
    c->send_offset += (size_t)n;
    c->last_activity_ms = p->now_ms;
  }
  c->up.bytes += h->used;
  hello_give(p, h);
  c->hello = NULL;
  start_splicing(p, c);
}

/* ---- SPLICING ------------------------------------------------------------------------------------------------- */

/* Moves one direction; false when the connection was closed. */
static bool run_direction(plane *p, conn *c, direction *d, int from_fd, int to_fd, close_reason source_failed,
                          close_reason destination_failed) {
  int error = 0;
  switch (direction_move(p, c, d, from_fd, to_fd, &error)) {
    case MOVE_WAIT:
      return true;
    case MOVE_DONE:
      if (c->up.is_shut && c->down.is_shut) {
        conn_close(p, c, c->is_backend_closed_early ? REASON_BACKEND_CLOSED_EARLY : REASON_DONE);
        return false;
      }
      return true;
    case MOVE_SOURCE_ERROR:
      conn_close(p, c, source_failed);
      return false;
    case MOVE_DEST_ERROR:
      conn_close(p, c, destination_failed);
      return false;
    case MOVE_NO_PIPE:
      conn_close(p, c, REASON_LIMIT);
      return false;
  }
  return true;
}

static void start_splicing(plane *p, conn *c) {
  c->state = CONN_SPLICING;
  /* Edges that fired while we were connecting were not acted on: move both ways once now. */
  if (!run_direction(p, c, &c->up, c->client_fd, c->backend_fd, REASON_CLIENT_RESET, REASON_BACKEND_RESET)) return;
  run_direction(p, c, &c->down, c->backend_fd, c->client_fd, REASON_BACKEND_RESET, REASON_CLIENT_RESET);
}

#define READABLE (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)

void conn_on_client_event(plane *p, conn *c, uint32_t events) {
  switch (c->state) {
    case CONN_HELLO:
      if (events & READABLE) read_hello(p, c, false);
      return;
    case CONN_CONNECTING: /* bytes and FIN wait in the kernel until SPLICING */
    case CONN_SENDING:
    case CONN_FREE:
      return;
    case CONN_SPLICING:
      if (events & READABLE) {
        if (!run_direction(p, c, &c->up, c->client_fd, c->backend_fd, REASON_CLIENT_RESET, REASON_BACKEND_RESET))
          return;
      }
      if ((events & EPOLLOUT) && c->down.in_pipe > 0)
        run_direction(p, c, &c->down, c->backend_fd, c->client_fd, REASON_BACKEND_RESET, REASON_CLIENT_RESET);
      return;
  }
}

void conn_on_backend_event(plane *p, conn *c, uint32_t events) {
  switch (c->state) {
    case CONN_CONNECTING:
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connect_ready(p, c);
      return;
    case CONN_SENDING:
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) send_pending(p, c);
      return;
    case CONN_HELLO:
    case CONN_FREE:
      return;
    case CONN_SPLICING:
      if (events & READABLE) {
        if (!run_direction(p, c, &c->down, c->backend_fd, c->client_fd, REASON_BACKEND_RESET, REASON_CLIENT_RESET))
          return;
      }
      if ((events & EPOLLOUT) && c->up.in_pipe > 0)
        run_direction(p, c, &c->up, c->client_fd, c->backend_fd, REASON_CLIENT_RESET, REASON_BACKEND_RESET);
      return;
  }
}

void conn_on_timer(plane *p, conn *c) {
  switch (c->state) {
    case CONN_HELLO:
      conn_close(p, c, REASON_HELLO_TIMEOUT);
      return;
    case CONN_CONNECTING:
      connect_failed(p, c, ETIMEDOUT);
      return;
    case CONN_SENDING:
    case CONN_SPLICING: {
      uint64_t due = c->last_activity_ms + c->idle_timeout_ms;
      if (p->now_ms >= due) {
        conn_close(p, c, REASON_IDLE_TIMEOUT);
      } else {
        wheel_arm(&p->wheel, &c->timer, due);
      }
      return;
    }
    case CONN_FREE:
      return;
  }
}
