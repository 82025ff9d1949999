/* dkimsign - placeholder: the DKIM signer for functional tests lands with the DKIM check */
#include <stdio.h>

int
main(void)
{
	fputs("dkimsign: not built yet\n", stderr);
	return 2;
}
