/*
 * size - MaxMessageSize: the ESMTP SIZE= announced at MAIL FROM, and
 * the bytes really received (counted by the session, never buffered).
 */
#include "autoconf.h"

#include "checks/check.h"
#include "config.h"
#include "session.h"

/* size_phase - record a size failure at MAIL or EOM */
static void
size_phase(void *global, struct tg_msg *msg, enum tg_phase phase,
    const struct tg_phase_arg *arg)
{
	unsigned long long max = msg->conn->cfg->max_message_size;

	if (max == 0)
		return;
	if (phase == TG_PH_MAIL && msg->size_announced > max)
		tg_result_add(msg, "size-limit", TG_FAIL, phase,
		    "announced SIZE=%llu exceeds %llu",
		    (unsigned long long)msg->size_announced, max);
	else if (phase == TG_PH_EOM && msg->oversize)
		tg_result_add(msg, "size-limit", TG_FAIL, phase,
		    "message of at least %llu bytes exceeds %llu",
		    (unsigned long long)msg->size, max);
}

const struct tg_check tg_check_size = {
	.name = "size-limit",
	.phases = TG_PH_MAIL | TG_PH_EOM,
	.on_phase = size_phase,
};
