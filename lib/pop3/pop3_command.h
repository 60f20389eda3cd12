/*
 * POP3 command lines (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034
 * AUTH): a pure parser from one line, without its CRLF, to a verb and
 * checked arguments. It knows nothing of session state; the caller decides
 * whether a command is valid now. Error texts are meant for the client
 * (after "-ERR ").
 */
#ifndef POSTERN_POP3_POP3_COMMAND_H
#define POSTERN_POP3_POP3_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

/* Longest command line pop3d reads (RFC 2449 says 255 octets for commands;
 * AUTH initial responses need more). */
#define POP3_LINE_MAX 2048

enum pop3_verb {
	POP3_USER,
	POP3_PASS,
	POP3_AUTH,
	POP3_STLS,
	POP3_CAPA,
	POP3_QUIT,
	POP3_STAT,
	POP3_LIST,
	POP3_RETR,
	POP3_DELE,
	POP3_NOOP,
	POP3_RSET,
	POP3_TOP,
	POP3_UIDL,
	POP3_UNKNOWN,
};

struct pop3_command {
	enum pop3_verb verb;
	/* USER: the name; PASS: the password (may contain spaces); AUTH: the
	 * mechanism name ("" when none). Points into the parser's copy. */
	const char *arg;
	/* AUTH: the initial response, or NULL. */
	const char *initial;
	/* LIST, UIDL (optional), RETR, DELE, TOP: the message number (>= 1). */
	bool has_msg;
	unsigned long msg;
	/* TOP: number of body lines. */
	unsigned long lines;
	char *copy_; /* owned storage */
	size_t copy_len_;
};

/* Parse line (len bytes, no line end). 0 with *cmd filled (free with
 * pop3_command_free), or -1 with *error_r (static text) and nothing to
 * free. An unknown verb parses as POP3_UNKNOWN with 0. */
int pop3_command_parse(const char *line, size_t len, struct pop3_command *cmd,
                       const char **error_r);
void pop3_command_free(struct pop3_command *cmd);

/* The verb's name in upper case ("UNKNOWN" for POP3_UNKNOWN). */
const char *pop3_verb_name(enum pop3_verb verb);

#endif
