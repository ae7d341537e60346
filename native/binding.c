/*
 * The Node-API surface. `createPlane(onEvents, options)` returns an object whose methods are the whole seam;
 * src/native/addon.ts declares their types and src/native/README.md explains the contract.
 *
 * Threading: none. The epoll fd is watched by one uv_poll_t on Node's own loop; the timer wheel by one uv_timer_t.
 */
#define _GNU_SOURCE
#include "plane.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define EPOLL_BATCH 256
#define EPOLL_ROUNDS_PER_POLL 4
#define MAX_HOST_TEXT 64
#define PIPES_KEPT_IDLE 64
#define DEFAULT_HELLO_CAPACITY (64 * 1024 + 16 * 1024)
#define MAX_HELLO_BYTES_LIMIT (16 * 1024 * 1024)

const char *const CLOSE_REASON_NAMES[REASON_COUNT] = {
    "done",       "hello_timeout", "hello_too_large", "hello_malformed", "not_tls",        "no_route", "backend_unavailable",
    "client_reset", "backend_reset", "idle_timeout", "limit",          "proxy_rejected", "shutdown",
    "backend_closed_early", "redirected", "http_bad_request",
};

static const char *const STATE_NAMES[] = {"free", "hello", "connecting", "sending", "splicing"};

uint64_t plane_now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now); /* vDSO, ~4 ms resolution: plenty for hello/idle timeouts */
  return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

uint64_t plane_now_us(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

/* ---- loop integration ----------------------------------------------------------------------------------------- */

static void on_tick(uv_timer_t *timer);

void plane_ensure_tick(plane *p) {
  if (!p->is_destroyed && !uv_is_active((uv_handle_t *)&p->tick)) uv_timer_start(&p->tick, on_tick, WHEEL_TICK_MS, WHEEL_TICK_MS);
}

void plane_update_ref(plane *p) {
  if (p->is_destroyed) return;
  if (p->listener_count > 0 || p->open_conns > 0) uv_ref((uv_handle_t *)&p->poll);
  else uv_unref((uv_handle_t *)&p->poll);
}

static void dispatch(plane *p, const struct epoll_event *ev) {
  uint64_t tag = ev->data.u64;
  uint64_t id = TAG_ID(tag);
  switch (TAG_KIND(tag)) {
    case TAG_LISTENER:
      listener_accept_all(p, (int)id);
      return;
    case TAG_CLIENT: {
      conn *c = conn_find(p, id);
      if (c != NULL) conn_on_client_event(p, c, ev->events);
      return;
    }
    case TAG_BACKEND: {
      conn *c = conn_find(p, TAG_CONN_ID(id));
      if (c != NULL && c->try_index == TAG_TRY(id)) conn_on_backend_event(p, c, ev->events);
      return;
    }
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  plane *p = handle->data;
  if (p->is_destroyed || status < 0) return;
  napi_handle_scope scope;
  napi_open_handle_scope(p->env, &scope);
  p->is_in_callback = true;
  struct epoll_event ready[EPOLL_BATCH];
  /* A few rounds at most, so the rest of Node's loop (timers, the JavaScript side) keeps its turn. */
  for (int round = 0; round < EPOLL_ROUNDS_PER_POLL && !p->is_destroyed; round++) {
    int n = epoll_wait(p->epoll_fd, ready, EPOLL_BATCH, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p->now_ms = plane_now_ms();
    for (int i = 0; i < n; i++) dispatch(p, &ready[i]);
    if (n < EPOLL_BATCH) break;
  }
  events_flush(p);
  p->is_in_callback = false;
  napi_close_handle_scope(p->env, scope);
}

static void fire_timer(void *context, timer_entry *entry) {
  plane *p = context;
  conn *c = (conn *)((char *)entry - offsetof(conn, timer));
  conn_on_timer(p, c);
}

static void on_tick(uv_timer_t *timer) {
  plane *p = timer->data;
  if (p->is_destroyed) return;
  napi_handle_scope scope;
  napi_open_handle_scope(p->env, &scope);
  p->is_in_callback = true;
  p->now_ms = plane_now_ms();
  wheel_advance(&p->wheel, p->now_ms, fire_timer, p);
  listener_resume_due(p, p->now_ms);
  events_flush(p);
  p->is_in_callback = false;
  if (p->wheel.armed == 0 && !listener_any_paused(p)) uv_timer_stop(&p->tick);
  napi_close_handle_scope(p->env, scope);
}

void plane_on_flush_timer(uv_timer_t *timer) {
  plane *p = timer->data;
  if (p->is_destroyed) return;
  napi_handle_scope scope;
  napi_open_handle_scope(p->env, &scope);
  p->is_in_callback = true;
  events_flush(p);
  p->is_in_callback = false;
  napi_close_handle_scope(p->env, scope);
}

/* ---- lifetime ------------------------------------------------------------------------------------------------- */

static void free_plane_memory(plane *p) {
  for (int s = 0; s < p->slab_count; s++) free(p->slabs[s]);
  free(p->slabs);
  while (p->free_hellos != NULL) {
    hello_block *next = p->free_hellos->next_free;
    free(p->free_hellos);
    p->free_hellos = next;
  }
  free(p->events);
  free(p->scratch);
  free(p);
}

static void on_handle_closed(uv_handle_t *handle) {
  plane *p = handle->data;
  if (--p->handles_open == 0 && p->is_finalized) free_plane_memory(p);
}

/* Closes every connection (reason shutdown) and listener; delivers the last events when `is_delivering`. */
static void destroy_plane(plane *p, bool is_delivering) {
  if (p->is_destroyed) return;
  bool was_in_callback = p->is_in_callback; /* destroy() may run inside our own poll callback */
  p->is_in_callback = true;
  p->now_ms = plane_now_ms();
  for (int i = 0; i < SNIR_MAX_LISTENERS; i++) listener_close(p, i);
  conn_free_all(p);
  /* Inside onEvents (destroy() called from a handler) the outer flush delivers these, then lets go of the
   * callback (plane_release_callback); otherwise deliver them now. */
  if (is_delivering && !p->is_dispatching) events_flush(p);
  if (!is_delivering) p->event_count = 0;
  p->is_in_callback = was_in_callback;
  p->is_destroyed = true;
  uv_poll_stop(&p->poll);
  uv_timer_stop(&p->tick);
  uv_timer_stop(&p->flush);
  close(p->epoll_fd);
  p->epoll_fd = -1;
  pipe_pool_destroy(&p->pipes);
  uv_close((uv_handle_t *)&p->poll, on_handle_closed);
  uv_close((uv_handle_t *)&p->tick, on_handle_closed);
  uv_close((uv_handle_t *)&p->flush, on_handle_closed);
  if (!p->is_dispatching) plane_release_callback(p);
}

void plane_release_callback(plane *p) {
  if (p->on_events != NULL) napi_delete_reference(p->env, p->on_events);
  p->on_events = NULL;
  if (p->async_context != NULL) napi_async_destroy(p->env, p->async_context);
  p->async_context = NULL;
}

static void finalize_plane(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  plane *p = data;
  destroy_plane(p, false); /* no JavaScript may run in a finalizer */
  p->is_finalized = true;
  if (p->handles_open == 0) free_plane_memory(p);
}

/* ---- argument helpers ----------------------------------------------------------------------------------------- */

static napi_value throw_error(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

static napi_value throw_errno(napi_env env, const char *what, int error) {
  char message[160];
  snprintf(message, sizeof(message), "%s: %s", what, strerror(error));
  napi_value code_value, message_value, error_value;
  const char *code = error == EADDRINUSE ? "EADDRINUSE" : error == EACCES ? "EACCES" : error == EINVAL ? "EINVAL"
                     : error == EMFILE   ? "EMFILE"     : error == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : "ERR_NATIVE_PLANE";
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error_value);
  napi_throw(env, error_value);
  return NULL;
}

/* Reading arguments. napi_get_cb_info fills missing arguments with undefined, so no method counts them. Each
 * reader checks one argument (or one property of an options object); a wrong one throws a TypeError naming the
 * method and the argument ("route(): idleTimeoutMs must be an unsigned 32-bit integer") and returns false, and the
 * method returns NULL. ERR_INVALID_ARG_TYPE: not the type asked for; ERR_INVALID_ARG_VALUE: the right type, a value
 * out of bounds. A reader writes its outputs on every path (zero when it throws). Nothing here allocates. */

#define ARG_TYPE "ERR_INVALID_ARG_TYPE"
#define ARG_VALUE "ERR_INVALID_ARG_VALUE"

__attribute__((format(printf, 3, 4))) static bool throw_arg(napi_env env, const char *code, const char *format, ...) {
  char message[200];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  napi_throw_type_error(env, code, message);
  return false;
}

/* The plane behind a method, with its first `argc` arguments in argv; NULL (thrown) once destroyed. */
static plane *this_plane(napi_env env, napi_callback_info info, size_t argc, napi_value *argv) {
  plane *p;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&p);
  if (p->is_destroyed) {
    throw_error(env, "ERR_NATIVE_PLANE_DESTROYED", "the native plane was destroyed");
    return NULL;
  }
  return p;
}

static bool arg_uint32(napi_env env, const char *method, const char *name, napi_value value, uint32_t *out) {
  *out = 0;
  if (napi_get_value_uint32(env, value, out) == napi_ok) return true;
  return throw_arg(env, ARG_TYPE, "%s(): %s must be an unsigned 32-bit integer", method, name);
}

/* A number already read, against its bound. */
static bool check_at_most(napi_env env, const char *method, const char *name, uint32_t value, uint32_t max) {
  if (value <= max) return true;
  return throw_arg(env, ARG_VALUE, "%s(): %s must be at most %u", method, name, max);
}

/* A string that fits `size` bytes with its terminator, with room to spare (so it was not cut short). */
static bool get_string(napi_env env, napi_value value, char *out, size_t size) {
  size_t length;
  out[0] = '\0';
  return napi_get_value_string_utf8(env, value, out, size, &length) == napi_ok && length < size - 1;
}

static bool arg_string(napi_env env, const char *method, const char *name, napi_value value, char *out, size_t size) {
  if (get_string(env, value, out, size)) return true;
  return throw_arg(env, ARG_TYPE, "%s(): %s must be a string shorter than %zu bytes", method, name, size - 1);
}

static bool arg_function(napi_env env, const char *method, const char *name, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) == napi_ok && type == napi_function) return true;
  return throw_arg(env, ARG_TYPE, "%s(): %s must be a function", method, name);
}

static bool arg_conn_id(napi_env env, const char *method, napi_value value, uint64_t *out) {
  double number;
  *out = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok || number < 0)
    return throw_arg(env, ARG_TYPE, "%s(): connId must be a number, not negative", method);
  *out = (uint64_t)number;
  return true;
}

/* A Uint8Array (or Buffer) of at most max_bytes, or null/undefined for none (NULL, 0). The bytes are JavaScript's. */
static bool arg_optional_bytes(napi_env env, const char *method, const char *name, napi_value value, size_t max_bytes,
                               const uint8_t **out, size_t *length_out) {
  *out = NULL;
  *length_out = 0;
  napi_valuetype value_type;
  napi_typeof(env, value, &value_type);
  if (value_type == napi_null || value_type == napi_undefined) return true;
  bool is_typed = false;
  napi_typedarray_type type;
  void *data;
  napi_value array_buffer;
  size_t offset, length;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &type, &length, &data, &array_buffer, &offset) != napi_ok ||
      type != napi_uint8_array || length > max_bytes)
    return throw_arg(env, ARG_VALUE, "%s(): %s must be a Uint8Array of at most %zu bytes, or null", method, name, max_bytes);
  *out = data;
  *length_out = length;
  return true;
}

/* A property that is there and neither undefined nor null. `object` may be anything: a missing options argument
 * is undefined, and asking undefined or null for a property would throw. */
static bool get_property(napi_env env, napi_value object, const char *name, napi_value *out) {
  napi_valuetype type;
  bool has = false;
  if (napi_typeof(env, object, &type) != napi_ok || (type != napi_object && type != napi_function) ||
      napi_has_named_property(env, object, name, &has) != napi_ok || !has)
    return false;
  napi_get_named_property(env, object, name, out);
  napi_typeof(env, *out, &type);
  return type != napi_undefined && type != napi_null;
}

/* A required string property, as arg_string. */
static bool prop_string(napi_env env, const char *method, napi_value object, const char *name, char *out, size_t size) {
  napi_value value;
  if (!get_property(env, object, name, &value)) napi_get_undefined(env, &value); /* refused by arg_string */
  return arg_string(env, method, name, value, out, size);
}

/* An optional uint32 property: absent, undefined or null leave *out as it is (the default). */
static bool prop_uint32(napi_env env, const char *method, napi_value object, const char *name, uint32_t *out) {
  napi_value value;
  return !get_property(env, object, name, &value) || arg_uint32(env, method, name, value, out);
}

/* An optional boolean property: absent, or anything but true/false, leaves *out as it is (the default). */
static void prop_bool(napi_env env, napi_value object, const char *name, bool *out) {
  napi_value value;
  if (get_property(env, object, name, &value)) napi_get_value_bool(env, value, out);
}

/* ---- methods -------------------------------------------------------------------------------------------------- */

/* listen({ host, port, backlog, reusePort, ipv6Only }) → { listenerId, port } */
static napi_value method_listen(napi_env env, napi_callback_info info) {
  napi_value options;
  plane *p = this_plane(env, info, 1, &options);
  if (p == NULL) return NULL;
  char host[MAX_HOST_TEXT];
  uint32_t port = 0, backlog = 511;
  bool reuse_port = false, ipv6_only = false;
  if (!prop_string(env, "listen", options, "host", host, sizeof(host)) || !prop_uint32(env, "listen", options, "port", &port) ||
      !prop_uint32(env, "listen", options, "backlog", &backlog))
    return NULL;
  prop_bool(env, options, "reusePort", &reuse_port);
  prop_bool(env, options, "ipv6Only", &ipv6_only);
  int error = 0;
  int id = listener_open(p, host, (int)port, (int)backlog, reuse_port, ipv6_only, &error);
  if (id < 0) return throw_errno(env, "listen", error);
  plane_update_ref(p);
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "listenerId", js_number(env, id));
  napi_set_named_property(env, result, "port", js_number(env, listener_local_port(p, id)));
  return result;
}

/* closeListener(listenerId) → bool (was open) */
static napi_value method_close_listener(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  plane *p = this_plane(env, info, 1, argv);
  if (p == NULL) return NULL;
  uint32_t id;
  if (!arg_uint32(env, "closeListener", "listenerId", argv[0], &id) ||
      !check_at_most(env, "closeListener", "listenerId", id, SNIR_MAX_LISTENERS - 1))
    return NULL;
  bool was_open = p->listeners[id].fd >= 0;
  listener_close(p, (int)id);
  plane_update_ref(p);
  return js_bool(env, was_open);
}

/* One backend { host: IP literal, port: 1..65535 }; an AF_INET one is stored as sockaddr_in in the same room. */
static bool parse_backend(napi_env env, napi_value object, struct sockaddr_in6 *out) {
  char host[MAX_HOST_TEXT];
  napi_value value;
  uint32_t port;
  if (!get_property(env, object, "host", &value) || !get_string(env, value, host, sizeof(host)) ||
      !get_property(env, object, "port", &value) || napi_get_value_uint32(env, value, &port) != napi_ok ||
      port == 0 || port > 65535)
    return false;
  memset(out, 0, sizeof(*out));
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    return true;
  }
  if (inet_pton(AF_INET6, host, &out->sin6_addr) == 1) {
    out->sin6_family = AF_INET6;
    out->sin6_port = htons((uint16_t)port);
    return true;
  }
  return false;
}

/* route()'s backends: an array of at most SNIR_MAX_BACKENDS of them, into `out`. */
static bool arg_backends(napi_env env, napi_value array, struct sockaddr_in6 *out, uint32_t *count_out) {
  bool is_array = false;
  uint32_t count = 0;
  *count_out = 0;
  if (napi_is_array(env, array, &is_array) != napi_ok || !is_array || napi_get_array_length(env, array, &count) != napi_ok)
    return throw_arg(env, ARG_TYPE, "route(): backends must be an array of { host, port }");
  if (count > SNIR_MAX_BACKENDS)
    return throw_arg(env, ARG_VALUE, "route(): backends must hold at most %d entries", SNIR_MAX_BACKENDS);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    napi_get_element(env, array, i, &item);
    if (!parse_backend(env, item, &out[i]))
      return throw_arg(env, ARG_VALUE, "route(): backends[%u] needs { host: IP literal, port: 1..65535 }", i);
  }
  *count_out = count;
  return true;
}

/* route(connId, backends[{ host, port }], header | null, connectTimeoutMs, idleTimeoutMs) → bool (false: gone) */
static napi_value method_route(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  plane *p = this_plane(env, info, 5, argv);
  if (p == NULL) return NULL;
  uint64_t id;
  struct sockaddr_in6 backends[SNIR_MAX_BACKENDS];
  uint32_t count, connect_timeout_ms, idle_timeout_ms;
  const uint8_t *header;
  size_t header_bytes;
  if (!arg_conn_id(env, "route", argv[0], &id) || !arg_backends(env, argv[1], backends, &count) ||
      !arg_optional_bytes(env, "route", "header", argv[2], SNIR_MAX_HEADER_BYTES, &header, &header_bytes) ||
      !arg_uint32(env, "route", "connectTimeoutMs", argv[3], &connect_timeout_ms) ||
      !arg_uint32(env, "route", "idleTimeoutMs", argv[4], &idle_timeout_ms))
    return NULL;
  conn *c = conn_find(p, id);
  if (c == NULL) return js_bool(env, false);
  int r = conn_route(p, c, backends, (int)count, header, header_bytes, connect_timeout_ms, idle_timeout_ms);
  return js_bool(env, r == 0);
}

/* One of CLOSE_REASON_NAMES, by name. A longer string, cut short at 31 bytes, matches none of them. */
static bool arg_close_reason(napi_env env, napi_value value, close_reason *out) {
  char name[32];
  *out = REASON_DONE;
  if (napi_get_value_string_utf8(env, value, name, sizeof(name), NULL) != napi_ok)
    return throw_arg(env, ARG_TYPE, "close(): reason must be a string");
  for (int i = 0; i < REASON_COUNT; i++) {
    if (strcmp(name, CLOSE_REASON_NAMES[i]) == 0) {
      *out = (close_reason)i;
      return true;
    }
  }
  return throw_arg(env, ARG_VALUE, "close(): unknown close reason '%s'", name);
}

/* close(connId, reason) → bool (false: already gone) */
static napi_value method_close(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  plane *p = this_plane(env, info, 2, argv);
  if (p == NULL) return NULL;
  uint64_t id;
  close_reason reason;
  if (!arg_conn_id(env, "close", argv[0], &id) || !arg_close_reason(env, argv[1], &reason)) return NULL;
  conn *c = conn_find(p, id);
  if (c == NULL) return js_bool(env, false);
  p->now_ms = plane_now_ms();
  conn_close(p, c, reason);
  return js_bool(env, true);
}

/* handoff(connId) → { fd, peeked } | null: the fd is the caller's now (new net.Socket({ fd })); peeked = bytes read */
static napi_value method_handoff(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  plane *p = this_plane(env, info, 1, argv);
  if (p == NULL) return NULL;
  uint64_t id;
  if (!arg_conn_id(env, "handoff", argv[0], &id)) return NULL;
  conn *c = conn_find(p, id);
  napi_value result;
  if (c == NULL || c->state != CONN_HELLO) {
    napi_get_null(env, &result);
    return result;
  }
  napi_value peeked;
  napi_create_buffer_copy(env, c->hello->used, c->hello->bytes, NULL, &peeked);
  int fd;
  if (conn_handoff(p, c, &fd) < 0) return throw_errno(env, "handoff", errno);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "fd", js_number(env, fd));
  napi_set_named_property(env, result, "peeked", peeked);
  return result;
}

/* setHelloTimeout(ms): for connections accepted from now on */
static napi_value method_set_hello_timeout(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  plane *p = this_plane(env, info, 1, argv);
  if (p == NULL) return NULL;
  uint32_t ms;
  if (!arg_uint32(env, "setHelloTimeout", "ms", argv[0], &ms)) return NULL;
  p->hello_timeout_ms = ms;
  return NULL;
}

static napi_value method_stats(napi_env env, napi_callback_info info) {
  plane *p = this_plane(env, info, 0, NULL);
  if (p == NULL) return NULL;
  napi_value result, by_reason;
  napi_create_object(env, &result);
  napi_create_object(env, &by_reason);
  napi_set_named_property(env, result, "openConnections", js_number(env, p->open_conns));
  napi_set_named_property(env, result, "listeners", js_number(env, p->listener_count));
  napi_set_named_property(env, result, "pipesInUse", js_number(env, p->pipes.busy));
  napi_set_named_property(env, result, "pipesOpen", js_number(env, p->pipes.count));
  napi_set_named_property(env, result, "helloBuffers", js_number(env, p->hello_blocks));
  napi_set_named_property(env, result, "accepted", js_number(env, (double)p->accepted));
  napi_set_named_property(env, result, "closed", js_number(env, (double)p->closed));
  napi_set_named_property(env, result, "handedOff", js_number(env, (double)p->handed_off));
  napi_set_named_property(env, result, "emfilePauses", js_number(env, (double)p->emfile_pauses));
  napi_set_named_property(env, result, "spliceRefused", js_number(env, (double)p->splice_refused));
  napi_set_named_property(env, result, "connectFailures", js_number(env, (double)p->connect_failures));
  for (int i = 0; i < REASON_COUNT; i++)
    napi_set_named_property(env, by_reason, CLOSE_REASON_NAMES[i], js_number(env, (double)p->closed_by_reason[i]));
  napi_set_named_property(env, result, "closedByReason", by_reason);
  return result;
}

/* connections() → [{ connId, state, listenerId, clientAddress, clientPort, bytesIn, bytesOut, backendIndex, ageMs }] */
static napi_value method_connections(napi_env env, napi_callback_info info) {
  plane *p = this_plane(env, info, 0, NULL);
  if (p == NULL) return NULL;
  napi_value list;
  napi_create_array_with_length(env, p->open_conns, &list);
  uint32_t n = 0;
  uint64_t now_ms = plane_now_ms();
  for (int s = 0; s < p->slab_count; s++) {
    for (int i = 0; i < SNIR_CONN_SLAB; i++) {
      conn *c = &p->slabs[s][i];
      if (c->state == CONN_FREE) continue;
      napi_value item;
      napi_create_object(env, &item);
      napi_set_named_property(env, item, "connId", js_number(env, (double)conn_id(c)));
      napi_set_named_property(env, item, "state", js_string(env, STATE_NAMES[c->state]));
      napi_set_named_property(env, item, "listenerId", js_number(env, c->listener_id));
      address_to_js(env, item, "clientAddress", "clientPort", &c->client_addr);
      napi_set_named_property(env, item, "bytesIn", js_number(env, (double)c->up.bytes));
      napi_set_named_property(env, item, "bytesOut", js_number(env, (double)c->down.bytes));
      napi_set_named_property(env, item, "backendIndex",
                              js_number(env, c->state >= CONN_SENDING ? c->try_index : -1));
      napi_set_named_property(env, item, "ageMs", js_number(env, (double)(now_ms - c->accepted_ms)));
      napi_set_element(env, list, n++, item);
    }
  }
  return list;
}

static napi_value method_destroy(napi_env env, napi_callback_info info) {
  plane *p;
  napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&p);
  if (p->is_destroyed) return NULL;
  destroy_plane(p, true);
  if (p->self != NULL) napi_reference_unref(env, p->self, NULL);
  return NULL;
}

/* createPlane(onEvents, { helloTimeoutMs?, maxHelloBytes?, forceCopy? }) */
static napi_value create_plane(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t hello_timeout_ms = 10000, max_hello_bytes = 64 * 1024;
  bool force_copy = false;
  if (!arg_function(env, "createPlane", "onEvents", argv[0]) ||
      !prop_uint32(env, "createPlane", argv[1], "helloTimeoutMs", &hello_timeout_ms) ||
      !prop_uint32(env, "createPlane", argv[1], "maxHelloBytes", &max_hello_bytes) ||
      !check_at_most(env, "createPlane", "maxHelloBytes", max_hello_bytes, MAX_HELLO_BYTES_LIMIT))
    return NULL;
  prop_bool(env, argv[1], "forceCopy", &force_copy);
  plane *p = calloc(1, sizeof(plane));
  if (p == NULL) return throw_error(env, "ERR_NATIVE_PLANE", "out of memory");
  p->env = env;
  p->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  p->scratch = malloc(SNIR_CHUNK_BYTES);
  if (p->epoll_fd < 0 || p->scratch == NULL) {
    int error = errno;
    if (p->epoll_fd >= 0) close(p->epoll_fd);
    free(p->scratch);
    free(p);
    return throw_errno(env, "createPlane", error);
  }
  for (int i = 0; i < SNIR_MAX_LISTENERS; i++) p->listeners[i].fd = -1;
  /* Room for a hello of maxHelloBytes plus what the client sends right behind it before the decision. */
  p->hello_capacity = max_hello_bytes + 16 * 1024;
  if (p->hello_capacity < DEFAULT_HELLO_CAPACITY && max_hello_bytes >= 64 * 1024) p->hello_capacity = DEFAULT_HELLO_CAPACITY;
  p->hello_timeout_ms = hello_timeout_ms;
  p->is_copy_forced = force_copy;
  p->now_ms = plane_now_ms();
  pipe_pool_init(&p->pipes, PIPES_KEPT_IDLE);
  wheel_init(&p->wheel, p->now_ms);
  napi_get_uv_event_loop(env, &p->loop);
  uv_poll_init(p->loop, &p->poll, p->epoll_fd);
  uv_timer_init(p->loop, &p->tick);
  uv_timer_init(p->loop, &p->flush);
  p->poll.data = p->tick.data = p->flush.data = p;
  p->handles_open = 3;
  uv_unref((uv_handle_t *)&p->tick);
  uv_unref((uv_handle_t *)&p->flush);
  uv_poll_start(&p->poll, UV_READABLE, on_poll);
  uv_unref((uv_handle_t *)&p->poll);
  napi_create_reference(env, argv[0], 1, &p->on_events);
  napi_value resource_name;
  napi_create_string_utf8(env, "SniRouterNativePlane", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &p->async_context);

  napi_value object;
  napi_create_object(env, &object);
  napi_property_descriptor methods[] = {
      {"listen", NULL, method_listen, NULL, NULL, NULL, napi_default, p},
      {"closeListener", NULL, method_close_listener, NULL, NULL, NULL, napi_default, p},
      {"route", NULL, method_route, NULL, NULL, NULL, napi_default, p},
      {"close", NULL, method_close, NULL, NULL, NULL, napi_default, p},
      {"handoff", NULL, method_handoff, NULL, NULL, NULL, napi_default, p},
      {"setHelloTimeout", NULL, method_set_hello_timeout, NULL, NULL, NULL, napi_default, p},
      {"stats", NULL, method_stats, NULL, NULL, NULL, napi_default, p},
      {"connections", NULL, method_connections, NULL, NULL, NULL, napi_default, p},
      {"destroy", NULL, method_destroy, NULL, NULL, NULL, napi_default, p},
  };
  napi_define_properties(env, object, sizeof(methods) / sizeof(methods[0]), methods);
  napi_wrap(env, object, p, finalize_plane, NULL, NULL);
  /* Held strongly until destroy(): a plane with open listeners must not vanish with its last JavaScript reference. */
  napi_create_reference(env, object, 1, &p->self);
  return object;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value create, reasons;
  napi_create_function(env, "createPlane", NAPI_AUTO_LENGTH, create_plane, NULL, &create);
  napi_set_named_property(env, exports, "createPlane", create);
  napi_create_array_with_length(env, REASON_COUNT, &reasons);
  for (int i = 0; i < REASON_COUNT; i++) {
    napi_value name;
    napi_create_string_latin1(env, CLOSE_REASON_NAMES[i], NAPI_AUTO_LENGTH, &name);
    napi_set_element(env, reasons, (uint32_t)i, name);
  }
  napi_set_named_property(env, exports, "closeReasons", reasons);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
