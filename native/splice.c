/*
 * One direction of a spliced connection: source socket → pooled pipe → destination socket, with splice(2), so the
 * bytes never enter user space. Runs until the source would block (EAGAIN), the destination would block
 * (backpressure: the bytes wait in the pipe, the source is not read, its kernel buffer fills, TCP windows close),
 * or the source's FIN has been passed on (shutdown SHUT_WR).
 *
 * Copy fallback: where splice(2) from the source is refused (EINVAL: the socket type has no splice_read), the
 * chunk is read(2) into the plane's scratch buffer and written into the same, empty, pipe: the draining side and
 * the backpressure stay the same, and no buffer per connection is needed.
 */
#define _GNU_SOURCE
#include "plane.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static void release_pipe(plane *p, direction *d) {
  if (d->pipe_index < 0) return;
  pipe_pool_give(&p->pipes, d->pipe_index, d->in_pipe == 0);
  d->pipe_index = -1;
}

/* Copy fallback: fill the (empty) pipe from the source with read(2) + write(2). Returns like splice(2). */
static ssize_t copy_into_pipe(plane *p, int from_fd, int pipe_write_fd) {
  int pipe_bytes = fcntl(pipe_write_fd, F_GETPIPE_SZ); /* below 64 KiB when pipe-user-pages-soft is exceeded */
  size_t room = pipe_bytes > 0 && pipe_bytes < SNIR_CHUNK_BYTES ? (size_t)pipe_bytes : SNIR_CHUNK_BYTES;
  ssize_t n = read(from_fd, p->scratch, room);
  if (n <= 0) return n;
  ssize_t written;
  do {
    written = write(pipe_write_fd, p->scratch, (size_t)n);
  } while (written < 0 && errno == EINTR);
  if (written != n) {
    errno = EIO; /* cannot happen for ≤ capacity bytes into an empty pipe; treated as a source failure */
    return -1;
  }
  return n;
}

move_result direction_move(plane *p, conn *c, direction *d, int from_fd, int to_fd, int *error_out) {
  for (;;) {
    if (d->in_pipe > 0) {
      ssize_t n = splice(p->pipes.fds[d->pipe_index][0], NULL, to_fd, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0) {
        switch (errno) {
          case EINTR:
            continue;
          case EAGAIN: /* backpressure: the destination's send buffer is full; its EPOLLOUT resumes us */
            return MOVE_WAIT;
          default: /* EPIPE, ECONNRESET: the destination is gone */
            *error_out = errno;
            return MOVE_DEST_ERROR;
        }
      }
      d->in_pipe -= (size_t)n;
      d->bytes += (uint64_t)n;
      c->last_activity_ms = p->now_ms;
      if (d->in_pipe > 0) continue;
      release_pipe(p, d); /* drained: an idle direction holds no pipe */
    }
    if (d->is_source_eof) {
      if (!d->is_shut) {
        d->is_shut = true;
        /* ENOTCONN: the destination already went away; its own read side reports how. */
        if (shutdown(to_fd, SHUT_WR) < 0 && errno != ENOTCONN) {
          *error_out = errno;
          return MOVE_DEST_ERROR;
        }
      }
      return MOVE_DONE;
    }
    if (d->pipe_index < 0) {
      int index = pipe_pool_take(&p->pipes);
      if (index < 0) {
        *error_out = errno; /* EMFILE / ENFILE / ENOMEM */
        return MOVE_NO_PIPE;
      }
      d->pipe_index = index;
    }
    int pipe_write_fd = p->pipes.fds[d->pipe_index][1];
    ssize_t n;
    if (c->is_copy_mode) {
      n = copy_into_pipe(p, from_fd, pipe_write_fd);
    } else {
      n = splice(from_fd, NULL, pipe_write_fd, NULL, SNIR_CHUNK_BYTES, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0 && errno == EINVAL) {
        c->is_copy_mode = true;
        p->splice_refused++;
        continue;
      }
    }
    if (n < 0) {
      switch (errno) {
        case EINTR:
          continue;
        case EAGAIN: /* nothing more to read now (the pipe is empty, so it is the source) */
          release_pipe(p, d);
          return MOVE_WAIT;
        default: /* ECONNRESET, ETIMEDOUT, EIO */
          *error_out = errno;
          return MOVE_SOURCE_ERROR;
      }
    }
    if (n == 0) {
      d->is_source_eof = true;
      /* The backend ended before its first byte while the client still talks: it dropped the connection. */
      if (d == &c->down && d->bytes == 0 && !c->up.is_source_eof) c->is_backend_closed_early = true;
      release_pipe(p, d);
      continue;
    }
    d->in_pipe = (size_t)n;
    c->last_activity_ms = p->now_ms;
  }
}
