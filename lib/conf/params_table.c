/*
 * The main.conf parameter table: every parameter's name, type, default and
 * one-line description. Kept sorted by name (param_find() searches it by
 * bisection; test_params checks the order). myhostname and mydomain have
 * empty defaults here: conf_new() computes them from the host name.
 */
#include "conf/params.h"

const struct param_def param_table[] = {
    {"2bounce_notice_recipient", PARAM_STR, "postmaster",
     "Recipient of a notification that could not be delivered to its sender (double bounce)."},
    {"access_map_defer_code", PARAM_INT, "450",
     "Reply code for DEFER in smtpd's access tables (4NN)."},
    {"access_map_reject_code", PARAM_INT, "554",
     "Reply code for REJECT in smtpd's access tables (4NN or 5NN)."},
    {"address_verify_default_transport", PARAM_STR, "$default_transport",
     "default_transport for address verification probes (qmgr routes only probes with it)."},
    {"address_verify_local_transport", PARAM_STR, "$local_transport",
     "local_transport for address verification probes."},
    {"address_verify_map", PARAM_STR, "lmdb:$data_directory/verify_cache",
     "File (lmdb:, hash: or btree:/path, or a plain path) in which smtpd and qmgr keep what "
     "address verification probes found out."},
    {"address_verify_negative_cache", PARAM_BOOL, "yes",
     "Keep the results of failed address verification probes (no: probe again at the next "
     "look-up)."},
    {"address_verify_negative_expire_time", PARAM_TIME, "3d",
     "How long a failed address verification result is believed."},
    {"address_verify_negative_refresh_time", PARAM_TIME, "3h",
     "Age at which a failed address verification result is probed again."},
    {"address_verify_poll_count", PARAM_INT, "3",
     "How many times smtpd looks for a probe's result before it answers the client (1: once, "
     "no wait)."},
    {"address_verify_poll_delay", PARAM_TIME, "3s", "How long smtpd waits between those looks."},
    {"address_verify_positive_expire_time", PARAM_TIME, "31d",
     "How long a successful address verification result is believed."},
    {"address_verify_positive_refresh_time", PARAM_TIME, "7d",
     "Age at which a successful address verification result is probed again."},
    {"address_verify_relay_transport", PARAM_STR, "$relay_transport",
     "relay_transport for address verification probes."},
    {"address_verify_relayhost", PARAM_STR, "$relayhost",
     "relayhost for address verification probes (their next hop for the relay and default "
     "classes; empty: MX routing)."},
    {"address_verify_sender", PARAM_STR, "double-bounce",
     "Sender of address verification probes (no domain: @$myorigin is added; <> for the null "
     "sender)."},
    {"address_verify_sender_ttl", PARAM_TIME, "0s",
     "Non-zero: the probe sender's local part gets a time stamp that changes this often "
     "(Postfix's form: the time divided by it in base 31, digits 0-9 then B-Z without "
     "vowels); 0: a fixed sender."},
    {"address_verify_transport_maps", PARAM_STR, "$transport_maps",
     "transport_maps for address verification probes."},
    {"address_verify_virtual_transport", PARAM_STR, "$virtual_transport",
     "virtual_transport for address verification probes."},
    {"alias_database", PARAM_LIST, "$config_directory/aliases",
     "aliases(5) sources that newaliases and mailctl alias rebuild compile, each into FILE.lmdb "
     "(hash:FILE, as Postfix writes it, is FILE)."},
    {"alias_maps", PARAM_LIST, "lmdb:$config_directory/aliases.lmdb",
     "Alias tables that local looks up the local part of local-domain recipients in."},
    {"allow_mail_to_commands", PARAM_LIST, "alias, forward",
     "Where |command deliveries are allowed: alias, forward, include (empty: nowhere)."},
    {"allow_mail_to_files", PARAM_LIST, "alias, forward",
     "Where /file deliveries are allowed: alias, forward, include (empty: nowhere)."},
    {"always_bcc", PARAM_STR, "",
     "Address that gets a blind copy of every message smtpd and pickup receive (empty: none)."},
    {"anvil_rate_time_unit", PARAM_TIME, "60s",
     "The time unit of smtpd's client rate limits (smtpd_client_*_rate_limit)."},
    {"append_at_myorigin", PARAM_BOOL, "yes",
     "Complete header addresses without a domain in local mail (sendmail, and SMTP clients "
     "local_header_rewrite_clients names) with @$myorigin, as Postfix."},
    {"auth_failure_delay", PARAM_TIME, "1s",
     "How long the auth service waits before it answers a failed login."},
    {"body_checks", PARAM_LIST, "",
     "Tables (regexp_table(5)) each body line is looked up in, as header_checks."},
    {"body_checks_size_limit", PARAM_SIZE, "51200",
     "How much of each message body body_checks look at (bytes)."},
    {"bounce_notice_recipient", PARAM_STR, "postmaster",
     "Recipient of the postmaster's copies of bounces (notify_classes bounce)."},
    {"bounce_queue_lifetime", PARAM_TIME, "5d",
     "How long a bounce or other notification (from the null sender) may stay deferred before "
     "it is given up (0: tried once)."},
    {"bounce_template_file", PARAM_STR, "",
     "File of notification templates (bounce(5): failure, delay, success, verify) in place "
     "of the built-in texts; empty: built-in."},
    {"canonical_classes", PARAM_LIST,
     "envelope_sender, envelope_recipient, header_sender, header_recipient",
     "Which addresses canonical_maps rewrites: envelope_sender, envelope_recipient, "
     "header_sender, header_recipient."},
    {"canonical_maps", PARAM_LIST, "",
     "Tables (canonical(5)) that smtpd and pickup rewrite sender and recipient addresses with, "
     "in the envelope and the header section, as mail is received."},
    {"command_directory", PARAM_STR, "/usr/sbin",
     "Directory of the programs an administrator runs (mailctl, sendmail)."},
    {"command_expansion_filter", PARAM_STR,
     "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
     "Characters local keeps in the environment of commands it runs; others become '_'."},
    {"command_time_limit", PARAM_TIME, "1000s",
     "How long local lets one |command or mailbox_command run before it is killed (and "
     "deferred); the default of each pipe service's transport_time_limit."},
    {"config_directory", PARAM_STR, "/etc/postern",
     "Directory holding main.conf and master.conf (set from the -c option or the build)."},
    {"content_filter", PARAM_STR, "",
     "transport:destination that smtpd and pickup send every message they receive to (an "
     "external content filter such as amavis), instead of its recipients' destinations."},
    {"daemon_directory", PARAM_STR, "/usr/libexec/postern",
     "Directory of the daemon programs that master starts."},
    {"daemon_timeout", PARAM_TIME, "18000s",
     "How long a daemon may spend on one request before it gives up on it."},
    {"data_directory", PARAM_STR, "/var/lib/postern",
     "Directory for data that is not mail: lock files, caches and state."},
    {"default_destination_concurrency_limit", PARAM_INT, "20",
     "Most deliveries qmgr runs at once to one destination (smtp: next hop; local: recipient "
     "domain); 0: no limit."},
    {"default_destination_rate_delay", PARAM_TIME, "0s",
     "Least time between two deliveries to one destination of a transport (one at a time "
     "then); 0: none."},
    {"default_destination_recipient_limit", PARAM_INT, "50",
     "Most recipients in one delivery request (one SMTP transaction) of a transport without "
     "its own limit; 0: no limit."},
    {"default_privs", PARAM_STR, "nobody",
     "User that local delivery runs commands and file deliveries as when no owner applies."},
    {"default_process_limit", PARAM_INT, "100",
     "Process limit of a service whose maxproc column in master.conf is '-'."},
    {"default_rbl_reply", PARAM_STR,
     "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using "
     "$rbl_domain${rbl_reason?; $rbl_reason}",
     "Reply template of smtpd's DNS and domain blocklist refusals without an rbl_reply_maps "
     "entry: a 4NN/5NN code, then text ($rbl_code, $rbl_class, $rbl_what, $rbl_domain, "
     "$rbl_reason, $client_address, $sender, $recipient...; taken without main.conf "
     "expansion)."},
    {"default_transport", PARAM_STR, "smtp",
     "transport[:nexthop] for mail to domains that are not local, virtual or relay domains "
     "(after transport_maps)."},
    {"delay_notice_recipient", PARAM_STR, "postmaster",
     "Recipient of the postmaster's copies of delay warnings (notify_classes delay)."},
    {"delay_warning_time", PARAM_TIME, "0h",
     "After this long in the queue the sender is warned that mail is delayed (0: never)."},
    {"deliver_lock_attempts", PARAM_INT, "20",
     "How often local tries to lock an mbox file before it defers the delivery."},
    {"deliver_lock_delay", PARAM_TIME, "1s", "How long local waits between two lock attempts."},
    {"disable_mime_output_conversion", PARAM_BOOL, "no",
     "Bounce 8-bit mail to a server without 8BITMIME (5.6.3) instead of converting it to "
     "quoted-printable."},
    {"disable_vrfy_command", PARAM_BOOL, "yes",
     "Answer VRFY with 252 without saying whether the address exists."},
    {"dns_forwarders", PARAM_LIST, "",
     "Resolvers the DNS client forwards to (address or address@port); empty: those in "
     "/etc/resolv.conf."},
    {"dns_hosts_file", PARAM_STR, "/etc/hosts",
     "Hosts file that answers address look-ups before DNS; empty: none."},
    {"dns_query_timeout", PARAM_TIME, "30s",
     "How long one DNS look-up may take before it counts as a temporary failure."},
    {"dns_trust_anchor_file", PARAM_STR, "",
     "DNSSEC trust anchors (DS or DNSKEY records, zone-file format); empty: no validation."},
    {"error_notice_recipient", PARAM_STR, "postmaster",
     "Recipient of smtpd's postmaster notices of session errors (notify_classes policy, "
     "protocol, resource, software)."},
    {"fallback_transport", PARAM_STR, "",
     "transport[:nexthop] (an lmtp or smtp service) that local passes mail for unknown users "
     "of mydestination to, instead of luser_relay or a bounce; smtpd then accepts any local "
     "part (empty: none)."},
    {"fallback_transport_maps", PARAM_LIST, "",
     "Tables, by local part, of transports for local-domain names that are neither users nor "
     "aliases, before fallback_transport; smtpd takes the names they list."},
    {"forward_path", PARAM_STR, "$home/.forward",
     "Forwarding file of a system user ($home is the user's home directory, $user the user "
     "name; empty: none)."},
    {"header_checks", PARAM_LIST, "",
     "Tables (regexp_table(5)) each message header is looked up in: REJECT, DEFER, "
     "DISCARD, HOLD, IGNORE, REPLACE, PREPEND, WARN, INFO or DUNNO."},
    {"home_mailbox", PARAM_STR, "Maildir/",
     "Mailbox of a system user, relative to the home directory (Maildir when it ends in /; an "
     "mbox file otherwise; empty: mail_spool_directory/USER)."},
    {"hopcount_limit", PARAM_INT, "50",
     "Received headers a message may carry; at this many smtpd refuses it as a mail loop "
     "(554 5.4.6; 0: no limit)."},
    {"import_environment", PARAM_LIST, "TZ LANG=C",
     "Environment variables that master passes on to its children (NAME or NAME=value)."},
    {"inet_interfaces", PARAM_LIST, "all",
     "Addresses that inet services listen on: all, or a list of addresses."},
    {"inet_protocols", PARAM_LIST, "all",
     "IP versions that inet services use: all, ipv4, ipv6 or a list of them."},
    {"invalid_hostname_reject_code", PARAM_INT, "501",
     "Reply code for a malformed HELO name (smtpd_reject_invalid_helo_hostname)."},
    {"ipc_timeout", PARAM_TIME, "3600s",
     "How long to wait for a reply from another Postern process over a local socket."},
    {"line_length_limit", PARAM_INT, "2048",
     "Longest SMTP command line smtpd takes (bytes, without CRLF; at least 512)."},
    {"lmtp_bind_address", PARAM_STR, "",
     "Local address the lmtp client connects from to an inet next hop; empty: chosen by the "
     "kernel."},
    {"lmtp_body_checks", PARAM_LIST, "", "As smtp_body_checks, for the lmtp client."},
    {"lmtp_connect_timeout", PARAM_TIME, "30s",
     "How long the lmtp client waits for a connection to the LMTP server."},
    {"lmtp_connection_cache_time_limit", PARAM_TIME, "2s",
     "How long the lmtp client keeps an idle session for the next message to the same next hop "
     "(0: never)."},
    {"lmtp_data_done_timeout", PARAM_TIME, "600s",
     "How long the lmtp client waits for each recipient's reply after the end of the message."},
    {"lmtp_fallback_relay", PARAM_LIST, "",
     "LMTP next hops the lmtp client tries, in order, for the recipients its next hop left "
     "open."},
    {"lmtp_generic_maps", PARAM_LIST, "",
     "Tables that rewrite envelope and header addresses as the lmtp client sends them."},
    {"lmtp_header_checks", PARAM_LIST, "",
     "header_checks tables (regexp:, pcre:) for the header section of mail the lmtp client "
     "sends: IGNORE, REPLACE, PREPEND, WARN, INFO."},
    {"lmtp_lhlo_name", PARAM_STR, "$myhostname", "The name the lmtp client sends with LHLO."},
    {"lmtp_lhlo_timeout", PARAM_TIME, "300s",
     "How long the lmtp client waits for the server greeting and for the replies to LHLO, "
     "STARTTLS and AUTH."},
    {"lmtp_mime_header_checks", PARAM_LIST, "", "As smtp_mime_header_checks, for the lmtp client."},
    {"lmtp_nested_header_checks", PARAM_LIST, "",
     "As smtp_nested_header_checks, for the lmtp client."},
    {"lmtp_sasl_password_maps", PARAM_STR, "",
     "Table of user:password for AUTH to LMTP servers, as smtp_sasl_password_maps."},
    {"lmtp_send_xforward_command", PARAM_BOOL, "no",
     "Send XFORWARD with the original client's attributes to an LMTP server that offers it."},
    {"lmtp_sender_dependent_authentication", PARAM_BOOL, "no",
     "Look up lmtp_sasl_password_maps by the sender first."},
    {"lmtp_tcp_port", PARAM_STR, "24",
     "The port the lmtp client connects to when an inet next hop names none."},
    {"lmtp_tls_policy_maps", PARAM_STR, "",
     "Table of TLS policies per LMTP next hop, as smtp_tls_policy_maps."},
    {"lmtp_tls_security_level", PARAM_STR, "none",
     "TLS level of the lmtp client when lmtp_tls_policy_maps has no entry: none, may, encrypt, "
     "verify, secure..."},
    {"lmtp_tls_session_cache_database", PARAM_STR, "",
     "Where the lmtp client keeps TLS sessions for resumption; empty: nowhere."},
    {"lmtp_tls_wrappermode", PARAM_BOOL, "no",
     "Start TLS at connect (no STARTTLS) in the lmtp client."},
    {"local_destination_concurrency_limit", PARAM_INT, "20",
     "Most local deliveries qmgr runs at once to one recipient domain (0: no limit); "
     "unset: default_destination_concurrency_limit."},
    {"local_destination_rate_delay", PARAM_TIME, "0s",
     "Least time between two local deliveries to one recipient domain; unset: "
     "default_destination_rate_delay."},
    {"local_header_rewrite_clients", PARAM_LIST, "permit_inet_interfaces",
     "SMTP clients whose header addresses canonical_maps and masquerade_domains rewrite: "
     "permit_inet_interfaces, permit_mynetworks, permit_sasl_authenticated, static:all (mail "
     "from sendmail always)."},
    {"local_transport", PARAM_STR, "local",
     "transport[:nexthop] for mail to mydestination and unqualified addresses (after "
     "transport_maps)."},
    {"luser_relay", PARAM_STR, "",
     "Address that local forwards mail for unknown users of mydestination to ($user, $local, "
     "$extension, $domain, $recipient; taken without main.conf expansion); smtpd then accepts "
     "any local part (empty: bounce)."},
    {"mail_name", PARAM_STR, "Postern", "The mail system's name in greetings and headers."},
    {"mail_owner", PARAM_STR, "postern",
     "User that owns the queue and that unprivileged services run as."},
    {"mail_spool_directory", PARAM_STR, "/var/mail",
     "Directory of system users' mbox files (/var/mail/USER) when home_mailbox is empty."},
    {"mailbox_command", PARAM_STR, "",
     "Program that system users' mail is piped into instead of the mailbox (procmail, "
     "maildrop); taken as written, without $name expansion (empty: none)."},
    {"mailbox_transport", PARAM_STR, "",
     "transport[:nexthop] (an lmtp or smtp service, e.g. lmtp:unix:private/dovecot-lmtp) that "
     "local passes system users' mail to after aliases and .forward, instead of "
     "mailbox_command or the mailbox (empty: none)."},
    {"mailbox_transport_maps", PARAM_LIST, "",
     "Tables of transport[:nexthop] by user name for local's mailbox delivery, looked up "
     "before mailbox_transport (empty: none)."},
    {"maillog_file", PARAM_STR, "", "File to write log lines to; empty means syslog."},
    {"masquerade_classes", PARAM_LIST, "envelope_sender, header_sender, header_recipient",
     "Which addresses masquerade_domains rewrites: envelope_sender, envelope_recipient, "
     "header_sender, header_recipient."},
    {"masquerade_domains", PARAM_LIST, "",
     "Domains whose subdomains are stripped from addresses at receipt (user@host.example.com "
     "becomes user@example.com); \"!domain\" leaves one alone; the first match decides."},
    {"masquerade_exceptions", PARAM_LIST, "",
     "Local parts (names, or tables) never masqueraded, e.g. root."},
    {"master_stop_timeout", PARAM_TIME, "10s",
     "How long master waits for its children to exit at stop before it kills them."},
    {"max_idle", PARAM_TIME, "100s",
     "How long an idle service process waits for a new client before it exits."},
    {"max_use", PARAM_INT, "100",
     "Number of clients a service process serves before it exits and is replaced."},
    {"maximal_backoff_time", PARAM_TIME, "4000s",
     "Longest wait between two delivery attempts of a deferred message."},
    {"maximal_queue_lifetime", PARAM_TIME, "5d",
     "How long a message may stay deferred before it is returned to its sender."},
    {"message_size_limit", PARAM_SIZE, "10240000",
     "Largest message accepted, in bytes (0: no limit)."},
    {"milter_command_timeout", PARAM_TIME, "30s",
     "How long to wait for a milter's reply to a connect, HELO, MAIL, RCPT, DATA or unknown "
     "command event."},
    {"milter_connect_macros", PARAM_STR,
     "j {daemon_name} {daemon_addr} {daemon_port} v _ {client_addr} {client_port} {client_name} "
     "{client_ptr}",
     "Macros sent to milters with the connect event."},
    {"milter_connect_timeout", PARAM_TIME, "30s",
     "How long to wait for a connection to a milter (and for its negotiation reply)."},
    {"milter_content_timeout", PARAM_TIME, "300s",
     "How long to wait for a milter's reply to a header, end of headers, body chunk or end of "
     "message."},
    {"milter_data_macros", PARAM_STR, "i", "Macros sent to milters with the DATA event."},
    {"milter_default_action", PARAM_STR, "tempfail",
     "What happens when a milter is down or fails: tempfail, reject, accept or quarantine."},
    {"milter_end_of_data_macros", PARAM_STR, "i",
     "Macros sent to milters with the end-of-message event."},
    {"milter_end_of_header_macros", PARAM_STR, "i",
     "Macros sent to milters with the end-of-headers event."},
    {"milter_helo_macros", PARAM_STR,
     "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
     "Macros sent to milters with the HELO/EHLO event."},
    {"milter_macro_daemon_name", PARAM_STR, "$myhostname", "The value of the {daemon_name} macro."},
    {"milter_macro_v", PARAM_STR, "$mail_name",
     "The value of the v macro (the MTA's name and version)."},
    {"milter_mail_macros", PARAM_STR,
     "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
     "Macros sent to milters with the MAIL FROM event."},
    {"milter_protocol", PARAM_INT, "6",
     "Milter protocol version offered to filters (2, 3, 4 or 6)."},
    {"milter_rcpt_macros", PARAM_STR, "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
     "Macros sent to milters with the RCPT TO event."},
    {"milter_unknown_command_macros", PARAM_STR, "",
     "Macros sent to milters with an unknown SMTP command."},
    {"mime_header_checks", PARAM_LIST, "$header_checks",
     "Tables (as header_checks) for MIME headers: MIME-Version and Content-* headers, and "
     "every header of a multipart's parts."},
    {"minimal_backoff_time", PARAM_TIME, "300s",
     "Shortest wait before qmgr retries a deferred message."},
    {"mydestination", PARAM_LIST, "$myhostname, localhost.$mydomain, localhost",
     "Domains that this host delivers to locally."},
    {"mydomain", PARAM_STR, "",
     "Internet domain of this host; default: $myhostname without its first label."},
    {"myhostname", PARAM_STR, "",
     "Fully qualified name of this host; default: the system host name, with "
     "\".localdomain\" added if it has no dot."},
    {"mynetworks", PARAM_LIST, "127.0.0.0/8 [::1]/128",
     "Trusted client networks that may relay without AUTH."},
    {"myorigin", PARAM_STR, "$myhostname",
     "Domain added to locally submitted addresses that have none."},
    {"nested_header_checks", PARAM_LIST, "$header_checks",
     "Tables (as header_checks) for the headers of attached messages (message/rfc822), "
     "MIME headers excepted."},
    {"non_fqdn_reject_code", PARAM_INT, "504",
     "Reply code for a HELO name or address that is not fully qualified "
     "(smtpd_reject_non_fqdn_...)."},
    {"non_smtpd_milters", PARAM_STR, "",
     "Milters for mail submitted with sendmail (pickup): unix:/path, inet:host:port or { address, "
     "name=value... }."},
    {"notify_classes", PARAM_LIST, "resource, software",
     "What the postmaster hears about by mail: bounce (copies of bounces, and undeliverable "
     "bounces), 2bounce (undeliverable bounces), delay (copies of delay warnings), resource, "
     "software, policy, protocol (smtpd session transcripts); data is logged only."},
    {"pop3d_auth_failure_limit", PARAM_INT, "3",
     "Failed logins after which pop3d disconnects the client."},
    {"pop3d_hard_error_limit", PARAM_INT, "20",
     "Errors (bad commands, failed logins) after which pop3d disconnects the client."},
    {"pop3d_login_user", PARAM_STR, "postern-login",
     "Unprivileged user that pop3d's login process (TLS and the commands before login) "
     "runs as."},
    {"pop3d_timeout", PARAM_TIME, "600s",
     "How long pop3d waits for the next command or for the client to take a reply."},
    {"pop3d_tls_auth_only", PARAM_BOOL, "yes",
     "Accept USER/PASS and AUTH only over TLS (except from pop3d_tls_auth_only_exempt)."},
    {"pop3d_tls_auth_only_exempt", PARAM_LIST, "",
     "Client networks that may log in to pop3d without TLS (e.g. 127.0.0.0/8)."},
    {"pop3d_tls_cert_file", PARAM_STR, "$smtpd_tls_cert_file",
     "PEM certificate (and chain) for pop3d's STLS and implicit TLS; empty disables TLS."},
    {"pop3d_tls_key_file", PARAM_STR, "$smtpd_tls_key_file",
     "PEM private key for pop3d_tls_cert_file."},
    {"pop3d_tls_protocols", PARAM_STR, ">=TLSv1.2",
     "TLS versions pop3d accepts, as smtpd_tls_protocols."},
    {"pop3d_tls_session_cache_timeout", PARAM_TIME, "3600s",
     "Lifetime of the TLS session tickets pop3d gives clients to resume their session with any "
     "pop3d process (under master's keys, see smtpd_tls_session_cache_timeout); 0: none."},
    {"pop3d_tls_wrappermode", PARAM_BOOL, "no",
     "Implicit TLS: the handshake comes first (POP3S, port 995)."},
    {"pop3d_upstream_proxy_protocol", PARAM_STR, "",
     "haproxy: every connection starts with HAProxy's PROXY header (version 1 or 2) naming the "
     "real client, as from a load balancer (Dovecot's haproxy = yes); empty: none."},
    {"pop3d_upstream_proxy_timeout", PARAM_TIME, "5s",
     "How long pop3d waits for the PROXY header before it closes the connection."},
    {"pop3d_upstream_proxy_trusted_networks", PARAM_LIST, "",
     "With pop3d_upstream_proxy_protocol: the networks (address/prefix) the load balancers "
     "connect from; a connection from elsewhere is closed without a word (Dovecot's "
     "haproxy_trusted_networks); empty: any."},
    {"proxy_interfaces", PARAM_LIST, "",
     "Addresses or host names this host also receives mail at through a proxy or NAT; the smtp "
     "client treats an MX host with one of them as itself (mail loop)."},
    {"qmgr_message_active_limit", PARAM_INT, "20000",
     "Most messages qmgr holds in active/ and in memory at once."},
    {"qmgr_message_recipient_limit", PARAM_INT, "20000",
     "Most recipients qmgr holds in memory at once, over all messages in hand."},
    {"queue_directory", PARAM_STR, "/var/spool/postern",
     "Root of the mail queue and of the private/ and public/ socket directories."},
    {"queue_minfree", PARAM_SIZE, "0",
     "Free space smtpd wants in the queue's file system before it takes a message (MAIL FROM "
     "gets 452 4.3.1 with less); at least 1.5 times message_size_limit whatever is set here."},
    {"rbl_reply_maps", PARAM_LIST, "",
     "Tables of smtpd's blocklist reply templates (as default_rbl_reply's), keyed by the "
     "blocklist's domain as its site list names it, without =FILTER; empty: none."},
    {"receive_override_options", PARAM_LIST, "",
     "What smtpd and pickup leave out: no_unknown_recipient_checks, no_address_mappings, "
     "no_header_body_checks, no_milters (the service behind or before a content filter)."},
    {"recipient_bcc_maps", PARAM_LIST, "",
     "Tables giving, for a recipient (user@domain or @domain), an address that gets a blind "
     "copy."},
    {"recipient_canonical_classes", PARAM_LIST, "envelope_recipient, header_recipient",
     "Which addresses recipient_canonical_maps rewrites: envelope_recipient, "
     "header_recipient."},
    {"recipient_canonical_maps", PARAM_LIST, "",
     "Tables (canonical(5)) for recipient addresses only, asked before canonical_maps."},
    {"recipient_delimiter", PARAM_STR, "",
     "Characters that start an address extension (user+ext@domain is user's), \"\" for none."},
    {"relay_clientcerts", PARAM_LIST, "",
     "Tables whose keys are TLS client certificate or public key fingerprints "
     "(smtpd_tls_fingerprint_digest, \"AB:01:...\"): such clients may relay, as mynetworks "
     "(Postfix's permit_tls_clientcerts; needs smtpd_tls_ask_ccert)."},
    {"relay_domains", PARAM_LIST, "", "Domains accepted from anyone and relayed onward."},
    {"relay_recipient_maps", PARAM_LIST, "",
     "Tables of the valid addresses in relay_domains (user@domain, or @domain for any); others "
     "are refused with 550 5.1.1. Empty: every address there is accepted."},
    {"relay_transport", PARAM_STR, "smtp",
     "transport[:nexthop] for mail to relay_domains (after transport_maps)."},
    {"relayhost", PARAM_STR, "",
     "Next hop for all remote mail: [host]:port, [host], host:port or domain; empty: MX routing."},
    {"remote_header_rewrite_domain", PARAM_STR, "",
     "Empty: the header sections of SMTP clients outside local_header_rewrite_clients are not "
     "rewritten; else they are (canonical maps, masquerading), their addresses without a "
     "domain getting this one (e.g. domain.invalid)."},
    {"sender_bcc_maps", PARAM_LIST, "",
     "Tables giving, for a sender (user@domain or @domain), an address that gets a blind copy."},
    {"sender_canonical_classes", PARAM_LIST, "envelope_sender, header_sender",
     "Which addresses sender_canonical_maps rewrites: envelope_sender, header_sender."},
    {"sender_canonical_maps", PARAM_LIST, "",
     "Tables (canonical(5)) for sender addresses only, asked before canonical_maps."},
    {"sender_dependent_default_transport_maps", PARAM_STR, "",
     "Table of sender (user@domain, then @domain; <> for the null sender) to the "
     "transport[:nexthop] of its mail for the default class, in place of default_transport; "
     "transport_maps still wins."},
    {"sender_dependent_relayhost_maps", PARAM_STR, "",
     "Table of sender (user@domain, then @domain; <> for the null sender) to the next hop of its "
     "remote mail, in place of relayhost; a transport_maps next hop still wins."},
    {"service_throttle_time", PARAM_TIME, "60s",
     "Longest pause before master starts new processes for a service whose processes keep "
     "exiting abnormally (the pause starts at 1s and doubles)."},
    {"setgid_group", PARAM_STR, "postern-drop",
     "Group that the mail drop helper runs as to write into maildrop/."},
    {"smtp_address_preference", PARAM_STR, "any",
     "Address family the smtp client tries first for each mail host: any (chosen at random), "
     "ipv4 or ipv6."},
    {"smtp_bind_address", PARAM_STR, "",
     "Local address the smtp client connects from; empty: chosen by the kernel."},
    {"smtp_body_checks", PARAM_LIST, "",
     "body_checks tables for the body lines of mail the smtp client sends (the first "
     "body_checks_size_limit bytes): IGNORE, REPLACE, PREPEND, WARN, INFO; empty: none."},
    {"smtp_connect_timeout", PARAM_TIME, "30s",
     "How long the smtp client waits for a TCP connection."},
    {"smtp_connection_cache_time_limit", PARAM_TIME, "2s",
     "How long the smtp client keeps an idle session for the next message to the same next hop (0: "
     "never)."},
    {"smtp_connection_reuse_time_limit", PARAM_TIME, "300s",
     "Age after which an smtp client session is not used for another message."},
    {"smtp_data_done_timeout", PARAM_TIME, "600s",
     "How long the smtp client waits for the reply after the end of the message."},
    {"smtp_data_init_timeout", PARAM_TIME, "120s",
     "How long the smtp client waits for the reply to DATA."},
    {"smtp_data_xfer_timeout", PARAM_TIME, "180s",
     "How long the smtp client waits while sending the message content."},
    {"smtp_destination_concurrency_limit", PARAM_INT, "20",
     "Most smtp deliveries qmgr runs at once to one next hop (the domain, or the relayhost or "
     "transport_maps host that serves it; 0: no limit); unset: "
     "default_destination_concurrency_limit."},
    {"smtp_destination_rate_delay", PARAM_TIME, "0s",
     "Least time between two smtp deliveries to one next hop (one at a time then); unset: "
     "default_destination_rate_delay."},
    {"smtp_destination_recipient_limit", PARAM_INT, "50",
     "Most recipients smtp sends in one transaction, more go in further ones (0: no limit); "
     "unset: default_destination_recipient_limit."},
    {"smtp_fallback_relay", PARAM_LIST, "",
     "Next hops (relayhost syntax) tried in order for mail whose destination is not found, "
     "cannot be reached or answers 4xx; not for domains this host is an MX of."},
    {"smtp_generic_maps", PARAM_LIST, "",
     "Tables (generic(5)) that rewrite the envelope and header addresses of mail the smtp "
     "client sends, e.g. root@localhost.localdomain to a valid address; empty: none."},
    {"smtp_header_checks", PARAM_LIST, "",
     "header_checks tables (regexp:, pcre:) for the header section of mail the smtp client "
     "sends, e.g. to drop internal Received headers: IGNORE, REPLACE, PREPEND, WARN, INFO; "
     "empty: none."},
    {"smtp_helo_name", PARAM_STR, "$myhostname",
     "Host name the smtp client sends in EHLO and HELO."},
    {"smtp_helo_timeout", PARAM_TIME, "300s",
     "How long the smtp client waits for the greeting and for EHLO, HELO, STARTTLS and AUTH "
     "replies."},
    {"smtp_line_length_limit", PARAM_INT, "998",
     "Longest line smtp sends as it is; longer ones are broken with CRLF and a space (0: no "
     "limit)."},
    {"smtp_mail_timeout", PARAM_TIME, "300s",
     "How long the smtp client waits for the reply to MAIL FROM."},
    {"smtp_mime_header_checks", PARAM_LIST, "",
     "header_checks tables for the MIME headers (MIME-Version, Content-*, the headers of "
     "MIME parts) of mail the smtp client sends: IGNORE, REPLACE, PREPEND, WARN, INFO; "
     "empty: none."},
    {"smtp_mx_address_limit", PARAM_INT, "5",
     "Most server addresses the smtp client tries for one delivery (0: no limit)."},
    {"smtp_nested_header_checks", PARAM_LIST, "",
     "header_checks tables for the headers of messages attached (message/rfc822) to mail the "
     "smtp client sends: IGNORE, REPLACE, PREPEND, WARN, INFO; empty: none."},
    {"smtp_quit_timeout", PARAM_TIME, "300s",
     "How long the smtp client waits for the reply to QUIT."},
    {"smtp_rcpt_timeout", PARAM_TIME, "300s",
     "How long the smtp client waits for the reply to RCPT TO."},
    {"smtp_rset_timeout", PARAM_TIME, "20s",
     "How long the smtp client waits for the reply to RSET (checking a kept session)."},
    {"smtp_sasl_password_maps", PARAM_STR, "",
     "Table of server host name, then next hop as written, to user:password for AUTH to a relay "
     "(sent over TLS only); empty: no AUTH."},
    {"smtp_send_xforward_command", PARAM_BOOL, "no",
     "Send XFORWARD with the message's original client (name, address, port, protocol, HELO, "
     "queue id, source, login) to a server that offers it, as to a content filter."},
    {"smtp_sender_dependent_authentication", PARAM_BOOL, "no",
     "Look up the envelope sender (user@domain, then @domain) in smtp_sasl_password_maps before "
     "the server and next hop; sessions are reused only with the same credentials."},
    {"smtp_starttls_timeout", PARAM_TIME, "300s",
     "How long the smtp client waits for a TLS handshake."},
    {"smtp_tcp_port", PARAM_STR, "25",
     "Port the smtp client connects to when the next hop names none."},
    {"smtp_tls_CAfile", PARAM_STR, "",
     "Trust anchors (PEM) for the verify level; empty (and smtp_tls_CApath empty): the "
     "system store."},
    {"smtp_tls_CApath", PARAM_STR, "",
     "A directory of trust anchors (PEM files under their hashed names, as openssl rehash "
     "makes them; Debian's /etc/ssl/certs) for the verify level, with or instead of "
     "smtp_tls_CAfile; empty: none."},
    {"smtp_tls_cert_file", PARAM_STR, "",
     "Client certificate (PEM, chain may follow) the smtp client presents when a server asks; "
     "empty: none."},
    {"smtp_tls_chain_file", PARAM_STR, "",
     "Extra chain certificates (PEM) sent after smtp_tls_cert_file."},
    {"smtp_tls_ciphers", PARAM_STR, "",
     "TLS 1.2 ciphers of the smtp client: high, medium or an OpenSSL list (empty: OpenSSL's)."},
    {"smtp_tls_key_file", PARAM_STR, "$smtp_tls_cert_file",
     "Private key (PEM) of smtp_tls_cert_file."},
    {"smtp_tls_policy_maps", PARAM_STR, "",
     "Table of next-hop host or domain (or .parent) to TLS level (none, may, encrypt, dane, "
     "verify, secure) and match=, protocols=, ciphers= attributes."},
    {"smtp_tls_protocols", PARAM_STR, ">=TLSv1.2",
     "TLS versions the smtp client uses: >=TLSv1.2 (default), >=TLSv1.3, !TLSv1 !TLSv1.1, ..."},
    {"smtp_tls_secure_cert_match", PARAM_STR, "nexthop, dot-nexthop",
     "Names the server certificate may carry at the secure level (hostname, nexthop, "
     "dot-nexthop, names, .domain)."},
    {"smtp_tls_security_level", PARAM_STR, "may",
     "Default TLS level of the smtp client: none, may, encrypt, dane, verify or secure."},
    {"smtp_tls_session_cache_database", PARAM_STR, "lmdb:$data_directory/smtp_scache",
     "File (lmdb:, hash: or btree:/path, or a plain path) in which all smtp processes keep TLS "
     "sessions, so that new connections resume them; empty: no cache."},
    {"smtp_tls_session_cache_timeout", PARAM_TIME, "3600s",
     "How long a TLS session in smtp_tls_session_cache_database may be resumed (0: no cache)."},
    {"smtp_tls_verify_cert_match", PARAM_STR, "hostname",
     "Names the server certificate may carry at the verify level (hostname, nexthop, "
     "dot-nexthop, names, .domain)."},
    {"smtp_tls_wrappermode", PARAM_BOOL, "no",
     "The smtp client starts TLS at connect (implicit TLS, port 465) instead of STARTTLS; "
     "TLS is then required."},
    {"smtpd_add_missing_headers", PARAM_BOOL, "no",
     "Add Message-ID and Date when missing (also done for every authenticated client)."},
    {"smtpd_auth_failure_limit", PARAM_INT, "3",
     "Failed AUTH attempts after which smtpd disconnects the client."},
    {"smtpd_auth_required", PARAM_BOOL, "no",
     "Refuse MAIL until the client has authenticated (submission services)."},
    {"smtpd_authorized_xforward_hosts", PARAM_LIST, "",
     "Clients (networks, as mynetworks) that smtpd offers XFORWARD to: they may name the "
     "original client of mail they give back (content filters); empty: none."},
    {"smtpd_banner", PARAM_STR, "$myhostname ESMTP $mail_name",
     "Text after 220 in the SMTP greeting."},
    {"smtpd_client_access_maps", PARAM_LIST, "",
     "Access tables for the client's address, its prefixes and its name (access(5))."},
    {"smtpd_client_auth_rate_limit", PARAM_INT, "0",
     "AUTH commands one client address may send per anvil_rate_time_unit (0: no limit)."},
    {"smtpd_client_connection_count_limit", PARAM_INT, "50",
     "Simultaneous connections one client address may have (0: no limit; "
     "smtpd_client_event_limit_exceptions are exempt)."},
    {"smtpd_client_connection_rate_limit", PARAM_INT, "0",
     "Connections one client address may open per anvil_rate_time_unit (0: no limit)."},
    {"smtpd_client_event_limit_exceptions", PARAM_LIST, "$mynetworks",
     "Clients exempt from the connection count and rate limits."},
    {"smtpd_client_message_rate_limit", PARAM_INT, "0",
     "MAIL commands one client address may send per anvil_rate_time_unit (0: no limit)."},
    {"smtpd_client_new_tls_session_rate_limit", PARAM_INT, "0",
     "New (not resumed) TLS sessions one client may start per anvil_rate_time_unit; more "
     "get 454 4.7.0 at STARTTLS (0: no limit)."},
    {"smtpd_client_recipient_rate_limit", PARAM_INT, "0",
     "RCPT commands one client address may send per anvil_rate_time_unit (0: no limit)."},
    {"smtpd_discard_ehlo_keywords", PARAM_LIST, "",
     "EHLO keywords (pipelining, size, starttls, auth, vrfy, enhancedstatuscodes, 8bitmime, "
     "dsn, smtputf8, chunking) left out of smtpd's EHLO reply, as a work-around for clients "
     "that mishandle one."},
    {"smtpd_dnsbl_reply_code", PARAM_INT, "554",
     "Reply code for a client that a DNS blocklist lists (5NN refuses, 4NN defers)."},
    {"smtpd_dnsbl_sites", PARAM_LIST, "",
     "DNS blocklists that untrusted clients are looked up in at RCPT: DOMAIN or "
     "DOMAIN=FILTER (127.0.0.[2..11]); empty: none."},
    {"smtpd_dnsbl_timeout", PARAM_TIME, "10s",
     "How long the DNS blocklist look-ups of one client may take, all sites together."},
    {"smtpd_end_of_data_policy_services", PARAM_LIST, "",
     "Policy servers (inet:host:port, unix:path) asked at the end of DATA, as Postfix's "
     "check_policy_service in smtpd_end_of_data_restrictions; empty: none."},
    {"smtpd_error_sleep_time", PARAM_TIME, "1s",
     "Delay of each error reply past smtpd_soft_error_limit."},
    {"smtpd_forbid_bare_newline", PARAM_STR, "yes",
     "Bare <LF> or <CR> in commands or DATA: yes (reject), normalize (accept as <CR><LF>) or no."},
    {"smtpd_greet_pause", PARAM_TIME, "0s",
     "Wait this long before the greeting; a client that talks first is refused."},
    {"smtpd_hard_error_limit", PARAM_INT, "20",
     "Errors in one session after which smtpd disconnects."},
    {"smtpd_helo_access_maps", PARAM_LIST, "",
     "Access tables for the HELO/EHLO name and its parent domains (access(5))."},
    {"smtpd_helo_required", PARAM_BOOL, "no", "Require HELO or EHLO before MAIL."},
    {"smtpd_junk_command_limit", PARAM_INT, "100",
     "HELO, EHLO, NOOP, RSET, VRFY and HELP commands before each more counts as an error."},
    {"smtpd_milter_maps", PARAM_LIST, "",
     "Tables (cidr:, say) that give the milters per client address in place of smtpd_milters; "
     "DISABLE: none for that client."},
    {"smtpd_milters", PARAM_STR, "",
     "Milters for mail received by smtpd: unix:/path, inet:host:port or { address, name=value... "
     "}."},
    {"smtpd_peername_lookup", PARAM_BOOL, "yes",
     "Look up the client's name (forward-confirmed reverse DNS) for logs and Received headers."},
    {"smtpd_policy_service_default_action", PARAM_STR, "451 4.3.5 Server configuration problem",
     "The action taken when a policy server cannot be reached or answers garbage."},
    {"smtpd_policy_service_max_idle", PARAM_TIME, "300s",
     "A policy server connection unused this long is made again before its next request."},
    {"smtpd_policy_service_max_ttl", PARAM_TIME, "1000s",
     "A policy server connection this old is made again before its next request."},
    {"smtpd_policy_service_policy_context", PARAM_STR, "",
     "Sent to policy servers as policy_context (e.g. the service, with master.conf -o)."},
    {"smtpd_policy_service_request_limit", PARAM_INT, "0",
     "Requests on one policy server connection before it is made again; 0: no limit."},
    {"smtpd_policy_service_retry_delay", PARAM_TIME, "1s",
     "The wait before a policy server is asked again after a failed attempt."},
    {"smtpd_policy_service_timeout", PARAM_TIME, "100s",
     "Time limit for connecting to, writing to and reading the reply of a policy server."},
    {"smtpd_policy_service_trusted_clients", PARAM_BOOL, "no",
     "Ask the policy servers about mail from mynetworks and authenticated clients too (rate "
     "limits per login); no: only other clients, as Postfix's usual restrictions do."},
    {"smtpd_policy_service_try_limit", PARAM_INT, "2",
     "Attempts at a policy server's answer before the default action is taken."},
    {"smtpd_policy_services", PARAM_LIST, "",
     "Policy servers (inet:host:port, unix:path) asked in order at each RCPT, after smtpd's "
     "other checks, as Postfix's check_policy_service (postgrey, policyd-spf); empty: none."},
    {"smtpd_proxy_ehlo", PARAM_STR, "$myhostname",
     "The name smtpd sends with EHLO to the smtpd_proxy_filter."},
    {"smtpd_proxy_filter", PARAM_STR, "",
     "Before-queue content filter (host:port, inet:host:port or unix:path): smtpd passes each "
     "transaction on to it instead of queueing it; empty: none."},
    {"smtpd_proxy_options", PARAM_LIST, "",
     "Options for the smtpd_proxy_filter: speed_adjust (connect only once the whole message "
     "is received)."},
    {"smtpd_proxy_timeout", PARAM_TIME, "100s",
     "Time limit for connecting to the smtpd_proxy_filter and for each of its replies."},
    {"smtpd_recipient_access_maps", PARAM_LIST, "",
     "Access tables for the recipient address, its domain and local part (access(5))."},
    {"smtpd_recipient_limit", PARAM_INT, "1000", "Most recipients accepted for one message."},
    {"smtpd_recipient_overshoot_limit", PARAM_INT, "1000",
     "RCPT commands past smtpd_recipient_limit in one transaction before each counts as an "
     "error."},
    {"smtpd_reject_footer", PARAM_STR, "",
     "Text appended to every 4NN and 5NN reply of smtpd as more reply lines (\\n: a line "
     "break; $client_address, $client_name, $client_port, $helo_name, $localtime, "
     "$server_name)."},
    {"smtpd_reject_invalid_helo_hostname", PARAM_BOOL, "no",
     "Refuse, at RCPT, an untrusted client whose HELO name is malformed "
     "(reject_invalid_helo_hostname)."},
    {"smtpd_reject_non_fqdn_helo_hostname", PARAM_BOOL, "no",
     "Refuse, at RCPT, an untrusted client whose HELO name has no dot and is no address literal "
     "(reject_non_fqdn_helo_hostname)."},
    {"smtpd_reject_non_fqdn_recipient", PARAM_BOOL, "no",
     "Refuse a recipient whose domain has no dot (reject_non_fqdn_recipient)."},
    {"smtpd_reject_non_fqdn_sender", PARAM_BOOL, "no",
     "Refuse, at RCPT, a sender whose domain has no dot (reject_non_fqdn_sender)."},
    {"smtpd_reject_sender_login_mismatch", PARAM_STR, "no",
     "Who may use a sender address: no, authenticated (a logged-in client must own it), "
     "unauthenticated (a client not logged in may not use an owned one), yes (both), known "
     "(a logged-in client may not use one owned by others)."},
    {"smtpd_reject_unknown_client_hostname", PARAM_BOOL, "no",
     "Refuse mail from an untrusted client whose address has no PTR name that resolves back "
     "to it (reject_unknown_client_hostname)."},
    {"smtpd_reject_unknown_helo_hostname", PARAM_BOOL, "no",
     "Refuse mail from an untrusted client whose HELO name has no MX, A or AAAA record "
     "(reject_unknown_helo_hostname)."},
    {"smtpd_reject_unknown_recipient_domain", PARAM_BOOL, "no",
     "Refuse mail to a domain not of ours that has no MX, A or AAAA record "
     "(reject_unknown_recipient_domain)."},
    {"smtpd_reject_unknown_reverse_client_hostname", PARAM_BOOL, "no",
     "Refuse mail from an untrusted client whose address has no PTR name "
     "(reject_unknown_reverse_client_hostname)."},
    {"smtpd_reject_unknown_sender_domain", PARAM_BOOL, "no",
     "Refuse mail whose sender domain has no MX, A or AAAA record (reject_unknown_sender_domain)."},
    {"smtpd_reject_unverified_recipient", PARAM_BOOL, "no",
     "Probe each recipient that is not delivered on this host (relay and remote domains) before "
     "accepting it (reject_unverified_recipient)."},
    {"smtpd_reject_unverified_sender", PARAM_BOOL, "no",
     "Probe the sender address (when its domain is not delivered on this host) before accepting "
     "mail from it (reject_unverified_sender)."},
    {"smtpd_relay_all_clientcerts", PARAM_BOOL, "no",
     "Trust, as mynetworks, every TLS client whose certificate verifies against "
     "smtpd_tls_CAfile (Postfix's permit_tls_all_clientcerts; needs smtpd_tls_ask_ccert): for "
     "a CA of your own only."},
    {"smtpd_rhsbl_client_sites", PARAM_LIST, "",
     "Domain blocklists (RHSBL) that an untrusted client's verified name is looked up in at "
     "RCPT (reject_rhsbl_client): DOMAIN or DOMAIN=FILTER; empty: none."},
    {"smtpd_rhsbl_helo_sites", PARAM_LIST, "",
     "Domain blocklists that an untrusted client's HELO name is looked up in at RCPT "
     "(reject_rhsbl_helo): DOMAIN or DOMAIN=FILTER; empty: none."},
    {"smtpd_rhsbl_recipient_sites", PARAM_LIST, "",
     "Domain blocklists that each recipient's domain is looked up in at RCPT, for untrusted "
     "clients (reject_rhsbl_recipient): DOMAIN or DOMAIN=FILTER; empty: none."},
    {"smtpd_rhsbl_reverse_client_sites", PARAM_LIST, "",
     "Domain blocklists that an untrusted client's PTR name, verified or not, is looked up in "
     "at RCPT (reject_rhsbl_reverse_client): DOMAIN or DOMAIN=FILTER; empty: none."},
    {"smtpd_rhsbl_sender_sites", PARAM_LIST, "",
     "Domain blocklists that the sender address's domain is looked up in at RCPT, for "
     "untrusted clients (reject_rhsbl_sender): DOMAIN or DOMAIN=FILTER; empty: none."},
    {"smtpd_sasl_auth_enable", PARAM_BOOL, "no",
     "Offer SMTP AUTH (PLAIN, LOGIN), checked by the auth service (or Dovecot: "
     "smtpd_sasl_type)."},
    {"smtpd_sasl_authenticated_header", PARAM_BOOL, "no",
     "Name the authenticated user in the Received header smtpd adds ((Authenticated sender: "
     "user)); no keeps login names out of the mail, as Postfix's default."},
    {"smtpd_sasl_path", PARAM_STR, "private/auth",
     "With smtpd_sasl_type = dovecot: Dovecot's auth socket (relative to queue_directory, an "
     "absolute path, or inet:host:port)."},
    {"smtpd_sasl_security_options", PARAM_LIST, "noanonymous",
     "SASL mechanisms smtpd does not offer without TLS, as Postfix's: noanonymous, "
     "noplaintext (PLAIN, LOGIN), nodictionary, noactive; mutual_auth and forward_secrecy "
     "offer only mechanisms that have that property (Dovecot's flags)."},
    {"smtpd_sasl_tls_security_options", PARAM_STR, "$smtpd_sasl_security_options",
     "smtpd_sasl_security_options for sessions under TLS."},
    {"smtpd_sasl_type", PARAM_STR, "postern",
     "Who checks SMTP AUTH passwords: postern (the auth service) or dovecot (Dovecot's auth "
     "server at smtpd_sasl_path)."},
    {"smtpd_sender_access_maps", PARAM_LIST, "",
     "Access tables for the sender address (<> for the null sender), its domain and local "
     "part (access(5))."},
    {"smtpd_sender_login_maps", PARAM_LIST, "",
     "Tables of the SASL logins that own each sender address or @domain "
     "(smtpd_reject_sender_login_mismatch)."},
    {"smtpd_soft_error_limit", PARAM_INT, "10",
     "Errors in one session after which each error reply is delayed."},
    {"smtpd_starttls_timeout", PARAM_TIME, "300s",
     "How long smtpd waits for a TLS handshake to finish (STARTTLS and implicit TLS)."},
    {"smtpd_timeout", PARAM_TIME, "300s",
     "How long smtpd waits for a command or data from the client."},
    {"smtpd_tls_CAfile", PARAM_STR, "",
     "Trust anchors (PEM) for client certificates asked for with smtpd_tls_ask_ccert "
     "(smtpd_relay_all_clientcerts), named in the certificate request; empty (and "
     "smtpd_tls_CApath empty): none (every client certificate is unverified)."},
    {"smtpd_tls_CApath", PARAM_STR, "",
     "A directory of trust anchors for client certificates (PEM files under their hashed "
     "names, as openssl rehash makes them), with or instead of smtpd_tls_CAfile; not named "
     "in the certificate request; empty: none."},
    {"smtpd_tls_ask_ccert", PARAM_BOOL, "no",
     "Ask TLS clients for a certificate (not required); its names go to the milter macros "
     "{cert_subject} and {cert_issuer} and the Received header, and it can let the client "
     "relay (relay_clientcerts, smtpd_relay_all_clientcerts)."},
    {"smtpd_tls_auth_only", PARAM_BOOL, "yes",
     "Offer AUTH only over TLS (except to smtpd_tls_auth_only_exempt)."},
    {"smtpd_tls_auth_only_exempt", PARAM_LIST, "",
     "Networks that may use AUTH without TLS (loopback in a test instance)."},
    {"smtpd_tls_cert_file", PARAM_STR, "",
     "PEM certificate (and chain) of smtpd; empty disables TLS."},
    {"smtpd_tls_chain_file", PARAM_STR, "",
     "Extra PEM chain certificates sent after smtpd's certificate."},
    {"smtpd_tls_cipher_list", PARAM_STR, "",
     "OpenSSL cipher list for TLS 1.2 and below; empty means OpenSSL's default."},
    {"smtpd_tls_fingerprint_digest", PARAM_STR, "sha256",
     "OpenSSL digest of the client certificate fingerprints sent to policy servers and "
     "looked up in relay_clientcerts (md5 as Postfix before 3.6)."},
    {"smtpd_tls_key_file", PARAM_STR, "$smtpd_tls_cert_file",
     "PEM private key of smtpd, read as root before privileges are dropped."},
    {"smtpd_tls_protocols", PARAM_STR, ">=TLSv1.2",
     "Lowest TLS version smtpd accepts: >=TLSv1.2 (default), >=TLSv1.3, ..."},
    {"smtpd_tls_security_level", PARAM_STR, "may",
     "TLS on an smtpd service: none, may (offer STARTTLS) or encrypt (require it before MAIL)."},
    {"smtpd_tls_session_cache_timeout", PARAM_TIME, "3600s",
     "Lifetime of the TLS session tickets smtpd gives clients to resume their session with any "
     "smtpd process; master replaces the ticket key this often. 0: no tickets."},
    {"smtpd_tls_wrappermode", PARAM_BOOL, "no",
     "Start TLS right after connect (port 465, submissions) instead of STARTTLS."},
    {"smtpd_upstream_proxy_protocol", PARAM_STR, "",
     "haproxy: every connection starts with HAProxy's PROXY header (version 1 or 2) naming the "
     "real client, as from a load balancer; empty: none."},
    {"smtpd_upstream_proxy_timeout", PARAM_TIME, "5s",
     "How long smtpd waits for the PROXY header before it closes the connection."},
    {"soft_bounce", PARAM_BOOL, "no",
     "Safety net: keep mail that would be returned to its sender deferred in the queue, and "
     "answer 4NN where smtpd would answer 5NN."},
    {"strict_rfc821_envelopes", PARAM_BOOL, "no",
     "Require the angle brackets of MAIL FROM:<...> and RCPT TO:<...> (no: an address without "
     "them is taken too, as Postfix's default)."},
    {"syslog_name", PARAM_STR, "postern",
     "Prefix of the program name in syslog lines (\"postern/smtpd\")."},
    {"tls_server_sni_maps", PARAM_STR, "",
     "Table of host name (or .parent) to PEM files (key first, then certificate chain) that "
     "smtpd and pop3d present to a client sending that TLS SNI name; empty: off."},
    {"transport_maps", PARAM_STR, "",
     "Table of address, domain or .parent to transport:nexthop (smtp:[host]:port, local:); empty: "
     "none."},
    {"unknown_address_reject_code", PARAM_INT, "450",
     "Reply code when the sender or recipient domain is unknown "
     "(smtpd_reject_unknown_sender_domain, smtpd_reject_unknown_recipient_domain)."},
    {"unknown_client_reject_code", PARAM_INT, "450",
     "Reply code when the client's name is unknown (smtpd_reject_unknown_client_hostname, "
     "smtpd_reject_unknown_reverse_client_hostname)."},
    {"unknown_hostname_reject_code", PARAM_INT, "450",
     "Reply code when the HELO name is unknown (smtpd_reject_unknown_helo_hostname)."},
    {"unverified_recipient_defer_code", PARAM_INT, "450",
     "Reply code while a recipient address verification probe has no result yet (4NN)."},
    {"unverified_recipient_reject_code", PARAM_INT, "450",
     "Reply code for a recipient that address verification found undeliverable (4NN or 5NN)."},
    {"unverified_recipient_reject_reason", PARAM_STR, "",
     "Text in place of the probe's reply when a recipient is refused as undeliverable (empty: the "
     "probe's reply)."},
    {"unverified_recipient_tempfail_action", PARAM_STR, "defer_if_permit",
     "What smtpd does when a recipient cannot be verified now (a probe deferred, the cache "
     "unreadable): defer_if_permit or defer (answer 4NN), dunno or permit (accept it)."},
    {"unverified_sender_defer_code", PARAM_INT, "450",
     "Reply code while a sender address verification probe has no result yet (4NN)."},
    {"unverified_sender_reject_code", PARAM_INT, "450",
     "Reply code for a sender that address verification found undeliverable (4NN or 5NN)."},
    {"unverified_sender_reject_reason", PARAM_STR, "",
     "Text in place of the probe's reply when a sender is refused as undeliverable (empty: the "
     "probe's reply)."},
    {"unverified_sender_tempfail_action", PARAM_STR, "defer_if_permit",
     "What smtpd does when a sender cannot be verified now (a probe deferred, the cache "
     "unreadable): defer_if_permit or defer (answer 4NN), dunno or permit (accept it)."},
    {"virtual_alias_domains", PARAM_LIST, "$virtual_alias_maps",
     "Domains whose every address is in virtual_alias_maps (names, or tables keyed by domain)."},
    {"virtual_alias_expansion_limit", PARAM_INT, "1000",
     "Most addresses that virtual alias expansion makes of one recipient."},
    {"virtual_alias_maps", PARAM_LIST, "",
     "Tables that rewrite recipients when mail is received (virtual(5))."},
    {"virtual_alias_recursion_limit", PARAM_INT, "1000",
     "Deepest nesting of virtual alias expansion."},
    {"virtual_mailbox_base", PARAM_STR, "/var/mail/vhosts",
     "Directory under which virtual mailboxes are kept."},
    {"virtual_mailbox_domains", PARAM_LIST, "",
     "Domains whose users are virtual mailboxes (mailctl user)."},
    {"virtual_mailbox_maps", PARAM_STR, "lmdb:$config_directory/vmailbox.lmdb",
     "Table of virtual mailbox addresses (built by mailctl user)."},
    {"virtual_mailbox_owner", PARAM_STR, "vmail",
     "User (or user:group) that owns and writes every virtual mailbox."},
    {"virtual_mailbox_quota_action", PARAM_STR, "defer",
     "A virtual mailbox over its quota: defer (4.2.2, retried) or bounce (552 5.2.2)."},
    {"virtual_transport", PARAM_STR, "local",
     "transport[:nexthop] for mail to virtual_mailbox_domains (after transport_maps)."},
};

const size_t param_table_count = sizeof(param_table) / sizeof(param_table[0]);

/* Per-transport parameters: a master.conf service's name, then the
 * suffix (qmgr reads them for every transport; smtp_ and local_ ones
 * have table entries above). */
const struct param_pattern param_pattern_table[] = {
    {"_destination_concurrency_limit",
     {"transport_destination_concurrency_limit", PARAM_INT,
      "$default_destination_concurrency_limit",
      "Most deliveries qmgr runs at once to one destination of the transport (a service in "
      "master.conf) named before the suffix; 0: no limit."}},
    {"_destination_rate_delay",
     {"transport_destination_rate_delay", PARAM_TIME, "$default_destination_rate_delay",
      "Least time between two deliveries to one destination of the transport named before "
      "the suffix (one at a time then); 0: none."}},
    {"_destination_recipient_limit",
     {"transport_destination_recipient_limit", PARAM_INT, "$default_destination_recipient_limit",
      "Most recipients in one delivery request of the transport named before the suffix; 0: "
      "no limit."}},
    {"_time_limit",
     {"transport_time_limit", PARAM_TIME, "$command_time_limit",
      "How long the pipe agent of the service named before the suffix lets its command run "
      "before it is killed (and the mail deferred)."}},
};

const size_t param_pattern_count = sizeof(param_pattern_table) / sizeof(param_pattern_table[0]);
