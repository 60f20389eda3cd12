/* Fuzz target: the queue file reader must reject any damaged input safely.
 * queue_file_parse_envelope over the bytes (and over the prefix it claims
 * to need), then queue_file_read over the same bytes written to a file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_envelope(const struct queue_envelope *env)
{
	const char *strings[] = {env->sender,      env->envid,       env->ret,         env->body,
	                         env->client_name, env->client_addr, env->client_port, env->helo,
	                         env->protocol,    env->tls,         env->auth_user,   env->origin};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (strings[i] == NULL)
			abort();
	if (!queue_id_valid(env->id) || env->rcpt_count == 0 || env->size < 0)
		abort();
	for (size_t i = 0; i < env->rcpt_count; i++)
		if (env->rcpts[i].address[0] == '\0' || env->rcpts[i].orcpt == NULL ||
		    env->rcpts[i].notify == NULL)
			abort();
}

static void parse_bytes(const uint8_t *data, size_t size)
{
	struct queue_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	int rc = queue_file_parse_envelope(data, size, &env, &offset, &error);
	if (rc == -1 && error == NULL)
		abort();
	if (rc != 1)
		return;
	check_envelope(&env);
	if (offset > size)
		abort();
	queue_envelope_free(&env);
	/* Exactly the bytes up to the content are enough, and one fewer is not. */
	if (queue_file_parse_envelope(data, offset, &env, &offset, &error) != 1)
		abort();
	queue_envelope_free(&env);
	if (queue_file_parse_envelope(data, offset - 1, &env, &offset, &error) != 0)
		abort();
}

static char scratch_path[] = "/tmp/fuzz_queue_file.XXXXXX";

static void remove_scratch(void)
{
	unlink(scratch_path);
}

static void read_as_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0) {
		fd = mkstemp(scratch_path);
		if (fd < 0)
			abort();
		atexit(remove_scratch);
	}
	if (ftruncate(fd, 0) != 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	struct queue_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	if (queue_file_read(scratch_path, &env, &offset, &error) == 0) {
		check_envelope(&env);
		if ((uint64_t)offset + (uint64_t)env.size > size)
			abort();
		queue_envelope_free(&env);
	} else if (error == NULL) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_bytes(data, size);
	read_as_file(data, size);
	return 0;
}
