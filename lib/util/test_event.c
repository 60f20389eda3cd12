/*
 * Unit tests for event.c: descriptor readiness, timer order and
 * cancellation, changes made from inside callbacks (no stale dispatch),
 * and stopping the loop.
 */
#include "util/event.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/testing.h"

#define MAX_LOG 32

/* What the callbacks saw, in order. */
struct log {
	int entries[MAX_LOG];
	int count;
	int events[MAX_LOG];
};

static void log_add(struct log *log, int what, int events)
{
	if (log->count < MAX_LOG) {
		log->events[log->count] = events;
		log->entries[log->count] = what;
	}
	log->count++;
}

struct fd_ctx {
	struct log *log;
	int id;
};

static void on_fd(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)fd;
	struct fd_ctx *c = ctx;
	log_add(c->log, c->id, events);
}

/* Dispatch until the log has want entries or 2 s pass. */
static void run_until(struct event_loop *loop, struct log *log, int want)
{
	int64_t deadline = event_now_ms() + 2000;
	while (log->count < want && event_now_ms() < deadline)
		event_loop_once(loop, 100);
}

TEST(fd_readiness)
{
	struct event_loop *loop = event_loop_new();
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	struct log log = {0};
	struct fd_ctx rd = {&log, 1}, wr = {&log, 2};
	event_add_fd(loop, p[0], EVENT_READ, on_fd, &rd);
	CHECK(event_loop_once(loop, 0) == 0);
	CHECK(event_loop_once(loop, 20) == 0);
	CHECK(log.count == 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(event_loop_once(loop, 1000) == 1);
	CHECK(log.count == 1 && log.entries[0] == 1 && log.events[0] == EVENT_READ);
	/* Level-triggered: still readable until read. */
	CHECK(event_loop_once(loop, 0) == 1);
	char c;
	CHECK(read(p[0], &c, 1) == 1);
	CHECK(event_loop_once(loop, 0) == 0);

	/* The write end is writable at once; after a change to EVENT_READ, silent. */
	log.count = 0;
	event_add_fd(loop, p[1], EVENT_WRITE, on_fd, &wr);
	CHECK(event_loop_once(loop, 1000) == 1);
	CHECK(log.count == 1 && log.entries[0] == 2 && log.events[0] == EVENT_WRITE);
	event_modify_fd(loop, p[1], EVENT_READ);
	CHECK(event_loop_once(loop, 0) == 0);
	event_modify_fd(loop, p[1], EVENT_WRITE);
	CHECK(event_loop_once(loop, 0) == 1);
	event_del_fd(loop, p[1]);
	CHECK(event_loop_once(loop, 0) == 0);

	/* Hang-up: reported as EVENT_ERROR, with EVENT_READ when reading. */
	log.count = 0;
	close(p[1]);
	CHECK(event_loop_once(loop, 1000) == 1);
	CHECK(log.count == 1 && log.entries[0] == 1);
	CHECK((log.events[0] & EVENT_ERROR) && (log.events[0] & EVENT_READ));
	event_del_fd(loop, p[0]);
	close(p[0]);

	/* Unknown or already removed descriptors are ignored. */
	event_del_fd(loop, p[0]);
	event_del_fd(loop, 1000);
	event_del_fd(loop, -1);
	event_modify_fd(loop, 999, EVENT_READ);
	CHECK(event_loop_once(loop, 0) == 0);
	event_loop_free(loop);
}

TEST(fd_replace_and_high_numbers)
{
	struct event_loop *loop = event_loop_new();
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	/* A descriptor number far above the initial table size. */
	int high = fcntl(p[0], F_DUPFD_CLOEXEC, 300);
	CHECK(high >= 300);
	struct log log = {0};
	struct fd_ctx first = {&log, 1}, second = {&log, 2};
	event_add_fd(loop, high, EVENT_READ, on_fd, &first);
	event_add_fd(loop, high, EVENT_READ, on_fd, &second); /* replaces */
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(event_loop_once(loop, 1000) == 1);
	CHECK(log.count == 1 && log.entries[0] == 2);
	/* Removed, then added again. */
	event_del_fd(loop, high);
	CHECK(event_loop_once(loop, 0) == 0);
	event_add_fd(loop, high, EVENT_READ, on_fd, &first);
	CHECK(event_loop_once(loop, 1000) == 1);
	CHECK(log.count == 2 && log.entries[1] == 1);
	event_del_fd(loop, high);
	close(high);
	close(p[0]);
	close(p[1]);
	event_loop_free(loop);
}

struct timer_ctx {
	struct log *log;
	int id;
	int64_t due;
	struct event_timer *other; /* cancelled by this timer's callback */
	struct event_timer **other_slot;
};

static void on_timer(struct event_loop *loop, void *ctx)
{
	struct timer_ctx *t = ctx;
	log_add(t->log, t->id, 0);
	/* Never early. */
	if (event_now_ms() < t->due)
		log_add(t->log, -100 - t->id, 0);
	if (t->other_slot && *t->other_slot) {
		event_cancel_timer(loop, *t->other_slot);
		*t->other_slot = NULL;
	}
}

TEST(timer_order)
{
	struct event_loop *loop = event_loop_new();
	struct log log = {0};
	int64_t delays[] = {60, 20, 40, 20, 0, 20, -5};
	int expect[] = {5, 7, 2, 4, 6, 3, 1};
	struct timer_ctx ctx[7];
	int64_t start = event_now_ms();
	for (int i = 0; i < 7; i++) {
		ctx[i] = (struct timer_ctx){&log, i + 1, start + (delays[i] > 0 ? delays[i] : 0),
		                            NULL, NULL};
		event_add_timer(loop, delays[i], on_timer, &ctx[i]);
	}
	run_until(loop, &log, 7);
	CHECK(log.count == 7);
	for (int i = 0; i < 7 && i < log.count; i++)
		CHECK(log.entries[i] == expect[i]);
	CHECK(event_now_ms() - start < 1000);
	event_loop_free(loop);
}

TEST(timer_waits)
{
	/* With nothing else to do, event_loop_once(-1) returns when a timer is due. */
	struct event_loop *loop = event_loop_new();
	struct log log = {0};
	int64_t start = event_now_ms();
	struct timer_ctx t = {&log, 1, start + 50, NULL, NULL};
	event_add_timer(loop, 50, on_timer, &t);
	int ran = 0;
	for (int i = 0; i < 10 && ran == 0; i++)
		ran = event_loop_once(loop, -1);
	CHECK(ran == 1);
	CHECK(log.count == 1 && log.entries[0] == 1);
	int64_t took = event_now_ms() - start;
	CHECK(took >= 50 && took < 1000);
	/* A short max_wait_ms returns before a later timer. */
	event_add_timer(loop, 5000, on_timer, &t);
	start = event_now_ms();
	CHECK(event_loop_once(loop, 20) == 0);
	CHECK(event_now_ms() - start < 1000);
	event_loop_free(loop); /* frees the pending timer */
}

TEST(timer_cancel)
{
	struct event_loop *loop = event_loop_new();
	struct log log = {0};
	int64_t now = event_now_ms();
	struct timer_ctx a = {&log, 1, now + 10, NULL, NULL}, b = {&log, 2, now + 20, NULL, NULL},
	                 c = {&log, 3, now + 30, NULL, NULL};
	struct event_timer *ta = event_add_timer(loop, 10, on_timer, &a);
	struct event_timer *tb = event_add_timer(loop, 20, on_timer, &b);
	event_add_timer(loop, 30, on_timer, &c);
	(void)ta;
	event_cancel_timer(loop, tb);
	event_cancel_timer(loop, NULL);
	run_until(loop, &log, 2);
	CHECK(event_loop_once(loop, 50) == 0);
	CHECK(log.count == 2 && log.entries[0] == 1 && log.entries[1] == 3);

	/* Many timers, cancelled in a scattered order: the heap stays ordered. */
	log.count = 0;
	struct timer_ctx many[20];
	struct event_timer *handles[20];
	for (int i = 0; i < 20; i++) {
		int delay = (i * 7) % 20;
		/* The clock as the timer is added: on a busy machine the adds
		 * may be milliseconds apart. */
		many[i] = (struct timer_ctx){&log, i, event_now_ms() + delay, NULL, NULL};
		handles[i] = event_add_timer(loop, delay, on_timer, &many[i]);
	}
	for (int i = 0; i < 20; i += 3)
		event_cancel_timer(loop, handles[i]);
	run_until(loop, &log, 13);
	CHECK(event_loop_once(loop, 30) == 0);
	CHECK(log.count == 13);
	int64_t last_due = -1;
	for (int i = 0; i < log.count && i < MAX_LOG; i++) {
		int id = log.entries[i];
		CHECK(id >= 0 && id < 20 && id % 3 != 0);
		if (id >= 0 && id < 20) {
			/* In due order, give or take the clock tick between reading it
			 * above and event_add_timer reading it. */
			CHECK(many[id].due >= last_due - 1);
			last_due = many[id].due;
		}
	}
	event_loop_free(loop);
}

TEST(timer_cancel_from_callback)
{
	struct event_loop *loop = event_loop_new();
	struct log log = {0};
	int64_t now = event_now_ms();
	/* Both due in the same round: the first cancels the second. */
	struct event_timer *second = NULL, *later = NULL;
	struct timer_ctx a = {&log, 1, now + 10, NULL, &second};
	struct timer_ctx b = {&log, 2, now + 10, NULL, NULL};
	event_add_timer(loop, 10, on_timer, &a);
	second = event_add_timer(loop, 10, on_timer, &b);
	/* And one that is due later, cancelled by a third timer. */
	struct timer_ctx c = {&log, 3, now + 20, NULL, &later};
	struct timer_ctx d = {&log, 4, now + 40, NULL, NULL};
	later = event_add_timer(loop, 40, on_timer, &d);
	event_add_timer(loop, 20, on_timer, &c);
	run_until(loop, &log, 2);
	CHECK(event_loop_once(loop, 60) == 0);
	CHECK(log.count == 2 && log.entries[0] == 1 && log.entries[1] == 3);
	CHECK(second == NULL && later == NULL);
	event_loop_free(loop);
}

/* A timer that adds itself again with no delay. */
struct rearm {
	int runs;
	int limit;
};

static void on_rearm(struct event_loop *loop, void *ctx)
{
	struct rearm *r = ctx;
	if (++r->runs < r->limit)
		event_add_timer(loop, 0, on_rearm, r);
}

TEST(timer_rearm_does_not_starve)
{
	struct event_loop *loop = event_loop_new();
	struct rearm r = {0, 100000};
	event_add_timer(loop, 0, on_rearm, &r);
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	struct log log = {0};
	struct fd_ctx rd = {&log, 1};
	event_add_fd(loop, p[0], EVENT_READ, on_fd, &rd);
	CHECK(write(p[1], "x", 1) == 1);
	/* Each round runs the timer once, and the descriptor gets its turn. */
	CHECK(event_loop_once(loop, 0) == 2);
	CHECK(r.runs == 1 && log.count == 1);
	CHECK(event_loop_once(loop, 0) == 2);
	CHECK(r.runs == 2 && log.count == 2);
	event_del_fd(loop, p[0]);
	close(p[0]);
	close(p[1]);
	event_loop_free(loop);
}

/* Two ready descriptors: whichever runs first removes the other, closes
 * it, and puts a new descriptor with another callback in its place (the
 * number is reused). The event already fetched for the old one must not
 * reach either callback. */
struct race {
	struct event_loop *loop;
	int fds[2][2]; /* two pipes */
	int calls;
	int stale_calls;
	int replaced_fd;
	int new_pipe[2];
};

static void on_stale(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)fd;
	(void)events;
	struct race *r = ctx;
	r->stale_calls++;
}

static void on_race(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)events;
	struct race *r = ctx;
	r->calls++;
	int which = fd == r->fds[0][0] ? 0 : 1;
	int other = 1 - which;
	if (r->replaced_fd >= 0)
		return;
	int victim = r->fds[other][0];
	event_del_fd(loop, victim);
	close(victim);
	close(r->fds[other][1]);
	/* The lowest free numbers are the two just closed. */
	CHECK(pipe2(r->new_pipe, O_CLOEXEC) == 0);
	r->replaced_fd = victim;
	/* Make the new descriptor readable too, under the old number if it got it. */
	CHECK(write(r->new_pipe[1], "y", 1) == 1);
	int reader = r->new_pipe[0] == victim ? r->new_pipe[0] : r->new_pipe[1];
	event_add_fd(loop, reader, r->new_pipe[0] == victim ? EVENT_READ : EVENT_WRITE, on_stale,
	             r);
}

TEST(delete_in_same_batch)
{
	struct race r = {.loop = event_loop_new(), .replaced_fd = -1};
	CHECK(pipe2(r.fds[0], O_CLOEXEC) == 0);
	CHECK(pipe2(r.fds[1], O_CLOEXEC) == 0);
	event_add_fd(r.loop, r.fds[0][0], EVENT_READ, on_race, &r);
	event_add_fd(r.loop, r.fds[1][0], EVENT_READ, on_race, &r);
	CHECK(write(r.fds[0][1], "x", 1) == 1);
	CHECK(write(r.fds[1][1], "x", 1) == 1);
	/* Both are ready before the wait, so one epoll_wait returns both. */
	CHECK(event_loop_once(r.loop, 1000) == 1);
	CHECK(r.calls == 1);
	CHECK(r.stale_calls == 0);
	/* The new registration works normally in the next round. */
	CHECK(event_loop_once(r.loop, 1000) >= 1);
	CHECK(r.stale_calls == 1);
	CHECK(r.calls >= 1);
	int survivor = r.replaced_fd == r.fds[0][0] ? 1 : 0;
	event_del_fd(r.loop, r.fds[survivor][0]);
	event_del_fd(r.loop, r.new_pipe[0]);
	event_del_fd(r.loop, r.new_pipe[1]);
	close(r.fds[survivor][0]);
	close(r.fds[survivor][1]);
	close(r.new_pipe[0]);
	close(r.new_pipe[1]);
	event_loop_free(r.loop);
}

/* A callback that removes its own descriptor and closes it. */
static void on_self_delete(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)events;
	int *calls = ctx;
	(*calls)++;
	event_del_fd(loop, fd);
	close(fd);
}

TEST(delete_self)
{
	struct event_loop *loop = event_loop_new();
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	int calls = 0;
	event_add_fd(loop, p[0], EVENT_READ, on_self_delete, &calls);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(event_loop_once(loop, 1000) == 1);
	CHECK(event_loop_once(loop, 20) == 0);
	CHECK(calls == 1);
	close(p[1]);
	event_loop_free(loop);
}

static void on_stop_timer(struct event_loop *loop, void *ctx)
{
	int *n = ctx;
	(*n)++;
	event_loop_stop(loop);
}

static void on_stop_fd(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)events;
	int *n = ctx;
	(*n)++;
	char c;
	if (read(fd, &c, 1) != 1)
		(*n) += 100;
	event_loop_stop(loop);
}

static void on_count(struct event_loop *loop, void *ctx)
{
	(void)loop;
	int *n = ctx;
	(*n)++;
}

TEST(loop_stop)
{
	alarm(10); /* event_loop_run() must return */
	struct event_loop *loop = event_loop_new();
	int stops = 0, before = 0, after = 0;
	int64_t start = event_now_ms();
	event_add_timer(loop, 10, on_count, &before);
	event_add_timer(loop, 30, on_stop_timer, &stops);
	event_add_timer(loop, 3000, on_count, &after);
	event_loop_run(loop);
	CHECK(stops == 1 && before == 1 && after == 0);
	int64_t took = event_now_ms() - start;
	CHECK(took >= 30 && took < 1000);

	/* Stopped from a descriptor callback; the loop can run again. */
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	int fd_stops = 0;
	event_add_fd(loop, p[0], EVENT_READ, on_stop_fd, &fd_stops);
	CHECK(write(p[1], "x", 1) == 1);
	event_loop_run(loop);
	CHECK(fd_stops == 1);
	CHECK(after == 0);
	event_del_fd(loop, p[0]);
	close(p[0]);
	close(p[1]);
	event_loop_free(loop);
	alarm(0);
}

int main(void)
{
	RUN(fd_readiness);
	RUN(fd_replace_and_high_numbers);
	RUN(timer_order);
	RUN(timer_waits);
	RUN(timer_cancel);
	RUN(timer_cancel_from_callback);
	RUN(timer_rearm_does_not_starve);
	RUN(delete_in_same_batch);
	RUN(delete_self);
	RUN(loop_stop);
	return TESTING_DONE();
}
