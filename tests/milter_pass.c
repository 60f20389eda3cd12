/*
 * A pass-through filter built on libmilter (not part of Postern), for
 * bench/milter.sh: it asks for every event, headers and body included, and
 * answers continue to each, so the MTA pays the full protocol cost.
 * Usage: milter_pass -s socket (unix:/path or inet:port@host)
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <unistd.h>

static sfsistat pass_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_CONTINUE;
}

static sfsistat pass_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return SMFIS_CONTINUE;
}

static sfsistat pass_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "s:")) != -1)
		if (opt == 's')
			sock = optarg;
	if (sock == NULL) {
		fprintf(stderr, "usage: milter_pass -s socket\n");
		return 2;
	}
	struct smfiDesc desc = {
	    .xxfi_name = "postern-pass",
	    .xxfi_version = SMFI_VERSION,
	    .xxfi_header = pass_header,
	    .xxfi_body = pass_body,
	    .xxfi_eom = pass_eom,
	};
	if (smfi_setconn((char *)sock) == MI_FAILURE || smfi_register(desc) == MI_FAILURE)
		return 1;
	smfi_setbacklog(256);
	smfi_opensocket(1);
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
