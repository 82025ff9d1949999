/*
 * milter - libmilter callbacks (see milter.h). Each callback copies
 * what it needs out of libmilter's buffers, calls the session, and if
 * a verdict was reached applies it with smfi_* and logs it. No check
 * logic and no decisions live here.
 */
#include "autoconf.h"

#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "config.h"
#include "authres.h"
#include "log.h"
#include "milter.h"
#include "recorder.h"
#include "session.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "util/xmalloc.h"

/* per-connection private data: the session plus what was negotiated */
struct mconn {
	struct tg_conn *conn;
	unsigned long pflags;		/* SMFIP_* agreed with the MTA */
	int ack_fd;			/* TCP: the MTA's socket, ACKed at once; or -1 */
	bool sender_refused;		/* MAIL decided reject/tempfail, told at RCPT */
};

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long next_id;

/* the largest milter packet accepted: a header field of 2 MB */
#define MAX_PACKET (2 * 1024 * 1024)

/* phases whose answer is always "continue" need no reply at all. Body
   chunks too: a message over MaxMessageSize is refused at end of
   message, and the rest of its body costs less to read than a reply to
   every chunk of every other message (SMFIP_SKIP serves only where
   every event is answered anyway: see tcp_socket). MAIL too: a sender
   refused there is told so at each RCPT, as Postfix's own
   smtpd_delay_reject does with its sender restrictions, and the MTA
   sends no message without a recipient. */
#define WANT_PFLAGS (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_HDR \
	| SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NOUNKNOWN \
	| SMFIP_NODATA | SMFIP_SKIP | SMFIP_HDR_LEADSPC)
#define NR_PFLAGS (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT \
	| SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY)

/* Over TCP (inet:), an MTA that sends two events without reading a
   reply in between meets Nagle's algorithm on its side and our delayed
   ACK, and waits about 40 ms (tests/bench: 44 ms per message with
   Postfix 3.7). So there, after each event that gets no reply, the ACK
   of what we have read leaves at once (TCP_QUICKACK on the connection's
   socket). DATA and unknown commands are taken too (no reply), not
   declined: Postfix sends their macros anyway, alone, and only an event
   of ours can ACK them. A connection whose socket we cannot find is
   asked for, and given, a reply to every event instead. Set before
   smfi_main. */
static bool tcp_socket;
static int listen_port;			/* the TCP port libmilter listens on */

/* The head of libmilter's private struct smfi_str as Debian 12's
   libmilter 8.17 lays it out (an 8-byte session id, then the socket):
   the only way to the connection's socket. Read only, and trusted only
   after conn_socket() has checked what it is; run-inet.sh fails when
   that check stops finding it. */
struct smfi_head {
	uint64_t ctx_id;
	int ctx_sd;
};

#define WANT_AFLAGS (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE)

/* mconn_get - the private data, created on first use */
static struct mconn *
mconn_get(SMFICTX *ctx)
{
	struct mconn *mc = smfi_getpriv(ctx);
	unsigned long id;
	struct tg_config *cfg;

	if (mc != NULL)
		return mc;
	cfg = tg_config_acquire();
	if (cfg == NULL)
		return NULL;
	pthread_mutex_lock(&id_lock);
	id = ++next_id;
	pthread_mutex_unlock(&id_lock);
	mc = xcalloc(1, sizeof(*mc));
	mc->ack_fd = -1;
	mc->conn = tg_conn_new(cfg, id);
	if (smfi_setpriv(ctx, mc) != MI_SUCCESS) {
		tg_conn_free(&mc->conn);
		free(mc);
		return NULL;
	}
	return mc;
}

/* port_of - the port of a TCP socket address; -1 for anything else */
static int
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return -1;
}

/* conn_socket - the MTA connection's TCP socket: a connected stream
   socket on the port we listen on; -1 when the descriptor libmilter's
   context names is anything else */
static int
conn_socket(SMFICTX *ctx)
{
	int fd = ((const struct smfi_head *)(const void *)ctx)->ctx_sd, type = 0;
	socklen_t tl = sizeof(type), sl = sizeof(struct sockaddr_storage);
	struct sockaddr_storage local, peer;

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0
	    || type != SOCK_STREAM
	    || getsockname(fd, (struct sockaddr *)&local, &sl) != 0
	    || listen_port <= 0 || port_of(&local) != listen_port)
		return -1;
	sl = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &sl) != 0 || port_of(&peer) < 0)
		return -1;
	return fd;
}

/* cont - "continue", or no reply when negotiated for this phase (over
   TCP, with the ACK of this event sent now: see tcp_socket) */
static sfsistat
cont(const struct mconn *mc, unsigned long nr_flag)
{
	int one = 1;

	if (!(mc->pflags & nr_flag))
		return SMFIS_CONTINUE;
	if (mc->ack_fd >= 0)
		(void)setsockopt(mc->ack_fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	return SMFIS_NOREPLY;
}

/* set_str - replace an owned string with a copy of s (NULL allowed) */
static void
set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

/* macros - pick up the macros that may arrive at any phase */
static void
macros(SMFICTX *ctx, struct tg_conn *conn)
{
	const char *v;

	if (conn->daemon_name == NULL && (v = smfi_getsymval(ctx, "{daemon_name}")) != NULL)
		set_str(&conn->daemon_name, v);
	if (conn->tls_version == NULL && (v = smfi_getsymval(ctx, "{tls_version}")) != NULL)
		set_str(&conn->tls_version, v);
	if ((v = smfi_getsymval(ctx, "{auth_authen}")) != NULL && v[0] != '\0')
		set_str(&conn->auth_user, v);
	if (conn->msg != NULL && conn->msg->qid == NULL
	    && (v = smfi_getsymval(ctx, "i")) != NULL && v[0] != '\0')
		conn->msg->qid = tg_arena_strdup(conn->msg->arena, v);
}

/* internal_error - our own fault: OnInternalError decides */
static sfsistat
internal_error(SMFICTX *ctx, struct tg_conn *conn, const char *what)
{
	struct tg_config *cfg = conn != NULL ? conn->cfg : NULL;
	enum tg_action act = cfg != NULL ? cfg->on_internal_error : TG_TEMPFAIL;

	tg_log_conn(TG_LOG_ERR, conn, conn ? conn->msg : NULL,
	    "internal error: %s; action=%s", what, tg_action_name(act));
	if (act == TG_ACCEPT)
		return SMFIS_ACCEPT;
	{
		char text[128];

		/* the same reference as the log line above */
		if (conn != NULL && conn->msg != NULL)
			snprintf(text, sizeof(text), "Temporary filter failure, try again later "
			    "(ref: %s)", tg_msg_ref(conn->msg));
		else
			snprintf(text, sizeof(text), "Temporary filter failure, try again later "
			    "(ref: c%lu)", conn ? conn->id : 0UL);
		smfi_setreply(ctx, "451", "4.3.0", text);
	}
	return SMFIS_TEMPFAIL;
}

/* reply - set the SMTP reply for a reject/tempfail verdict */
static sfsistat
reply(SMFICTX *ctx, const struct tg_msg *msg)
{
	const struct tg_verdict *v = &msg->verdict;
	struct tg_strbuf text = { 0 };
	int rc;

	tg_verdict_reply_text(v, tg_msg_ref(msg), &text);
	rc = smfi_setreply(ctx, (char *)tg_verdict_code(v), (char *)tg_verdict_xcode(v),
	    text.s);
	tg_strbuf_free(&text);
	if (rc != MI_SUCCESS)
		tg_log_conn(TG_LOG_WARN, msg->conn, msg, "smfi_setreply failed; MTA default reply used");
	return v->action == TG_TEMPFAIL ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

/* early_verdict - a gate decided at MAIL or RCPT. A sender refused
   with no reply to MAIL (SMFIP_NR_MAIL) keeps its message, and each
   RCPT gets the refusal (refused_rcpt) */
static sfsistat
early_verdict(SMFICTX *ctx, struct mconn *mc, const char *rcpt)
{
	struct tg_msg *msg = mc->conn->msg;
	sfsistat rc;

	tg_log_verdict(msg, rcpt);
	tg_recorder_record(msg, rcpt != NULL ? TG_PH_RCPT : TG_PH_MAIL, rcpt);
	if (msg->verdict.action < TG_TEMPFAIL)
		return rcpt != NULL ? SMFIS_CONTINUE : cont(mc, SMFIP_NR_MAIL);
	if (rcpt == NULL && (mc->pflags & SMFIP_NR_MAIL)) {
		mc->sender_refused = true;
		return cont(mc, SMFIP_NR_MAIL);
	}
	rc = reply(ctx, msg);
	if (rcpt != NULL)
		msg->nrcpts_rejected++;
	else
		tg_msg_free(mc->conn);
	return rc;
}

/* refused_rcpt - a recipient of a sender refused at MAIL: the MAIL
   verdict's reply, already logged and recorded */
static sfsistat
refused_rcpt(SMFICTX *ctx, struct mconn *mc)
{
	mc->conn->msg->nrcpts_rejected++;
	return reply(ctx, mc->conn->msg);
}

static sfsistat
mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct mconn *mc = mconn_get(ctx);

	if (mc == NULL)
		return SMFIS_TEMPFAIL;
	*pf0 = f0 & WANT_AFLAGS;
	*pf1 = f1 & WANT_PFLAGS;
	if (tcp_socket && (mc->ack_fd = conn_socket(ctx)) < 0)
		*pf1 &= ~(unsigned long)(NR_PFLAGS | SMFIP_NODATA | SMFIP_NOUNKNOWN);
	else if (tcp_socket)
		*pf1 &= ~(unsigned long)(SMFIP_NODATA | SMFIP_NOUNKNOWN);
	*pf2 = *pf3 = 0;
	mc->pflags = *pf1;
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct mconn *mc = mconn_get(ctx);
	struct tg_ip ip;

	if (mc == NULL)
		return internal_error(ctx, NULL, "no connection context");
	set_str(&mc->conn->hostname, hostname);
	if (tg_ip_from_sockaddr(hostaddr, &ip) == 0)
		tg_conn_set_ip(mc->conn, &ip);
	else
		tg_conn_set_ip(mc->conn, NULL);
	macros(ctx, mc->conn);
	return cont(mc, SMFIP_NR_CONN);
}

static sfsistat
mlfi_helo(SMFICTX *ctx, char *helo)
{
	struct mconn *mc = mconn_get(ctx);

	if (mc == NULL)
		return internal_error(ctx, NULL, "no connection context");
	set_str(&mc->conn->helo, helo);
	macros(ctx, mc->conn);
	return cont(mc, SMFIP_NR_HELO);
}

static sfsistat
mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	struct mconn *mc = mconn_get(ctx);
	struct tg_msg *msg;
	const char *err;

	if (mc == NULL)
		return internal_error(ctx, NULL, "no connection context");
	mc->sender_refused = false;
	msg = tg_msg_new(mc->conn);
	macros(ctx, mc->conn);
	if (tg_msg_set_sender(msg, argv[0], argv[0] ? argv + 1 : NULL, &err) < 0)
		tg_log_conn(TG_LOG_INFO, mc->conn, msg, "unparsable sender: %s", err);
	if (tg_session_phase(msg, TG_PH_MAIL, NULL))
		return early_verdict(ctx, mc, NULL);
	return cont(mc, SMFIP_NR_MAIL);
}

static sfsistat
mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	struct mconn *mc = mconn_get(ctx);
	struct tg_phase_arg arg = { 0 };
	struct tg_msg *msg;

	if (mc == NULL || mc->conn->msg == NULL)
		return internal_error(ctx, mc ? mc->conn : NULL, "recipient without a message");
	if (mc->sender_refused)
		return refused_rcpt(ctx, mc);
	msg = mc->conn->msg;
	macros(ctx, mc->conn);
	arg.rcpt = argv[0] ? argv[0] : "";
	if (tg_session_phase(msg, TG_PH_RCPT, &arg)) {
		sfsistat rc = early_verdict(ctx, mc, arg.rcpt);

		if (rc != SMFIS_CONTINUE)
			return rc;
	}
	tg_msg_add_rcpt(msg, arg.rcpt);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	struct mconn *mc = mconn_get(ctx);
	struct tg_phase_arg arg = { 0 };

	if (mc == NULL || mc->conn->msg == NULL)
		return internal_error(ctx, mc ? mc->conn : NULL, "header without a message");
	arg.hname = name;
	arg.hvalue = value;
	arg.leadspc = (mc->pflags & SMFIP_HDR_LEADSPC) != 0;
	tg_session_phase(mc->conn->msg, TG_PH_HEADER, &arg);
	return cont(mc, SMFIP_NR_HDR);
}

/* mlfi_data, mlfi_unknown - asked for over TCP only (see tcp_socket) */
static sfsistat
mlfi_data(SMFICTX *ctx)
{
	struct mconn *mc = mconn_get(ctx);

	return mc != NULL ? cont(mc, SMFIP_NR_DATA) : SMFIS_CONTINUE;
}

static sfsistat
mlfi_unknown(SMFICTX *ctx, const char *cmd)
{
	struct mconn *mc = mconn_get(ctx);

	(void)cmd;
	return mc != NULL ? cont(mc, SMFIP_NR_UNKN) : SMFIS_CONTINUE;
}

static sfsistat
mlfi_eoh(SMFICTX *ctx)
{
	struct mconn *mc = mconn_get(ctx);

	if (mc == NULL || mc->conn->msg == NULL)
		return internal_error(ctx, mc ? mc->conn : NULL, "headers without a message");
	macros(ctx, mc->conn);
	tg_session_phase(mc->conn->msg, TG_PH_EOH, NULL);
	return cont(mc, SMFIP_NR_EOH);
}

static sfsistat
mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct mconn *mc = mconn_get(ctx);
	struct tg_phase_arg arg = { 0 };
	struct tg_msg *msg;

	if (mc == NULL || mc->conn->msg == NULL)
		return internal_error(ctx, mc ? mc->conn : NULL, "body without a message");
	msg = mc->conn->msg;
	arg.body = chunk;
	arg.bodylen = len;
	tg_session_phase(msg, TG_PH_BODY, &arg);
	if (msg->oversize && (mc->pflags & (SMFIP_SKIP | SMFIP_NR_BODY)) == SMFIP_SKIP)
		return SMFIS_SKIP;
	return cont(mc, SMFIP_NR_BODY);
}

enum hdr_op { HDR_ADD, HDR_TOP, HDR_CHANGE };

/* put_header - add at the end, insert at the top, or change the first
   header called name. With SMFIP_HDR_LEADSPC the MTA puts no space
   after the colon of what we write, so the value gets one here. */
static int
put_header(SMFICTX *ctx, const struct mconn *mc, enum hdr_op op, const char *name,
    const char *value)
{
	struct tg_strbuf sb = { 0 };
	int rc;

	if (mc->pflags & SMFIP_HDR_LEADSPC) {
		tg_strbuf_addch(&sb, ' ');
		tg_strbuf_append(&sb, value);
		value = sb.s;
	}
	if (op == HDR_ADD)
		rc = smfi_addheader(ctx, (char *)name, (char *)value);
	else if (op == HDR_TOP)
		rc = smfi_insheader(ctx, 0, (char *)name, (char *)value);
	else
		rc = smfi_chgheader(ctx, (char *)name, 1, (char *)value);
	tg_strbuf_free(&sb);
	return rc;
}

/* tag_headers - X-Spam-Flag, X-Tollgate-Verdict, subject prefix */
static int
tag_headers(SMFICTX *ctx, const struct mconn *mc, const struct tg_msg *msg, bool flag)
{
	const struct tg_config *cfg = msg->conn->cfg;
	struct tg_strbuf sb = { 0 };
	const char *subject;
	int rc = MI_SUCCESS;

	if (!cfg->tag_headers)
		return MI_SUCCESS;
	if (flag)
		rc = put_header(ctx, mc, HDR_ADD, "X-Spam-Flag", "YES");
	tg_verdict_header(&msg->verdict, &sb);
	if (rc == MI_SUCCESS)
		rc = put_header(ctx, mc, HDR_ADD, "X-Tollgate-Verdict", sb.s);
	tg_strbuf_free(&sb);
	if (!flag || cfg->tag_subject_prefix[0] == '\0' || rc != MI_SUCCESS)
		return rc;
	subject = tg_msg_header(msg, "Subject");
	tg_strbuf_append(&sb, cfg->tag_subject_prefix);
	if (subject != NULL) {
		tg_strbuf_append(&sb, subject);
		rc = put_header(ctx, mc, HDR_CHANGE, "Subject", sb.s);
	} else {
		rc = put_header(ctx, mc, HDR_ADD, "Subject", sb.s);
	}
	tg_strbuf_free(&sb);
	return rc;
}

/* quarantine - hold in the MTA's queue with our reasons */
static int
quarantine(SMFICTX *ctx, const struct tg_msg *msg)
{
	struct tg_strbuf why = { 0 }, reasons = { 0 };
	int rc;

	tg_verdict_reasons(&msg->verdict, &reasons);
	tg_strbuf_append(&why, "tollgate: ");
	tg_text_header(&why, msg->verdict.rule ? msg->verdict.rule : "policy", 64);
	if (msg->verdict.text != NULL) {
		tg_strbuf_append(&why, ": ");
		tg_text_header(&why, msg->verdict.text, 200);
	}
	if (reasons.len > 0) {
		tg_strbuf_append(&why, ": ");
		tg_text_header(&why, reasons.s, 200);
	}
	rc = smfi_quarantine(ctx, why.s);
	tg_strbuf_free(&why);
	tg_strbuf_free(&reasons);
	return rc;
}

/* authres - remove Authentication-Results headers that claim our
   authserv-id, then put ours on top */
static int
authres(SMFICTX *ctx, const struct mconn *mc, const struct tg_msg *msg)
{
	const char *id = msg->conn->cfg->authserv_id;
	struct tg_strbuf sb = { 0 };
	int idx[64], rc = MI_SUCCESS;
	size_t n = tg_authres_forged(msg, id, idx, sizeof(idx) / sizeof(idx[0]));

	for (size_t i = 0; i < n && rc == MI_SUCCESS; i++)
		rc = smfi_chgheader(ctx, "Authentication-Results", idx[i], NULL);
	if (n > 0)
		tg_log_conn(TG_LOG_INFO, msg->conn, msg,
		    "removed %zu Authentication-Results header(s) claiming %s", n, id);
	tg_authres_value(msg, id, &sb);
	if (rc == MI_SUCCESS)
		rc = put_header(ctx, mc, HDR_TOP, "Authentication-Results", sb.s);
	tg_strbuf_truncate(&sb, 0);
	if (rc == MI_SUCCESS && msg->conn->cfg->received_spf
	    && tg_authres_received_spf(msg, id, &sb))
		rc = put_header(ctx, mc, HDR_TOP, "Received-SPF", sb.s);
	tg_strbuf_free(&sb);
	return rc;
}

/* modify_failed - the MTA refused a change to the message: our fault,
   OnInternalError decides, and the verdict logged and recorded says so */
static sfsistat
modify_failed(SMFICTX *ctx, struct tg_msg *msg)
{
	static const char rule[] = "internal-error:milter";
	struct tg_verdict *v = &msg->verdict;

	if (msg->conn->cfg->on_internal_error == TG_TEMPFAIL)
		tg_verdict_set(v, TG_TEMPFAIL, "451", "4.3.0",
		    "Temporary filter failure, try again later", rule);
	tg_verdict_reason(msg->arena, v, "%s: could not modify the message", rule);
	return internal_error(ctx, msg->conn, "could not modify the message");
}

/* apply - carry out an end-of-message verdict */
static sfsistat
apply(SMFICTX *ctx, const struct mconn *mc, struct tg_msg *msg)
{
	const struct tg_verdict *v = &msg->verdict;
	int rc;

	if (v->action == TG_REJECT || v->action == TG_TEMPFAIL)
		return reply(ctx, msg);
	rc = authres(ctx, mc, msg);
	if (rc == MI_SUCCESS && v->action != TG_ACCEPT)
		rc = tag_headers(ctx, mc, msg, true);
	else if (rc == MI_SUCCESS && v->monitored)
		rc = tag_headers(ctx, mc, msg, false);
	if (rc == MI_SUCCESS && v->action == TG_QUARANTINE)
		rc = quarantine(ctx, msg);
	if (rc != MI_SUCCESS)
		return modify_failed(ctx, msg);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_eom(SMFICTX *ctx)
{
	struct mconn *mc = mconn_get(ctx);
	struct tg_msg *msg;
	sfsistat rc;

	if (mc == NULL || mc->conn->msg == NULL)
		return internal_error(ctx, mc ? mc->conn : NULL, "end of message without a message");
	msg = mc->conn->msg;
	if (mc->sender_refused) {	/* an MTA that went on regardless */
		rc = reply(ctx, msg);
	} else {
		macros(ctx, mc->conn);
		tg_session_phase(msg, TG_PH_EOM, NULL);
		rc = apply(ctx, mc, msg);
		tg_recorder_record(msg, TG_PH_EOM, NULL);
		tg_log_verdict(msg, NULL);
	}
	mc->sender_refused = false;
	tg_msg_free(mc->conn);
	return rc;
}

static sfsistat
mlfi_abort(SMFICTX *ctx)
{
	struct mconn *mc = smfi_getpriv(ctx);

	if (mc != NULL) {
		mc->sender_refused = false;
		tg_msg_free(mc->conn);
	}
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_close(SMFICTX *ctx)
{
	struct mconn *mc = smfi_getpriv(ctx);

	if (mc == NULL)
		return SMFIS_CONTINUE;
	tg_conn_free(&mc->conn);
	free(mc);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "tollgate",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = WANT_AFLAGS,
	.xxfi_connect = mlfi_connect,
	.xxfi_helo = mlfi_helo,
	.xxfi_envfrom = mlfi_envfrom,
	.xxfi_envrcpt = mlfi_envrcpt,
	.xxfi_data = mlfi_data,
	.xxfi_unknown = mlfi_unknown,
	.xxfi_header = mlfi_header,
	.xxfi_eoh = mlfi_eoh,
	.xxfi_body = mlfi_body,
	.xxfi_eom = mlfi_eom,
	.xxfi_abort = mlfi_abort,
	.xxfi_close = mlfi_close,
	.xxfi_negotiate = mlfi_negotiate,
};

/* unix_socket_alive - something accepts connections on path: another
   tollgate still serving; removing its socket would orphan it */
static bool
unix_socket_alive(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return false;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
}

/* each_listener - fn for every listening socket we hold: libmilter's
   (it does not say which descriptor that is) */
static void
each_listener(void (*fn)(int fd, const struct sockaddr_storage *ss, socklen_t sl))
{
	long max = sysconf(_SC_OPEN_MAX);

	for (int fd = 0; fd < (max > 0 && max < 4096 ? max : 4096); fd++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss), ol = sizeof(int);
		int listening = 0;

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ol) == 0 && listening
		    && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			fn(fd, &ss, sl);
	}
}

/* tcp_nodelay - TCP_NODELAY on a TCP listening socket (and its port
   noted for conn_socket). Accepted
   connections inherit it (Linux, the BSDs), so that at end of message a
   header change and the final "continue" leave at once instead of the
   second one waiting for the MTA's delayed ACK of the first (~40 ms). */
static void
tcp_nodelay(int fd, const struct sockaddr_storage *ss, socklen_t sl)
{
	int one = 1;

	(void)sl;
	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
		return;
	listen_port = port_of(ss);
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		tg_log(TG_LOG_WARN, "TCP_NODELAY on the milter socket: %s", strerror(errno));
}

/* wake_listener - connect to a listening socket and hang up at once:
   libmilter's listener holds a lock while it sleeps in poll() for up to
   5 s, and smfi_stop() waits for that lock; a connection ends the sleep */
static void
wake_listener(int fd, const struct sockaddr_storage *ss, socklen_t sl)
{
	struct sockaddr_storage to = *ss;
	int s;

	(void)fd;
	if (to.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&to;

		if (in->sin_addr.s_addr == htonl(INADDR_ANY))
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (to.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&to;

		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
	} else if (to.ss_family != AF_UNIX) {
		return;
	}
	s = socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return;
	(void)connect(s, (struct sockaddr *)&to, sl);
	close(s);
}

int
tg_milter_open(const struct tg_config *cfg, unsigned int uid, unsigned int gid)
{
	const char *sock = cfg->socket;
	mode_t old_umask;
	int rc;

	if ((strncmp(sock, "unix:", 5) == 0 || strncmp(sock, "local:", 6) == 0)
	    && unix_socket_alive(strchr(sock, ':') + 1)) {
		tg_log(TG_LOG_ERR, "socket %s is in use by a running process; "
		    "not taking it over", sock);
		return -1;
	}

	if (smfi_setconn((char *)sock) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
		tg_log(TG_LOG_ERR, "cannot register the milter on %s", sock);
		return -1;
	}
	smfi_settimeout((int)cfg->milter_timeout);
	/* libmilter drops the connection on a packet over 64 KB, and a
	   header field is one packet: Postfix passes header lines of up to
	   header_size_limit (100 KB by default) and the MTA would tempfail
	   such a message for ever. Take headers up to MAX_PACKET instead. */
	smfi_setmaxdatasize(MAX_PACKET);
	tg_recorder_prepare(cfg, uid, gid);	/* StateDB: still root here */
	old_umask = umask(0777 & ~(mode_t)cfg->socket_mode);
	rc = smfi_opensocket(true);
	umask(old_umask);
	if (rc != MI_SUCCESS) {
		tg_log(TG_LOG_ERR, "cannot open socket %s (in use, or no permission?)", sock);
		return -1;
	}
	tcp_socket = strncmp(sock, "inet:", 5) == 0 || strncmp(sock, "inet6:", 6) == 0;
	if (tcp_socket)
		each_listener(tcp_nodelay);
	if (strncmp(sock, "unix:", 5) == 0 || strncmp(sock, "local:", 6) == 0) {
		const char *path = strchr(sock, ':') + 1;

		if (chmod(path, cfg->socket_mode) != 0) {
			tg_log(TG_LOG_ERR, "chmod %s: %s", path, strerror(errno));
			return -1;
		}
		if (uid != (unsigned int)-1 && chown(path, uid, gid) != 0) {
			tg_log(TG_LOG_ERR, "chown %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int
tg_milter_run(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	/* libmilter runs every connection on a thread of its own and glibc
	   would give those threads up to 8 malloc arenas per core, each
	   keeping freed memory: about 3 MB more peak RSS at 100 connections
	   (tests/bench). One arena per core keeps lock contention as low. */
	mallopt(M_ARENA_MAX, cpus > 2 ? (int)cpus : 2);
	tg_recorder_start();
	rc = smfi_main() == MI_SUCCESS ? 0 : -1;
	tg_recorder_stop();
	return rc;
}

static atomic_bool stopped;

/* waker - wake the listener until smfi_stop() has got through */
static void *
waker(void *arg)
{
	const struct timespec pause = { 0, 20 * 1000 * 1000 };

	(void)arg;
	while (!atomic_load(&stopped)) {
		each_listener(wake_listener);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

void
tg_milter_stop(void)
{
	pthread_t tid;
	bool waking = pthread_create(&tid, NULL, waker, NULL) == 0;

	smfi_stop();		/* ~20 ms instead of up to 5 s */
	atomic_store(&stopped, true);
	if (waking)
		pthread_join(tid, NULL);
}
