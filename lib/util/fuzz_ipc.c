/* Fuzz target: the IPC record decoder. Decodes records from the front of
 * the input while it finds whole ones, and checks that each re-encodes to
 * a record that decodes equal (and to the same bytes it came from). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool attrs_equal(const struct ipc_attr *a, const struct ipc_attr *b)
{
	if (a->type != b->type || strcmp(a->name, b->name) != 0)
		return false;
	if (a->type == IPC_INT)
		return a->num == b->num;
	return a->value_len == b->value_len && memcmp(a->value, b->value, a->value_len) == 0 &&
	       a->value[a->value_len] == '\0' && b->value[b->value_len] == '\0';
}

static bool records_equal(const struct ipc_rec *a, const struct ipc_rec *b)
{
	if (strcmp(a->name, b->name) != 0 || a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (!attrs_equal(&a->attrs[i], &b->attrs[i]))
			return false;
	return true;
}

/* decode(encode(rec)) must equal rec, and encode must give back the input. */
static void check_round_trip(const struct ipc_rec *rec, const uint8_t *wire, size_t wire_len)
{
	struct str buf = STR_INIT;
	ipc_rec_encode(rec, &buf);
	if (buf.len != wire_len || memcmp(buf.data, wire, wire_len) != 0)
		abort();
	struct ipc_rec *again = NULL;
	size_t used = 0;
	const char *error = NULL;
	if (ipc_rec_decode(buf.data, buf.len, 0, &again, &used, &error) != 1 || used != buf.len ||
	    !records_equal(rec, again))
		abort();
	ipc_rec_free(again);
	str_free(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* Vary the limit with the input length so the size check is exercised too. */
	size_t max_len = size % 2 ? 1024 : 0;
	size_t off = 0;
	for (;;) {
		struct ipc_rec *rec = NULL;
		size_t used = 0;
		const char *error = NULL;
		int rc = ipc_rec_decode(data + off, size - off, max_len, &rec, &used, &error);
		if (rc < 0 && error == NULL)
			abort(); /* an error must say why */
		if (rc != 1)
			break;
		if (used < 5 || used > size - off)
			abort();
		check_round_trip(rec, data + off, used);
		ipc_rec_free(rec);
		off += used;
	}
	return 0;
}
