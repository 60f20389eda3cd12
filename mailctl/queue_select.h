/*
 * Which queued messages a `mailctl queue` command applies to: queue ids
 * (or ALL) given as arguments, and the options --sender ADDR, --recipient
 * ADDR and --older-than DURATION. All that are given must match.
 */
#ifndef POSTERN_MAILCTL_QUEUE_SELECT_H
#define POSTERN_MAILCTL_QUEUE_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/queue.h"

struct queue_select {
	char **ids; /* upper-cased queue ids, NULL-terminated */
	size_t id_count;
	bool all;              /* "ALL" was given */
	const char *sender;    /* address, "@domain", or "<>" for the null sender */
	const char *recipient; /* address or "@domain" */
	int64_t older_than;    /* seconds; -1 if not given */
};

/* Parse argv[first..argc) into sel. 0, or -1 after printing the error.
 * An empty selection (no id, no ALL, no option) is allowed here; the
 * command decides what it means. */
int queue_select_parse(struct queue_select *sel, int argc, char **argv, int first);
void queue_select_free(struct queue_select *sel);
/* Anything selected at all (ids, ALL or an option). */
bool queue_select_given(const struct queue_select *sel);
/* Does the message name (queue file name) with envelope env match? A file
 * that failed validation (env NULL) matches only by id or ALL. */
bool queue_select_match(const struct queue_select *sel, const char *name,
                        const struct queue_envelope *env, int64_t now);
/* The usage text of the selection, for error messages. */
#define QUEUE_SELECT_USAGE "[ID...|ALL] [--sender ADDR] [--recipient ADDR] [--older-than AGE]"

#endif
