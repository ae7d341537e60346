/*
 * The native data plane: shared types. One plane = one private edge-triggered epoll set, polled from Node's own
 * loop through one uv_poll_t, plus one uv_timer_t that drives the timer wheel. No threads, no locks: every function
 * here runs on the JavaScript thread.
 *
 *   listener.c     listening sockets, accept, EMFILE back-off
 *   conn.c         the per-connection state machine and its one close path
 *   splice.c       moving bytes one direction: splice(2) through a pooled pipe, copy fallback
 *   pipe-pool.c    pipes held only while bytes are in flight
 *   timer-wheel.c  hello / connect / idle deadlines without a timer per connection
 *   events.c       the batch of events handed to JavaScript once per round
 *   binding.c      Node-API surface: createPlane and the plane's methods
 */
#ifndef SNIR_PLANE_H
#define SNIR_PLANE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <node_api.h>
#include <uv.h>

#include "timer-wheel.h"

#define SNIR_MAX_BACKENDS 16
#define SNIR_MAX_HEADER_BYTES 1024
#define SNIR_MAX_LISTENERS 64
/** Connection ids: slot index in the low bits, the slot's generation above them, so a stale id never matches. */
#define SNIR_CONN_INDEX_BITS 20
#define SNIR_MAX_CONNS (1u << SNIR_CONN_INDEX_BITS)
#define SNIR_CONN_SLAB 1024
/** Bytes moved per splice(2)/read(2) call: one default pipe's capacity. */
#define SNIR_CHUNK_BYTES 65536
#define SNIR_EMFILE_BACKOFF_MS 2000

/* Why a connection ended. The names are the router's close-reason vocabulary (src/close-reason.ts). */
typedef enum {
  REASON_DONE = 0,            /* both sides finished normally */
  REASON_HELLO_TIMEOUT,       /* no decision within the hello timeout */
  REASON_HELLO_TOO_LARGE,     /* the hello buffer filled (or TypeScript said so) */
  REASON_HELLO_MALFORMED,     /* set by TypeScript */
  REASON_NOT_TLS,             /* set by TypeScript */
  REASON_NO_ROUTE,            /* set by TypeScript */
  REASON_BACKEND_UNAVAILABLE, /* every backend refused or timed out */
  REASON_CLIENT_RESET,        /* the client reset, errored, or left before the decision */
  REASON_BACKEND_RESET,       /* the backend reset or errored */
  REASON_IDLE_TIMEOUT,        /* no bytes either way for the idle timeout */
  REASON_LIMIT,               /* a limit: set by TypeScript, or no pipe could be made */
  REASON_PROXY_REJECTED,      /* set by TypeScript */
  REASON_SHUTDOWN,            /* the plane was destroyed */
  REASON_BACKEND_CLOSED_EARLY, /* the backend ended before its first byte while the client still talked */
  REASON_REDIRECTED,          /* plain-HTTP listeners only (node plane): never set here, kept for the vocabulary */
  REASON_HTTP_BAD_REQUEST,    /* plain-HTTP listeners only (node plane): never set here */
  REASON_COUNT
} close_reason;

extern const char *const CLOSE_REASON_NAMES[REASON_COUNT];

/* One direction of a spliced connection (client→backend or backend→client). */
typedef struct {
  int pipe_index;      /* slot in the pipe pool, or -1 when no bytes are in flight */
  size_t in_pipe;      /* bytes read from the source and not yet written to the destination */
  bool is_source_eof;  /* the source sent FIN */
  bool is_shut;        /* FIN passed on to the destination (shutdown SHUT_WR) */
  uint64_t bytes;      /* bytes delivered to the destination */
} direction;

typedef enum {
  CONN_FREE = 0,  /* on the free list */
  CONN_HELLO,     /* accepted; reading the hello into the hello buffer, each new chunk handed up, awaiting route() */
  CONN_CONNECTING,/* route() given: non-blocking connect to backends[try_index] in flight */
  CONN_SENDING,   /* connected: writing PROXY header + peeked hello bytes (one sendmsg, resumed on EAGAIN) */
  CONN_SPLICING,  /* both ways through pipes until both directions saw FIN, an error, or the idle timeout */
} conn_state;

typedef struct hello_block hello_block;

/* An IPv4 or IPv6 endpoint in 28 bytes (sockaddr_storage would be 128: ×2 per idle connection). */
typedef union {
  struct sockaddr sa;
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
} peer_address;

typedef struct conn {
  conn_state state;
  uint32_t generation;
  uint32_t index;
  int client_fd;
  int backend_fd;
  int listener_id;
  bool is_client_eof_in_hello; /* FIN during CONN_HELLO: passed on after the peeked bytes */
  bool is_copy_mode;           /* splice(2) from a socket was refused: read(2) + write to the pipe */
  timer_entry timer;           /* the one deadline of the current state: hello, connect or idle */
  uint32_t idle_timeout_ms;
  uint32_t connect_timeout_ms;
  uint64_t last_activity_ms;   /* idle timer checks this lazily instead of re-arming per chunk */
  uint64_t accepted_ms;
  uint64_t connect_started_us;
  uint32_t connect_us;
  hello_block *hello;          /* held from accept until the peeked bytes reached the backend */
  size_t hello_reported;       /* hello bytes already handed up */
  size_t send_offset;          /* bytes of header + hello already written in CONN_SENDING */
  uint8_t backend_count;
  uint8_t try_index;           /* backend being tried; the one that connected in SPLICING */
  uint8_t tries;               /* connect attempts made */
  int connect_errno;           /* why the last connect attempt failed (ETIMEDOUT for its timer), 0 = none */
  bool is_backend_closed_early; /* the backend's FIN came first, before any byte of its own */
  direction up;                /* client → backend */
  direction down;              /* backend → client */
  peer_address client_addr;
  peer_address local_addr;
  struct conn *next_free;
} conn;

/* Held while a connection is in CONN_HELLO .. CONN_SENDING: hello bytes, the PROXY header, the backend order. */
struct hello_block {
  hello_block *next_free;
  size_t used;
  size_t header_bytes;
  struct sockaddr_in6 backends[SNIR_MAX_BACKENDS]; /* AF_INET ones are stored as sockaddr_in in the same room */
  uint8_t header[SNIR_MAX_HEADER_BYTES];
  uint8_t bytes[]; /* hello_capacity bytes */
};

typedef struct {
  int fd;               /* -1 when the slot is free */
  bool is_paused;       /* EMFILE back-off: not accepting until resume_at_ms */
  bool is_wildcard;     /* bound to 0.0.0.0 / ::, so each connection's local address needs getsockname */
  uint64_t resume_at_ms;
  struct sockaddr_storage address; /* as bound (port filled in) */
} listener;

typedef enum { EVENT_ACCEPTED, EVENT_HELLO_BYTES, EVENT_CONNECTED, EVENT_CLOSED, EVENT_EMFILE } event_kind;

typedef struct {
  event_kind kind;
  uint64_t conn_id;
  int listener_id;
  /* ACCEPTED / HELLO_BYTES: the range of the conn's hello buffer that is new */
  size_t from, to;
  bool is_end;         /* the client sent FIN after these bytes */
  /* ACCEPTED: addresses (copied, the conn may be gone by the flush) */
  peer_address client_addr, local_addr;
  /* CONNECTED / CLOSED */
  int backend_index;
  uint32_t connect_us;
  /* CLOSED */
  close_reason reason;
  uint64_t bytes_in, bytes_out, duration_ms;
  int tries;
  int connect_errno;
} event;

typedef struct pipe_pool {
  int (*fds)[2];
  bool *is_busy;
  int capacity;        /* slots allocated */
  int count;           /* slots holding a pipe (busy or idle) */
  int busy;
  int max_idle;        /* idle pipes kept; more are closed */
  int *idle_stack;
  int idle_count;
} pipe_pool;

typedef struct plane {
  napi_env env;
  napi_ref on_events;
  napi_ref self;
  napi_async_context async_context;
  uv_loop_t *loop;
  uv_poll_t poll;
  uv_timer_t tick;
  uv_timer_t flush;
  int epoll_fd;
  uint64_t now_ms;        /* cached once per round: the idle check needs no clock read per chunk */
  bool is_destroyed;
  bool is_dispatching;    /* inside the JavaScript events callback */
  bool is_in_callback;    /* inside a uv callback of ours, which flushes the queue when it ends */
  bool is_finalized;      /* the JavaScript object is gone */
  int handles_open;       /* uv handles not yet closed; the plane is freed when it reaches 0 after destroy */

  uint32_t hello_capacity;
  uint32_t hello_timeout_ms;
  bool is_copy_forced;    /* test hook: never splice from sockets */

  listener listeners[SNIR_MAX_LISTENERS];
  int listener_count;

  conn **slabs;           /* SNIR_CONN_SLAB conns each */
  int slab_count;
  conn *free_conns;
  uint32_t open_conns;
  hello_block *free_hellos;
  int free_hello_count;
  int hello_blocks;       /* allocated, in use or free */

  pipe_pool pipes;
  timer_wheel wheel;
  uint8_t *scratch;       /* SNIR_CHUNK_BYTES, the copy fallback's buffer */

  event *events;
  size_t event_count, event_capacity;

  /* counters since creation */
  uint64_t accepted, closed, handed_off, emfile_pauses, splice_refused, connect_failures;
  uint64_t closed_by_reason[REASON_COUNT];
} plane;

/* binding.c */
uint64_t plane_now_ms(void);
uint64_t plane_now_us(void);
void plane_ensure_tick(plane *p); /* start the wheel's uv_timer if it is not running */
void plane_update_ref(plane *p);
void plane_on_flush_timer(uv_timer_t *timer);
void plane_release_callback(plane *p); /* drops the onEvents reference and async context (after destroy) */  /* the poll handle keeps Node alive while listeners or connections exist */

/* epoll tags: the 64-bit data holds the kind in the top byte and the id below */
#define TAG_LISTENER 1ull
#define TAG_CLIENT 2ull
#define TAG_BACKEND 3ull
#define TAG_MAKE(kind, id) (((uint64_t)(kind) << 56) | (uint64_t)(id))
#define TAG_KIND(tag) ((tag) >> 56)
#define TAG_ID(tag) ((tag) & ((1ull << 56) - 1))
/* Backend tags: conn id in the low 52 bits (20 index + 32 generation), the connect attempt above it. */
#define TAG_TRY_SHIFT 52
#define TAG_CONN_ID(id) ((id) & ((1ull << TAG_TRY_SHIFT) - 1))
#define TAG_TRY(id) ((id) >> TAG_TRY_SHIFT)

/* listener.c */
int listener_open(plane *p, const char *host, int port, int backlog, bool reuse_port, bool ipv6_only, int *error_out);
void listener_close(plane *p, int id);
void listener_accept_all(plane *p, int id);
void listener_resume_due(plane *p, uint64_t now_ms);
bool listener_any_paused(const plane *p);
int listener_local_port(plane *p, int id);

/* conn.c */
conn *conn_new(plane *p, int client_fd, int listener_id);
void conn_start(plane *p, conn *c);
conn *conn_find(plane *p, uint64_t id);
uint64_t conn_id(const conn *c);
void conn_on_client_event(plane *p, conn *c, uint32_t events);
void conn_on_backend_event(plane *p, conn *c, uint32_t events);
void conn_on_timer(plane *p, conn *c);
int conn_route(plane *p, conn *c, const struct sockaddr_in6 *backends, int count, const uint8_t *header,
               size_t header_bytes, uint32_t connect_timeout_ms, uint32_t idle_timeout_ms);
void conn_close(plane *p, conn *c, close_reason reason);
int conn_handoff(plane *p, conn *c, int *fd_out);
void conn_free_all(plane *p);

/* splice.c */
typedef enum { MOVE_WAIT, MOVE_DONE, MOVE_SOURCE_ERROR, MOVE_DEST_ERROR, MOVE_NO_PIPE } move_result;
move_result direction_move(plane *p, conn *c, direction *d, int from_fd, int to_fd, int *error_out);

/* pipe-pool.c */
void pipe_pool_init(pipe_pool *pool, int max_idle);
int pipe_pool_take(pipe_pool *pool);
void pipe_pool_give(pipe_pool *pool, int index, bool is_clean);
void pipe_pool_destroy(pipe_pool *pool);

/* events.c */
event *events_push(plane *p, event_kind kind);
void events_flush(plane *p);
void events_schedule_flush(plane *p);
void address_to_js(napi_env env, napi_value object, const char *address_key, const char *port_key,
                   const peer_address *address);
/* One JavaScript value each; the strings are ASCII names, so latin1. */
napi_value js_string(napi_env env, const char *latin1);
napi_value js_number(napi_env env, double number);
napi_value js_bool(napi_env env, bool flag);

#endif
