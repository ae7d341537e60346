/*
 * Pipes for splice(2), held by a direction only while bytes are in flight (read from the source, not yet written
 * to the destination) and returned the moment it drains. An idle connection holds none; a busy plane reuses a few.
 * A pipe handed back with bytes still in it (its connection died mid-transfer) is closed, never reused.
 */
#define _GNU_SOURCE
#include "plane.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

void pipe_pool_init(pipe_pool *pool, int max_idle) {
  pool->fds = NULL;
  pool->is_busy = NULL;
  pool->idle_stack = NULL;
  pool->capacity = pool->count = pool->busy = pool->idle_count = 0;
  pool->max_idle = max_idle;
}

static int find_empty_slot(pipe_pool *pool) {
  for (int i = 0; i < pool->capacity; i++) {
    if (pool->fds[i][0] < 0) return i;
  }
  int grown = pool->capacity == 0 ? 64 : pool->capacity * 2;
  int (*fds)[2] = realloc(pool->fds, sizeof(*fds) * (size_t)grown);
  if (fds == NULL) return -1;
  pool->fds = fds;
  bool *is_busy = realloc(pool->is_busy, sizeof(bool) * (size_t)grown);
  if (is_busy == NULL) return -1;
  pool->is_busy = is_busy;
  int *idle_stack = realloc(pool->idle_stack, sizeof(int) * (size_t)grown);
  if (idle_stack == NULL) return -1;
  pool->idle_stack = idle_stack;
  for (int i = pool->capacity; i < grown; i++) {
    pool->fds[i][0] = pool->fds[i][1] = -1;
    pool->is_busy[i] = false;
  }
  int first = pool->capacity;
  pool->capacity = grown;
  return first;
}

/** A pipe slot, or -1 with errno set (EMFILE, ENFILE, ENOMEM). */
int pipe_pool_take(pipe_pool *pool) {
  int index;
  if (pool->idle_count > 0) {
    index = pool->idle_stack[--pool->idle_count];
  } else {
    index = find_empty_slot(pool);
    if (index < 0) {
      errno = ENOMEM;
      return -1;
    }
    if (pipe2(pool->fds[index], O_NONBLOCK | O_CLOEXEC) < 0) return -1; /* errno: EMFILE / ENFILE */
    pool->count++;
  }
  pool->is_busy[index] = true;
  pool->busy++;
  return index;
}

void pipe_pool_give(pipe_pool *pool, int index, bool is_clean) {
  pool->is_busy[index] = false;
  pool->busy--;
  if (is_clean && pool->idle_count < pool->max_idle) {
    pool->idle_stack[pool->idle_count++] = index;
    return;
  }
  close(pool->fds[index][0]);
  close(pool->fds[index][1]);
  pool->fds[index][0] = pool->fds[index][1] = -1;
  pool->count--;
}

void pipe_pool_destroy(pipe_pool *pool) {
  for (int i = 0; i < pool->capacity; i++) {
    if (pool->fds[i][0] >= 0) {
      close(pool->fds[i][0]);
      close(pool->fds[i][1]);
    }
  }
  free(pool->fds);
  free(pool->is_busy);
  free(pool->idle_stack);
  pipe_pool_init(pool, pool->max_idle);
}
