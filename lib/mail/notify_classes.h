/*
 * notify_classes, as Postfix reads it: which problems the postmaster
 * hears about by mail. qmgr sends the bounce, 2bounce and delay
 * notices; smtpd sends the policy, protocol, resource and software
 * notices (a session's transcript, smtpd/notice.c), as Postfix's smtpd
 * does. data, and the other programs' resource and software problems,
 * are reported in the log only; the word is accepted so that a Postfix
 * main.cf carries over.
 */
#ifndef POSTERN_MAIL_NOTIFY_CLASSES_H
#define POSTERN_MAIL_NOTIFY_CLASSES_H

enum notify_class {
	NOTIFY_BOUNCE = 1 << 0,   /* copies of bounces (headers) to bounce_notice_recipient */
	NOTIFY_2BOUNCE = 1 << 1,  /* undeliverable bounces to 2bounce_notice_recipient */
	NOTIFY_DELAY = 1 << 2,    /* copies of delay notices (headers) to delay_notice_recipient */
	NOTIFY_POLICY = 1 << 3,   /* smtpd: session transcripts */
	NOTIFY_PROTOCOL = 1 << 4, /* smtpd: session transcripts */
	NOTIFY_RESOURCE = 1 << 5, /* smtpd: session transcripts */
	NOTIFY_SOFTWARE = 1 << 6, /* smtpd: session transcripts */
	NOTIFY_DATA = 1 << 7,     /* log only in Postern */
};

/* The classes of list (NULL-terminated words); 0 with the flags, or -1
 * with *bad_r the first unknown word. */
int notify_classes_parse(char *const *list, unsigned *flags_r, const char **bad_r);

#endif
