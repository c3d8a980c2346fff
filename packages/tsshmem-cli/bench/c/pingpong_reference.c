/*
 * The references of the bench's wake section: two processes pass a turn back
 * and forth; the first measures each round trip.
 *
 *   bare-futex      one shared word, futex wait and wake
 *   bare-socket     one shared word; the wake is a one-byte datagram to the
 *                   other side's abstract AF_UNIX socket, awaited in
 *                   epoll_wait as Node's event loop awaits it: the transport
 *                   that wakes next() (an event loop cannot sleep in futex(2))
 *   bare-spin       one shared word, busy-spin
 *   protocol-futex  per hop the work a stream round trip must do: one
 *                   compatible write of BYTES (flock pair, sequence updates,
 *                   copy in), the wake, then one safe read (copy out); the
 *                   reader sleeps on the notify word
 *   protocol-socket the same, woken as next() is: the writer sends the datagram
 *                   while the reader is registered as waiting, and the reader
 *                   awaits it as Node's event loop does
 *   protocol-spin   the same, the reader busy-spins on the count
 *
 * The initiator runs on INITIATOR_CPU and the echo on ECHO_CPU (-1: wherever
 * the scheduler puts it).
 *
 * usage: pingpong_reference MODE BYTES SECONDS WARMUP_SECONDS INITIATOR_CPU ECHO_CPU LOCK_DIR
 * prints {"samples":N,"medianUs":M,"p99Us":P}
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "pingpong_harness.h"
#include "shm_stream.h"

typedef struct {
  uint32_t turn;
  uint32_t echo_ready;
  uint32_t stop;
} control_page;

/* bare-socket: this side's bound socket, its epoll set, and the other side's address. */
typedef struct {
  int fd;
  int epoll;
  struct sockaddr_un peer;
  socklen_t peer_length;
} wake_socket;

typedef struct {
  int protocol;
  int spin;
  int socket;
  wake_socket wake;
  control_page *control;
  shm_stream ping;
  shm_stream pong;
  unsigned char *frame;
  unsigned char *received;
  double pid;
  pid_t parent;
  /* The initiator's: the count of the last pong it read. */
  double last_pong;
} session;

static socklen_t wake_address(pid_t parent, const char *side, struct sockaddr_un *address) {
  memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  int length = snprintf(address->sun_path + 1, sizeof address->sun_path - 1, "tsshmem-bench-%d-%s", (int)parent, side);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + length);
}

/* Binds this side's socket (before the handshake, so that the other side can send at once). */
static void open_wake_socket(wake_socket *wake, pid_t parent, const char *side, const char *other) {
  struct sockaddr_un own;
  socklen_t own_length = wake_address(parent, side, &own);
  wake->peer_length = wake_address(parent, other, &wake->peer);
  wake->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (wake->fd < 0 || bind(wake->fd, (struct sockaddr *)&own, own_length) != 0) fail("socket");
  wake->epoll = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event readable = {.events = EPOLLIN, .data.fd = wake->fd};
  if (wake->epoll < 0 || epoll_ctl(wake->epoll, EPOLL_CTL_ADD, wake->fd, &readable) != 0) fail("epoll");
}

static void send_wake(const wake_socket *wake) {
  static const char byte = 1;
  sendto(wake->fd, &byte, 1, MSG_DONTWAIT, (const struct sockaddr *)&wake->peer, wake->peer_length);
}

/*
 * As libuv waits in Node: Node has it measure the loop's idle time
 * (UV_METRICS_IDLE_TIME), so each poll that would sleep is first made with a
 * zero timeout; the second waits up to the nearest timer, next()'s 10 ms
 * check. Then the wake byte is read.
 */
static void await_wake(const wake_socket *wake) {
  struct epoll_event ready;
  char byte;
  if (epoll_wait(wake->epoll, &ready, 1, 0) == 0) epoll_wait(wake->epoll, &ready, 1, 10);
  recv(wake->fd, &byte, 1, MSG_DONTWAIT);
}

/* Bare modes: the initiator makes the turn odd, the echo makes it even. */
static void pass_turn(session *s, uint32_t value) {
  __atomic_store_n(&s->control->turn, value, __ATOMIC_SEQ_CST);
  if (s->socket) {
    send_wake(&s->wake);
  } else if (!s->spin) {
    futex_wake_all(&s->control->turn);
  }
}

static void await_turn(session *s, uint32_t value) {
  for (;;) {
    uint32_t seen = __atomic_load_n(&s->control->turn, __ATOMIC_SEQ_CST);
    if (seen == value) return;
    if (s->spin) {
      cpu_relax();
    } else if (s->socket) {
      await_wake(&s->wake);
    } else {
      futex_wait(&s->control->turn, seen);
    }
  }
}

/* Protocol modes: one hop is a write of `to`, and the other side's wait and safe read. */
static void send_frame(session *s, shm_stream *to) {
  stream_write(to, s->frame, s->pid);
  if (!s->socket) {
    stream_notify(to);
    return;
  }
  /* seq_cst: pairs with the reader's registration in stream_wait_socket. */
  __atomic_fetch_add(to->notify, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(to->waiters, __ATOMIC_SEQ_CST) != 0) send_wake(&s->wake);
}

/*
 * next()'s wait: registered as waiting before the count is checked (seq_cst,
 * pairs with send_frame's notify and waiters), so that either the writer sees
 * the registration and sends, or this side sees the new count. A byte that
 * arrives after the count was seen changed is read by a later wait, which
 * then finds the count unchanged and waits again, as next() does.
 */
static double stream_wait_socket(session *s, shm_stream *stream, double last_count) {
  for (;;) {
    __atomic_fetch_add(stream->waiters, 1, __ATOMIC_SEQ_CST);
    double count = load_field(stream->meta, FIELD_COUNT, __ATOMIC_SEQ_CST);
    if (count == last_count) await_wake(&s->wake);
    __atomic_fetch_sub(stream->waiters, 1, __ATOMIC_SEQ_CST);
    if (count != last_count) return count;
    count = load_field(stream->meta, FIELD_COUNT, __ATOMIC_ACQUIRE);
    if (count != last_count) return count;
  }
}

static double receive_frame(session *s, shm_stream *from, double last_count) {
  double count = s->spin     ? stream_wait_spinning(from, last_count)
                 : s->socket ? stream_wait_socket(s, from, last_count)
                             : stream_wait_sleeping(from, last_count);
  stream_read(from, s->received);
  return count;
}

static void run_echo(void *state) {
  session *s = state;
  double last_ping = 0;
  for (uint32_t round = 1;; round++) {
    if (s->protocol) last_ping = receive_frame(s, &s->ping, last_ping);
    else await_turn(s, 2 * round - 1);
    if (__atomic_load_n(&s->control->stop, __ATOMIC_SEQ_CST)) return;
    if (s->protocol) send_frame(s, &s->pong);
    else pass_turn(s, 2 * round);
  }
}

static double one_round_trip_us(void *state, uint32_t round) {
  session *s = state;
  int64_t start = monotonic_ns();
  if (s->protocol) {
    send_frame(s, &s->ping);
    s->last_pong = receive_frame(s, &s->pong, s->last_pong);
  } else {
    pass_turn(s, 2 * round - 1);
    await_turn(s, 2 * round);
  }
  return (double)(monotonic_ns() - start) * 1e-3;
}

/* This side's wake socket and lock descriptors, in either process. */
static void prepare_side(session *s, const char *side, const char *other) {
  s->pid = (double)getpid();
  if (s->socket) open_wake_socket(&s->wake, s->parent, side, other);
  if (!s->protocol) return;
  stream_open_lock(&s->ping);
  stream_open_lock(&s->pong);
}

static void prepare_echo(void *state) { prepare_side(state, "echo", "initiator"); }

int main(int argc, char **argv) {
  end_with_parent();
  if (argc != 8) {
    fprintf(stderr, "usage: %s bare-futex|bare-socket|bare-spin|protocol-futex|protocol-socket|protocol-spin BYTES SECONDS WARMUP_SECONDS INITIATOR_CPU ECHO_CPU LOCK_DIR\n",
            argv[0]);
    return 2;
  }
  session s = {0};
  s.protocol = strncmp(argv[1], "protocol", 8) == 0;
  s.spin = strstr(argv[1], "spin") != NULL;
  s.socket = strstr(argv[1], "socket") != NULL;
  size_t bytes = strtoull(argv[2], NULL, 10);
  s.control = mmap(NULL, sizeof *s.control, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (s.control == MAP_FAILED) fail("mmap");
  s.frame = malloc(bytes);
  s.received = malloc(bytes);
  if (s.frame == NULL || s.received == NULL) fail("malloc");
  memset(s.frame, 1, bytes);
  memset(s.received, 0, bytes);
  if (s.protocol) {
    stream_create(&s.ping, argv[7], "ping", bytes);
    stream_create(&s.pong, argv[7], "pong", bytes);
  }

  s.parent = getpid();
  pid_t echo = start_echo(atoi(argv[6]), prepare_echo, run_echo, &s, &s.control->echo_ready);
  run_on_cpu(atoi(argv[5]));
  prepare_side(&s, "initiator", "echo");
  await_echo(&s.control->echo_ready);
  if (s.protocol) {
    stream_unlink(&s.ping);
    stream_unlink(&s.pong);
  }

  size_t count = 0;
  uint32_t next_round = 0;
  double *samples = collect_round_trips(one_round_trip_us, &s, atof(argv[3]), atof(argv[4]), &count, &next_round);
  __atomic_store_n(&s.control->stop, 1, __ATOMIC_SEQ_CST);
  if (s.protocol) send_frame(&s, &s.ping);
  else pass_turn(&s, 2 * next_round - 1);
  finish_latency(echo, samples, count);
  return 0;
}
