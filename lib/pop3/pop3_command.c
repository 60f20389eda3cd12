/*
 * The POP3 command parser (see pop3_command.h). Keywords are
 * case-insensitive and end at the first space; arguments are separated by
 * single or repeated spaces. Message numbers are plain decimal digits
 * without sign, at least 1, with overflow checked.
 */
#include "pop3/pop3_command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

static const char *const verb_names[] = {
    [POP3_USER] = "USER", [POP3_PASS] = "PASS", [POP3_AUTH] = "AUTH",       [POP3_STLS] = "STLS",
    [POP3_CAPA] = "CAPA", [POP3_QUIT] = "QUIT", [POP3_STAT] = "STAT",       [POP3_LIST] = "LIST",
    [POP3_RETR] = "RETR", [POP3_DELE] = "DELE", [POP3_NOOP] = "NOOP",       [POP3_RSET] = "RSET",
    [POP3_TOP] = "TOP",   [POP3_UIDL] = "UIDL", [POP3_UNKNOWN] = "UNKNOWN",
};

const char *pop3_verb_name(enum pop3_verb verb)
{
	return verb_names[verb];
}

/* Largest message number or line count accepted. */
#define POP3_NUMBER_MAX 4000000000UL

/* A decimal number; -1 if not one (or too large). */
static int parse_number(const char *s, unsigned long *n_r)
{
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long n = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (unsigned long)(*s - '0');
		if (n > POP3_NUMBER_MAX)
			return -1;
	}
	*n_r = n;
	return 0;
}

/* Split off the next space-separated word; NULL when none is left. */
static char *next_word(char **p)
{
	char *s = *p;
	while (*s == ' ')
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	char *word = s;
	while (*s && *s != ' ')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return word;
}

static bool only_spaces(const char *s)
{
	while (*s == ' ')
		s++;
	return *s == '\0';
}

static int parse_msg(char **rest, struct pop3_command *cmd, bool optional, const char **error_r)
{
	char *word = next_word(rest);
	if (word == NULL) {
		if (optional)
			return 0;
		*error_r = "message number required";
		return -1;
	}
	if (parse_number(word, &cmd->msg) != 0 || cmd->msg == 0) {
		*error_r = "invalid message number";
		return -1;
	}
	cmd->has_msg = true;
	return 0;
}

static int parse_args(struct pop3_command *cmd, char *rest, const char **error_r)
{
	switch (cmd->verb) {
	case POP3_USER:
		while (*rest == ' ')
			rest++;
		if (*rest == '\0') {
			*error_r = "USER needs a user name";
			return -1;
		}
		/* Trailing spaces are not part of the name. */
		for (size_t n = strlen(rest); n > 0 && rest[n - 1] == ' '; n--)
			rest[n - 1] = '\0';
		cmd->arg = rest;
		return 0;
	case POP3_PASS:
		/* RFC 1939: the password is the rest of the line, spaces included. */
		if (*rest == '\0') {
			*error_r = "PASS needs a password";
			return -1;
		}
		cmd->arg = rest;
		return 0;
	case POP3_AUTH: {
		char *mech = next_word(&rest);
		cmd->arg = mech ? mech : "";
		cmd->initial = next_word(&rest);
		if (!only_spaces(rest)) {
			*error_r = "too many arguments to AUTH";
			return -1;
		}
		return 0;
	}
	case POP3_LIST:
	case POP3_UIDL:
		if (parse_msg(&rest, cmd, true, error_r) != 0)
			return -1;
		break;
	case POP3_RETR:
	case POP3_DELE:
		if (parse_msg(&rest, cmd, false, error_r) != 0)
			return -1;
		break;
	case POP3_TOP: {
		if (parse_msg(&rest, cmd, false, error_r) != 0)
			return -1;
		char *word = next_word(&rest);
		if (word == NULL) {
			*error_r = "TOP needs a message number and a line count";
			return -1;
		}
		if (parse_number(word, &cmd->lines) != 0) {
			*error_r = "invalid line count";
			return -1;
		}
		break;
	}
	case POP3_UNKNOWN:
		return 0;
	default:
		break;
	}
	if (!only_spaces(rest)) {
		*error_r = "too many arguments";
		return -1;
	}
	return 0;
}

int pop3_command_parse(const char *line, size_t len, struct pop3_command *cmd, const char **error_r)
{
	memset(cmd, 0, sizeof(*cmd));
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL character in command";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 && c != '\t') {
			*error_r = "control character in command";
			return -1;
		}
	}
	if (len > POP3_LINE_MAX) {
		*error_r = "command line too long";
		return -1;
	}
	char *copy = xstrndup(line, len);
	char *rest = copy;
	size_t klen = strcspn(rest, " ");
	if (klen == 0) {
		free(copy);
		*error_r = "no command";
		return -1;
	}
	cmd->verb = POP3_UNKNOWN;
	for (int v = 0; v < POP3_UNKNOWN; v++) {
		if (strlen(verb_names[v]) == klen && strncasecmp(rest, verb_names[v], klen) == 0) {
			cmd->verb = (enum pop3_verb)v;
			break;
		}
	}
	rest += klen;
	/* One space separates the keyword from its arguments. */
	if (*rest == ' ')
		rest++;
	cmd->copy_ = copy;
	cmd->copy_len_ = len;
	if (parse_args(cmd, rest, error_r) != 0) {
		explicit_bzero(copy, len);
		free(copy);
		memset(cmd, 0, sizeof(*cmd));
		return -1;
	}
	return 0;
}

void pop3_command_free(struct pop3_command *cmd)
{
	if (cmd->copy_) {
		/* It may hold a password. */
		explicit_bzero(cmd->copy_, cmd->copy_len_);
		free(cmd->copy_);
	}
	memset(cmd, 0, sizeof(*cmd));
}
