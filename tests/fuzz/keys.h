/* keys.h - the public halves of tests/fuzz/keys/{rsa,ed}.pem (test keys,
   never used for anything else); regenerate seeds with tests/fuzz/mkseeds.sh */
#define RSA_PUB "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDfDJ0IEDeP6eWg2V1aawfo0DrBp0l1xsjx0c9xRfEMeJASgqDM8NTerAcaPx4M/XRbLtv7inr5cmFCOYztq5vfaB3Jaf+mxrle60DaORbmXYfcmAxAUtkrFPO0/gTqzF8lrbhVJiYk0P0dzz39YRuZi6ImG8P9fXPGkfjGjxmS5QIDAQAB"
#define ED_PUB "xdrpGWpqjpHMOustVaAKiVBuiEv4ddZdbDQZ3G6+KHU="
