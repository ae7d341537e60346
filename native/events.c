/*
 * Events go up to JavaScript in batches: a round of the epoll set (or of the timer wheel) queues plain records
 * here, and the end of the round hands them over as one array in one call. Events caused by JavaScript's own calls
 * (route() failing over to backend_unavailable, close()) are delivered on the next loop turn through a zero timer,
 * never from inside the call. The queue grows to its high-water mark once and is reused.
 *
 * Shapes (documented for TypeScript in src/native/addon.ts):
 *   { kind: 'accepted', connId, listenerId, clientAddress, clientPort, localAddress, localPort, bytes, end }
 *   { kind: 'hello', connId, bytes, end }        bytes: only those new since the last event; end: the client's FIN
 *   { kind: 'connected', connId, backendIndex, connectUs }
 *   { kind: 'closed', connId, listenerId, reason, bytesIn, bytesOut, backendIndex, tries, durationMs }
 *   { kind: 'emfile', listenerId }
 */
#include "plane.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

event *events_push(plane *p, event_kind kind) {
  if (p->is_destroyed && !p->is_dispatching) return NULL;
  if (p->event_count == p->event_capacity) {
    size_t grown = p->event_capacity == 0 ? 256 : p->event_capacity * 2;
    event *events = realloc(p->events, grown * sizeof(event));
    if (events == NULL) return NULL; /* ENOMEM: the event is lost, the connection itself is unaffected */
    p->events = events;
    p->event_capacity = grown;
  }
  event *e = &p->events[p->event_count++];
  e->kind = kind;
  e->conn_id = 0;
  e->listener_id = -1;
  e->from = e->to = 0;
  e->is_end = false;
  e->backend_index = -1;
  e->connect_us = 0;
  e->tries = 0;
  e->connect_errno = 0;
  if (!p->is_in_callback) events_schedule_flush(p);
  return e;
}

napi_value js_string(napi_env env, const char *latin1) {
  napi_value value;
  napi_create_string_latin1(env, latin1, NAPI_AUTO_LENGTH, &value);
  return value;
}

napi_value js_number(napi_env env, double number) {
  napi_value value;
  napi_create_double(env, number, &value);
  return value;
}

napi_value js_bool(napi_env env, bool flag) {
  napi_value value;
  napi_get_boolean(env, flag, &value);
  return value;
}

/* The errno of the last failed connect as node names it (the access line's detail), or null. */
static napi_value connect_error_name(napi_env env, int error) {
  napi_value value;
  if (error == 0) {
    napi_get_null(env, &value);
    return value;
  }
  switch (error) {
    case ECONNREFUSED: return js_string(env, "ECONNREFUSED");
    case ETIMEDOUT: return js_string(env, "ETIMEDOUT");
    case EHOSTUNREACH: return js_string(env, "EHOSTUNREACH");
    case ENETUNREACH: return js_string(env, "ENETUNREACH");
    case EADDRNOTAVAIL: return js_string(env, "EADDRNOTAVAIL");
    case ECONNRESET: return js_string(env, "ECONNRESET");
    case EMFILE: return js_string(env, "EMFILE");
    case ENFILE: return js_string(env, "ENFILE");
    case ENOBUFS: return js_string(env, "ENOBUFS");
    default: {
      char text[32];
      snprintf(text, sizeof text, "errno %d", error);
      return js_string(env, text);
    }
  }
}

static void set(napi_env env, napi_value object, const char *name, napi_value value) {
  napi_set_named_property(env, object, name, value);
}

void address_to_js(napi_env env, napi_value object, const char *address_key, const char *port_key,
                   const peer_address *address) {
  char text[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (address->sa.sa_family == AF_INET) {
    inet_ntop(AF_INET, &address->v4.sin_addr, text, sizeof(text));
    port = ntohs(address->v4.sin_port);
  } else if (address->sa.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &address->v6.sin6_addr, text, sizeof(text));
    port = ntohs(address->v6.sin6_port);
  }
  set(env, object, address_key, js_string(env, text));
  set(env, object, port_key, js_number(env, port));
}

/* The bytes of the hello buffer an event points at, or an empty buffer when the connection is gone by now. */
static napi_value hello_bytes(plane *p, const event *e) {
  napi_value value;
  conn *c = conn_find(p, e->conn_id);
  if (c == NULL || c->hello == NULL || c->hello->used < e->to || e->to <= e->from) {
    napi_create_buffer(p->env, 0, NULL, &value);
    return value;
  }
  napi_create_buffer_copy(p->env, e->to - e->from, c->hello->bytes + e->from, NULL, &value);
  return value;
}

static napi_value event_to_js(plane *p, const event *e) {
  napi_env env = p->env;
  napi_value object;
  napi_create_object(env, &object);
  switch (e->kind) {
    case EVENT_ACCEPTED:
      set(env, object, "kind", js_string(env, "accepted"));
      set(env, object, "connId", js_number(env, (double)e->conn_id));
      set(env, object, "listenerId", js_number(env, e->listener_id));
      address_to_js(env, object, "clientAddress", "clientPort", &e->client_addr);
      address_to_js(env, object, "localAddress", "localPort", &e->local_addr);
      set(env, object, "bytes", hello_bytes(p, e));
      set(env, object, "end", js_bool(env, e->is_end));
      break;
    case EVENT_HELLO_BYTES:
      set(env, object, "kind", js_string(env, "hello"));
      set(env, object, "connId", js_number(env, (double)e->conn_id));
      set(env, object, "bytes", hello_bytes(p, e));
      set(env, object, "end", js_bool(env, e->is_end));
      break;
    case EVENT_CONNECTED:
      set(env, object, "kind", js_string(env, "connected"));
      set(env, object, "connId", js_number(env, (double)e->conn_id));
      set(env, object, "backendIndex", js_number(env, e->backend_index));
      set(env, object, "connectUs", js_number(env, e->connect_us));
      break;
    case EVENT_CLOSED:
      set(env, object, "kind", js_string(env, "closed"));
      set(env, object, "connId", js_number(env, (double)e->conn_id));
      set(env, object, "listenerId", js_number(env, e->listener_id));
      set(env, object, "reason", js_string(env, CLOSE_REASON_NAMES[e->reason]));
      set(env, object, "bytesIn", js_number(env, (double)e->bytes_in));
      set(env, object, "bytesOut", js_number(env, (double)e->bytes_out));
      set(env, object, "backendIndex", js_number(env, e->backend_index));
      set(env, object, "tries", js_number(env, e->tries));
      set(env, object, "connectError", connect_error_name(env, e->connect_errno));
      set(env, object, "durationMs", js_number(env, (double)e->duration_ms));
      break;
    case EVENT_EMFILE:
      set(env, object, "kind", js_string(env, "emfile"));
      set(env, object, "listenerId", js_number(env, e->listener_id));
      break;
  }
  return object;
}

/* Call with a handle scope open. Delivers until the queue stays empty (JavaScript's calls may queue more). */
void events_flush(plane *p) {
  if (p->is_dispatching) return;
  p->is_dispatching = true;
  while (p->event_count > 0 && p->on_events != NULL) {
    napi_env env = p->env;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value batch;
    napi_create_array_with_length(env, p->event_count, &batch);
    for (size_t i = 0; i < p->event_count; i++) napi_set_element(env, batch, (uint32_t)i, event_to_js(p, &p->events[i]));
    p->event_count = 0;
    napi_value callback, receiver, result;
    napi_get_reference_value(env, p->on_events, &callback);
    napi_get_global(env, &receiver); /* napi_make_callback needs an object receiver */
    napi_status status = napi_make_callback(env, p->async_context, receiver, callback, 1, &batch, &result);
    if (status == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error); /* the process's 'uncaughtException', as for any callback */
    }
    napi_close_handle_scope(env, scope);
  }
  p->event_count = 0;
  p->is_dispatching = false;
  if (p->is_destroyed) plane_release_callback(p); /* destroy() was called from inside the callback */
}

void events_schedule_flush(plane *p) {
  if (p->is_destroyed || uv_is_active((uv_handle_t *)&p->flush)) return;
  uv_timer_start(&p->flush, plane_on_flush_timer, 0, 0);
}
