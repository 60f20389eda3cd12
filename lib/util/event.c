/*
 * The epoll event loop: descriptor callbacks and one-shot timers in a
 * binary heap. A registration carries a generation number, so an event
 * for a descriptor that a callback removed (or replaced) in the same batch
 * is dropped instead of dispatched.
 */
#include "util/event.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

struct fd_watch {
	bool active;
	int events;
	uint32_t generation;
	event_fd_cb *cb;
	void *ctx;
};

struct event_timer {
	int64_t when;
	uint64_t seq; /* equal times fire in the order added */
	size_t index; /* position in the heap */
	event_timer_cb *cb;
	void *ctx;
};

struct event_loop {
	int epfd;
	struct fd_watch *fds;
	size_t fd_cap;
	struct event_timer **heap;
	size_t heap_len;
	size_t heap_cap;
	uint64_t timer_seq;
	bool stop;
};

int64_t event_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct event_loop *event_loop_new(void)
{
	struct event_loop *loop = xcalloc(1, sizeof(*loop));
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		abort();
	return loop;
}

void event_loop_free(struct event_loop *loop)
{
	if (loop == NULL)
		return;
	close(loop->epfd);
	for (size_t i = 0; i < loop->heap_len; i++)
		free(loop->heap[i]);
	free(loop->heap);
	free(loop->fds);
	free(loop);
}

static struct fd_watch *watch_for(struct event_loop *loop, int fd)
{
	if ((size_t)fd >= loop->fd_cap) {
		size_t cap = loop->fd_cap ? loop->fd_cap : 64;
		while (cap <= (size_t)fd)
			cap *= 2;
		loop->fds = xreallocarray(loop->fds, cap, sizeof(*loop->fds));
		memset(loop->fds + loop->fd_cap, 0, (cap - loop->fd_cap) * sizeof(*loop->fds));
		loop->fd_cap = cap;
	}
	return &loop->fds[fd];
}

static uint32_t epoll_mask(int events)
{
	return (events & EVENT_READ ? EPOLLIN : 0) | (events & EVENT_WRITE ? EPOLLOUT : 0);
}

static uint64_t pack(int fd, uint32_t generation)
{
	return (uint64_t)generation << 32 | (uint32_t)fd;
}

/* The watch of a descriptor already known to the loop, or NULL. */
static struct fd_watch *find_watch(struct event_loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->fd_cap || !loop->fds[fd].active)
		return NULL;
	return &loop->fds[fd];
}

void event_add_fd(struct event_loop *loop, int fd, int events, event_fd_cb *cb, void *ctx)
{
	if (fd < 0)
		abort(); /* a caller's bug */
	struct fd_watch *w = watch_for(loop, fd);
	bool was_active = w->active;
	w->active = true;
	w->events = events;
	w->generation++;
	w->cb = cb;
	w->ctx = ctx;
	struct epoll_event ev = {.events = epoll_mask(events), .data.u64 = pack(fd, w->generation)};
	if (events & EVENT_EXCLUSIVE) {
		/* EPOLLEXCLUSIVE is only allowed with EPOLL_CTL_ADD. */
		ev.events |= EPOLLEXCLUSIVE;
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
			abort();
		return;
	}
	if (epoll_ctl(loop->epfd, was_active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0 &&
	    epoll_ctl(loop->epfd, was_active ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) != 0)
		abort(); /* a bad descriptor here is a caller's bug */
}

void event_modify_fd(struct event_loop *loop, int fd, int events)
{
	struct fd_watch *w = find_watch(loop, fd);
	if (w == NULL)
		return;
	w->events = events;
	struct epoll_event ev = {.events = epoll_mask(events), .data.u64 = pack(fd, w->generation)};
	epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void event_del_fd(struct event_loop *loop, int fd)
{
	struct fd_watch *w = find_watch(loop, fd);
	if (w == NULL)
		return;
	/* A new generation makes any event already fetched for fd stale. */
	w->active = false;
	w->generation++;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static bool timer_before(const struct event_timer *a, const struct event_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_swap(struct event_loop *loop, size_t i, size_t j)
{
	struct event_timer *t = loop->heap[i];
	loop->heap[i] = loop->heap[j];
	loop->heap[j] = t;
	loop->heap[i]->index = i;
	loop->heap[j]->index = j;
}

static void heap_up(struct event_loop *loop, size_t i)
{
	while (i > 0 && timer_before(loop->heap[i], loop->heap[(i - 1) / 2])) {
		heap_swap(loop, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct event_loop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < loop->heap_len && timer_before(loop->heap[l], loop->heap[m]))
			m = l;
		if (r < loop->heap_len && timer_before(loop->heap[r], loop->heap[m]))
			m = r;
		if (m == i)
			return;
		heap_swap(loop, i, m);
		i = m;
	}
}

struct event_timer *event_add_timer(struct event_loop *loop, int64_t delay_ms, event_timer_cb *cb,
                                    void *ctx)
{
	struct event_timer *t = xcalloc(1, sizeof(*t));
	t->when = event_now_ms() + (delay_ms > 0 ? delay_ms : 0);
	t->seq = loop->timer_seq++;
	t->cb = cb;
	t->ctx = ctx;
	if (loop->heap_len == loop->heap_cap) {
		loop->heap_cap = loop->heap_cap ? loop->heap_cap * 2 : 16;
		loop->heap = xreallocarray(loop->heap, loop->heap_cap, sizeof(*loop->heap));
	}
	t->index = loop->heap_len;
	loop->heap[loop->heap_len++] = t;
	heap_up(loop, t->index);
	return t;
}

static void heap_remove(struct event_loop *loop, struct event_timer *t)
{
	size_t i = t->index;
	loop->heap_len--;
	if (i != loop->heap_len) {
		loop->heap[i] = loop->heap[loop->heap_len];
		loop->heap[i]->index = i;
		heap_up(loop, i);
		heap_down(loop, loop->heap[i]->index);
	}
}

void event_cancel_timer(struct event_loop *loop, struct event_timer *timer)
{
	if (timer == NULL)
		return;
	heap_remove(loop, timer);
	free(timer);
}

/* Run every timer that is due; returns how many ran. Timers that the
 * callbacks add wait for the next round, even with a zero delay, so a
 * timer that re-arms itself cannot starve the descriptors. */
static int run_timers(struct event_loop *loop)
{
	int ran = 0;
	int64_t now = event_now_ms();
	uint64_t first_new = loop->timer_seq;
	while (loop->heap_len > 0 && loop->heap[0]->when <= now) {
		struct event_timer *t = loop->heap[0];
		/* A timer added in this round is due no earlier than now and
		 * sorts after every older due timer, so stop at the first. */
		if (t->seq >= first_new)
			break;
		heap_remove(loop, t);
		event_timer_cb *cb = t->cb;
		void *ctx = t->ctx;
		free(t);
		cb(loop, ctx);
		ran++;
	}
	return ran;
}

int event_loop_once(struct event_loop *loop, int max_wait_ms)
{
	int timeout = max_wait_ms;
	if (loop->heap_len > 0) {
		int64_t left = loop->heap[0]->when - event_now_ms();
		if (left < 0)
			left = 0;
		if (timeout < 0 || left < timeout)
			timeout = left > 86400000 ? 86400000 : (int)left;
	}
	struct epoll_event events[64];
	int n = epoll_wait(loop->epfd, events, 64, timeout);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -1;
	}
	int ran = 0;
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)events[i].data.u64;
		uint32_t generation = (uint32_t)(events[i].data.u64 >> 32);
		if ((size_t)fd >= loop->fd_cap)
			continue;
		struct fd_watch *w = &loop->fds[fd];
		/* Removed or replaced by an earlier callback of this batch. */
		if (!w->active || w->generation != generation)
			continue;
		int what = 0;
		if (events[i].events & EPOLLIN)
			what |= EVENT_READ;
		if (events[i].events & EPOLLOUT)
			what |= EVENT_WRITE;
		if (events[i].events & (EPOLLERR | EPOLLHUP))
			what |= EVENT_ERROR | (w->events & EVENT_READ);
		w->cb(loop, fd, what, w->ctx);
		ran++;
	}
	return ran + run_timers(loop);
}

void event_loop_run(struct event_loop *loop)
{
	loop->stop = false;
	while (!loop->stop)
		if (event_loop_once(loop, -1) < 0)
			break;
}

void event_loop_stop(struct event_loop *loop)
{
	loop->stop = true;
}
