/*
 * Listening sockets on the plane's epoll set (edge-triggered: every readiness drains accept4 to EAGAIN).
 * On EMFILE / ENFILE / ENOBUFS / ENOMEM a listener stops accepting for SNIR_EMFILE_BACKOFF_MS and reports it
 * once (an `emfile` event) instead of spinning on a queue it cannot serve; pending connections wait in the
 * kernel's backlog and are accepted when it resumes.
 */
#define _GNU_SOURCE
#include "plane.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int parse_address(const char *host, int port, struct sockaddr_storage *out, socklen_t *length) {
  memset(out, 0, sizeof(*out));
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *length = sizeof(*v4);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *length = sizeof(*v6);
    return 0;
  }
  return -1;
}

static bool is_wildcard(const struct sockaddr_storage *address) {
  if (address->ss_family == AF_INET) return ((const struct sockaddr_in *)address)->sin_addr.s_addr == htonl(INADDR_ANY);
  return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)address)->sin6_addr);
}

/** The listener's id (≥ 0), or -1 with *error_out an errno (EADDRINUSE, EACCES, EINVAL for a bad host, EMFILE). */
int listener_open(plane *p, const char *host, int port, int backlog, bool reuse_port, bool ipv6_only, int *error_out) {
  int id = -1;
  for (int i = 0; i < SNIR_MAX_LISTENERS; i++) {
    if (p->listeners[i].fd < 0) {
      id = i;
      break;
    }
  }
  if (id < 0) {
    *error_out = ENFILE;
    return -1;
  }
  listener *l = &p->listeners[id];
  socklen_t length;
  if (port < 0 || port > 65535 || parse_address(host, port, &l->address, &length) < 0) {
    *error_out = EINVAL;
    return -1;
  }
  int fd = socket(l->address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error_out = errno;
    return -1;
  }
  int on = 1;
  int v6_only = ipv6_only ? 1 : 0; /* '[::]:443' beside '0.0.0.0:443' needs 1; ':443' (dual stack) needs 0 */
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
      (l->address.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6_only, sizeof(v6_only)) < 0) ||
      (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0) ||
      bind(fd, (struct sockaddr *)&l->address, length) < 0 || listen(fd, backlog) < 0) {
    *error_out = errno;
    close(fd);
    return -1;
  }
  socklen_t bound_length = sizeof(l->address);
  if (getsockname(fd, (struct sockaddr *)&l->address, &bound_length) < 0) {
    *error_out = errno;
    close(fd);
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = TAG_MAKE(TAG_LISTENER, id)};
  if (epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    *error_out = errno;
    close(fd);
    return -1;
  }
  l->fd = fd;
  l->is_paused = false;
  l->is_wildcard = is_wildcard(&l->address);
  p->listener_count++;
  return id;
}

void listener_close(plane *p, int id) {
  listener *l = &p->listeners[id];
  if (l->fd < 0) return;
  close(l->fd); /* also leaves the epoll set */
  l->fd = -1;
  l->is_paused = false;
  p->listener_count--;
}

int listener_local_port(plane *p, int id) {
  const struct sockaddr_storage *a = &p->listeners[id].address;
  if (a->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)a)->sin_port);
  return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
}

static void pause_listener(plane *p, int id) {
  listener *l = &p->listeners[id];
  l->is_paused = true;
  l->resume_at_ms = plane_now_ms() + SNIR_EMFILE_BACKOFF_MS;
  p->emfile_pauses++;
  event *e = events_push(p, EVENT_EMFILE);
  if (e != NULL) e->listener_id = id;
  plane_ensure_tick(p);
}

void listener_accept_all(plane *p, int id) {
  listener *l = &p->listeners[id];
  while (l->fd >= 0 && !l->is_paused) {
    struct sockaddr_storage client;
    socklen_t length = sizeof(client);
    int fd = accept4(l->fd, (struct sockaddr *)&client, &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      switch (errno) {
        case EAGAIN:
#if EAGAIN != EWOULDBLOCK
        case EWOULDBLOCK:
#endif
          return; /* drained */
        case EINTR:
        case ECONNABORTED: /* the client gave up while queued */
        case EPROTO:
          continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
          pause_listener(p, id);
          return;
        default: /* e.g. EINVAL after the socket was shut down: nothing to accept */
          return;
      }
    }
    conn *c = conn_new(p, fd, id);
    if (c == NULL) {
      /* No room for another connection (SNIR_MAX_CONNS or out of memory): same back-off as running out of fds. */
      close(fd);
      pause_listener(p, id);
      return;
    }
    memcpy(&c->client_addr, &client, sizeof(c->client_addr)); /* TCP over IPv4/IPv6: ≤ sizeof(sockaddr_in6) */
    socklen_t local_length = sizeof(c->local_addr);
    if (!l->is_wildcard) {
      memcpy(&c->local_addr, &l->address, sizeof(c->local_addr)); /* saves a getsockname per connection */
    } else if (getsockname(fd, &c->local_addr.sa, &local_length) < 0) {
      memset(&c->local_addr, 0, sizeof(c->local_addr)); /* ENOBUFS: report an unspecified local address */
    }
    conn_start(p, c);
  }
}

void listener_resume_due(plane *p, uint64_t now_ms) {
  for (int i = 0; i < SNIR_MAX_LISTENERS; i++) {
    listener *l = &p->listeners[i];
    if (l->fd >= 0 && l->is_paused && now_ms >= l->resume_at_ms) {
      l->is_paused = false;
      listener_accept_all(p, i); /* edge-triggered: what queued during the pause raised no new edge */
    }
  }
}

bool listener_any_paused(const plane *p) {
  for (int i = 0; i < SNIR_MAX_LISTENERS; i++) {
    if (p->listeners[i].fd >= 0 && p->listeners[i].is_paused) return true;
  }
  return false;
}
