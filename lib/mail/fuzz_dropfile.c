/* Fuzz target: the maildrop file parser must reject any damaged input
 * safely and never accept an envelope that fails its own checks. The same
 * bytes go through drop_parse (in memory), drop_parse_head over every
 * prefix length it claims to need, and drop_read_fd (through a pipe), which
 * must agree with drop_parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/dropfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_envelope(const struct drop_envelope *env)
{
	const char *error = NULL;
	if (drop_envelope_check(env, &error) != 0 || env->rcpt_count == 0 || env->size < 0)
		abort();
}

/* 0 or -1 like drop_parse. */
static int parse_memory(const uint8_t *data, size_t size)
{
	struct drop_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	if (drop_parse(data, size, &env, &offset, &error) != 0) {
		if (error == NULL)
			abort();
		return -1;
	}
	check_envelope(&env);
	if ((uint64_t)offset + (uint64_t)env.size > size)
		abort();
	drop_envelope_free(&env);
	/* The head parser needs exactly the bytes up to the content. */
	if (drop_parse_head(data, offset, &env, &offset, &error) != 1)
		abort();
	drop_envelope_free(&env);
	if (drop_parse_head(data, offset - 1, &env, &offset, &error) != 0)
		abort();
	return 0;
}

static int count_content(void *ctx, const void *data, size_t len, const char **error_r)
{
	(void)data;
	(void)error_r;
	*(size_t *)ctx += len;
	return 0;
}

/* Small inputs only: a pipe holds 64 KiB without a second process. */
static int parse_pipe(const uint8_t *data, size_t size)
{
	int fds[2];
	if (size > 60000 || pipe(fds) != 0)
		return 1;
	if (size > 0 && write(fds[1], data, size) != (ssize_t)size)
		abort();
	close(fds[1]);
	struct drop_read_ops ops = {NULL, count_content};
	struct drop_envelope env;
	size_t seen = 0;
	const char *error = NULL;
	int rc = drop_read_fd(fds[0], 0, &ops, &seen, &env, &error);
	close(fds[0]);
	if (rc == DROP_READ_OK) {
		check_envelope(&env);
		if (seen != (size_t)env.size)
			abort();
		drop_envelope_free(&env);
		return 0;
	}
	if (rc != DROP_READ_BAD || error == NULL)
		abort();
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int in_memory = parse_memory(data, size);
	int piped = parse_pipe(data, size);
	if (piped != 1 && piped != in_memory)
		abort();
	return 0;
}
