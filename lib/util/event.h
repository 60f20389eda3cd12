/*
 * An epoll event loop with descriptor callbacks and one-shot timers, for
 * daemons that serve many peers in one process. Single-threaded. Callbacks
 * may add or remove descriptors and timers (including their own) freely.
 */
#ifndef POSTERN_UTIL_EVENT_H
#define POSTERN_UTIL_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#define EVENT_READ 0x1
#define EVENT_WRITE 0x2
/* Reported (never requested) when the peer hung up or the descriptor failed. */
#define EVENT_ERROR 0x4
/* With event_add_fd on a listening socket that several processes watch:
 * wake only one of them per connection (EPOLLEXCLUSIVE), not all. Such a
 * watch cannot be changed with event_modify_fd; add it again instead. */
#define EVENT_EXCLUSIVE 0x8

struct event_loop;
struct event_timer;

typedef void event_fd_cb(struct event_loop *loop, int fd, int events, void *ctx);
typedef void event_timer_cb(struct event_loop *loop, void *ctx);

struct event_loop *event_loop_new(void);
void event_loop_free(struct event_loop *loop);

/* Watch fd for events (EVENT_READ|EVENT_WRITE); replaces an earlier watch of fd. */
void event_add_fd(struct event_loop *loop, int fd, int events, event_fd_cb *cb, void *ctx);
/* Change the events watched for an fd already added. */
void event_modify_fd(struct event_loop *loop, int fd, int events);
/* Stop watching fd (call before closing it); unknown fds are ignored. */
void event_del_fd(struct event_loop *loop, int fd);

/* Call cb once after delay_ms; the handle is valid until it fires or is cancelled. */
struct event_timer *event_add_timer(struct event_loop *loop, int64_t delay_ms, event_timer_cb *cb,
                                    void *ctx);
void event_cancel_timer(struct event_loop *loop, struct event_timer *timer);

/* Monotonic milliseconds. */
int64_t event_now_ms(void);

/* Wait at most max_wait_ms (-1: until something happens) and dispatch once.
 * Returns the number of callbacks run, or -1 with errno on a failed wait
 * (EINTR is not a failure: 0 is returned). */
int event_loop_once(struct event_loop *loop, int max_wait_ms);
/* Dispatch until event_loop_stop() is called. */
void event_loop_run(struct event_loop *loop);
void event_loop_stop(struct event_loop *loop);

#endif
