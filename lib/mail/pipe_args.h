/*
 * The pipe delivery agent's master.conf arguments and its argv macros, as
 * Postfix's pipe(8) has them:
 *   flags=BDFORXhqu.>  user=NAME[:GROUP]  size=BYTES  eol=STRING
 *   directory=PATH  null_sender=ADDRESS  argv=COMMAND ARGS...
 * argv= takes the rest of the line; user= and argv= are required. eol=
 * understands the C escapes \r \n \t \\ \ooo. In argv the macros
 * ${client_address} ${client_helo} ${client_hostname} ${client_port}
 * ${client_protocol} ${domain} ${extension} ${mailbox} ${nexthop}
 * ${original_recipient} ${queue_id} ${recipient} ${sasl_method}
 * ${sasl_sender} ${sasl_username} ${sender} ${size} ${user} (also as
 * $name, ${name?text}, ${name:text}) and $$ are expanded; an argument
 * that refers to a per-recipient macro (recipient, original_recipient,
 * user, extension, mailbox, domain) becomes one argument per recipient.
 * An unknown macro is an error, found when the arguments are parsed.
 * Pure functions over strings: pipe/ and mailctl check use them.
 */
#ifndef POSTERN_MAIL_PIPE_ARGS_H
#define POSTERN_MAIL_PIPE_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

enum {
	PIPE_FLAG_BLANK = 1 << 0,        /* B: a blank line after the message */
	PIPE_FLAG_DELIVERED_TO = 1 << 1, /* D: Delivered-To: recipient */
	PIPE_FLAG_FROM_LINE = 1 << 2,    /* F: a "From sender date" line */
	PIPE_FLAG_ORIGINAL_TO = 1 << 3,  /* O: X-Original-To: original recipient */
	PIPE_FLAG_RETURN_PATH = 1 << 4,  /* R: Return-Path: <sender> */
	PIPE_FLAG_FINAL = 1 << 5,        /* X: final delivery (DSN "delivered") */
	PIPE_FLAG_FOLD_HOST = 1 << 6,    /* h: lower-case domains and next hop */
	PIPE_FLAG_QUOTE = 1 << 7,        /* q: quote local parts as RFC 5322 */
	PIPE_FLAG_FOLD_USER = 1 << 8,    /* u: lower-case local parts */
	PIPE_FLAG_DOT_STUFF = 1 << 9,    /* .: a '.' before lines starting with '.' */
	PIPE_FLAG_QUOTE_FROM = 1 << 10,  /* >: a '>' before lines starting with "From " */
};

struct pipe_args {
	char *user;  /* "name" or "name:group" */
	char **argv; /* NULL-terminated, macros not yet expanded */
	size_t argc;
	unsigned flags;       /* PIPE_FLAG_* */
	long long size_limit; /* bytes; 0: none */
	char *eol;            /* line end, escapes decoded (default "\n") */
	char *directory;      /* working directory (default: none given) */
	char *null_sender;    /* ${sender} of the null sender (default MAILER-DAEMON) */
};

/* Parse the arguments after the program name (args[0..argc)). 0, or -1
 * with the problem in error (pa is then freed). */
int pipe_args_parse(char *const *args, size_t argc, struct pipe_args *pa, struct str *error);
void pipe_args_free(struct pipe_args *pa);

/* The values of the macros of one delivery. NULL is empty. */
struct pipe_message_values {
	const char *sender; /* the envelope sender, "" for the null sender */
	const char *nexthop;
	const char *queue_id;
	const char *size;
	const char *client_address, *client_helo, *client_hostname, *client_port, *client_protocol;
	const char *sasl_method, *sasl_sender, *sasl_username;
};
struct pipe_recipient_values {
	char *recipient; /* the whole address (after the h, u, q flags) */
	char *original_recipient;
	char *mailbox;   /* the local part */
	char *user;      /* the local part without its extension */
	char *extension; /* "" for none */
	char *domain;    /* "" for none */
};

/* The values of address (original: its original recipient, NULL: the
 * same) under flags, with recipient_delimiter delimiters. */
void pipe_recipient_values(const char *address, const char *original, const char *delimiters,
                           unsigned flags, struct pipe_recipient_values *rv);
void pipe_recipient_values_free(struct pipe_recipient_values *rv);

/* The command's argv (NULL-terminated, fresh strings: free each and the
 * array) for the recipients rcpts[0..count) of one delivery. 0, or -1
 * with the problem in error. */
int pipe_argv_expand(const struct pipe_args *pa, const struct pipe_message_values *mv,
                     const struct pipe_recipient_values *rcpts, size_t count, char ***argv_r,
                     struct str *error);

#endif
