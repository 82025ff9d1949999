/*
 * relay - who may send to which domains, enforced by us even when the
 * MTA itself would relay (an open-relay Postfix stays closed):
 *   - a recipient outside LocalDomains needs a trusted or
 *     authenticated client; every domain the address could be routed
 *     through (source routes, %-hack, bang paths, quoted '@') counts;
 *   - a SubmissionDaemons service needs SMTP AUTH;
 *   - an authenticated client may only use sender addresses that the
 *     SenderLoginMap gives its login.
 */
#include "autoconf.h"

#include "checks/check.h"
#include "config.h"
#include "session.h"
#include "util/arena.h"

/* is_local - one routing domain is one of ours */
static bool
is_local(const char *domain, void *ctx)
{
	const struct tg_config *cfg = ctx;

	return domain[0] != '\0' && tg_strlist_match_domain(&cfg->local_domains, domain);
}

/* check_sender - submission AUTH and sender ownership, at MAIL */
static void
check_sender(struct tg_msg *msg)
{
	const struct tg_conn *conn = msg->conn;
	const struct tg_config *cfg = conn->cfg;
	char *addr;

	if (conn->auth_user == NULL) {
		if (conn->daemon_name != NULL
		    && tg_strlist_has(&cfg->submission_daemons, conn->daemon_name))
			tg_result_add(msg, "auth-required", TG_FAIL, TG_PH_MAIL,
			    "service %s requires SMTP AUTH", conn->daemon_name);
		return;
	}
	if (cfg->sender_login_map == NULL || !msg->sender_ok || msg->sender.null)
		return;
	addr = tg_arena_printf(msg->arena, "%s@%s", msg->sender.local, msg->sender.domain);
	if (!tg_config_sender_owned(cfg, addr, msg->sender.domain, conn->auth_user))
		tg_result_add(msg, "sender-login", TG_FAIL, TG_PH_MAIL,
		    "sender %s is not owned by login %s", addr, conn->auth_user);
}

/* check_rcpt - relay control for one recipient */
static void
check_rcpt(struct tg_msg *msg, const char *rcpt)
{
	const struct tg_conn *conn = msg->conn;
	struct tg_addr addr;
	const char *err;

	if (conn->trusted || conn->auth_user != NULL)
		return;
	if (tg_addr_parse(msg->arena, rcpt, &addr, &err) < 0) {
		tg_result_add(msg, "relay", TG_FAIL, TG_PH_RCPT,
		    "rcpt %s: %s", rcpt, err);
		return;
	}
	if (addr.null)
		tg_result_add(msg, "relay", TG_FAIL, TG_PH_RCPT, "empty recipient");
	else if (!tg_addr_each_domain(msg->arena, &addr, is_local, conn->cfg))
		tg_result_add(msg, "relay", TG_FAIL, TG_PH_RCPT,
		    "rcpt %s: not a local domain, client %s neither trusted nor authenticated",
		    rcpt, conn->addr);
}

/* relay_phase - dispatch */
static void
relay_phase(void *global, struct tg_msg *msg, enum tg_phase phase,
    const struct tg_phase_arg *arg)
{
	if (phase == TG_PH_MAIL)
		check_sender(msg);
	else if (phase == TG_PH_RCPT && arg->rcpt != NULL)
		check_rcpt(msg, arg->rcpt);
}

const struct tg_check tg_check_relay = {
	.name = "relay",
	.phases = TG_PH_MAIL | TG_PH_RCPT,
	.on_phase = relay_phase,
};
