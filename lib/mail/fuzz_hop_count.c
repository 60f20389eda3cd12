/* Fuzz target: the streaming Received-header count must not depend on how
 * the message is cut into chunks. The first byte picks the chunk size;
 * the count fed whole and fed in pieces must agree, and can never exceed
 * the number of lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/hop_count.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t step = (size_t)data[0] % 16 + 1;
	data++;
	size--;
	struct hop_count whole, pieces;
	hop_count_init(&whole);
	hop_count_feed(&whole, data, size);
	hop_count_init(&pieces);
	for (size_t at = 0; at < size; at += step)
		hop_count_feed(&pieces, data + at, size - at < step ? size - at : step);
	if (whole.received != pieces.received || whole.done != pieces.done)
		abort();
	size_t lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (whole.received < 0 || (size_t)whole.received > lines)
		abort();
	return 0;
}
