# fuzz.mk - builds the libFuzzer harnesses (GNU make). Run by the top
# Makefile's "make fuzz", "make fuzz-replay" and "make fuzz-run", which
# pass FUZZ_CC (from configure), top_srcdir, top_builddir, FUZZ_CPPFLAGS,
# FUZZ_LIBS, LIB_SRCS (the sources of src/libtollgate.a) and FUZZ_TIME.
#
# Everything, the library included, is compiled again with clang and
# -fsanitize=fuzzer-no-link,address,undefined into tests/fuzz/obj of the
# build tree; the daemon's own build is not touched.

HARNESSES = fuzz_config fuzz_policy fuzz_addr fuzz_from fuzz_authres \
	fuzz_spf_record fuzz_dmarc fuzz_message
OUT = $(top_builddir)/tests/fuzz
OBJ = $(OUT)/obj
SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FCFLAGS = -g -O1 -std=c11 -fno-omit-frame-pointer $(SAN) -fsanitize=fuzzer-no-link \
	-MMD -MP -I$(top_builddir) -I$(top_srcdir)/src -I$(top_srcdir)/tests/fuzz \
	$(FUZZ_CPPFLAGS)
SRCS = $(filter %.c,$(LIB_SRCS)) tests/fuzz/fuzzlib.c
OBJS = $(patsubst %.c,$(OBJ)/%.o,$(SRCS))
BINS = $(addprefix $(OUT)/,$(HARNESSES))
FUZZ_TIME ?= 60

fuzz: $(BINS)

fuzz-replay: $(BINS)
	sh $(top_srcdir)/tests/fuzz/run.sh replay $(OUT) $(top_srcdir)/tests/fuzz

fuzz-run: $(BINS)
	sh $(top_srcdir)/tests/fuzz/run.sh fuzz $(OUT) $(top_srcdir)/tests/fuzz $(FUZZ_TIME)

$(OBJ)/%.o: $(top_srcdir)/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FCFLAGS) -c $< -o $@

$(OUT)/fuzz_%: $(OBJ)/tests/fuzz/fuzz_%.o $(OBJS)
	$(FUZZ_CC) $(SAN) -fsanitize=fuzzer $^ -o $@ $(FUZZ_LIBS)

-include $(OBJS:.o=.d) $(patsubst %,$(OBJ)/tests/fuzz/%.d,$(HARNESSES))

.PHONY: fuzz fuzz-replay fuzz-run
.SECONDARY:
