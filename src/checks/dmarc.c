/*
 * dmarc - placeholder until the check lands: records nothing.
 */
#include "autoconf.h"

#include "checks/check.h"

const struct tg_check tg_check_dmarc = {
	.name = "dmarc",
};
