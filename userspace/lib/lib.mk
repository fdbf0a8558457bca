# userspace/lib/lib.mk: libtkt.a, what several programs share with no
# knowledge of any one of them (logging, metrics text, the wire codec, the
# seat table and its UDP door), in four flavours (plain, ASan + UBSan,
# TSan, and libFuzzer's for fuzz/); its unit tests, which link nothing but
# libtkt.a, libbpf, jansson and cmocka.

LIBTKT_SRCS := $(wildcard userspace/lib/*.c)
LIBTKT_CFLAGS := $(shell pkg-config --cflags jansson rdkafka libcurl 2>/dev/null)
# What a program linking libtkt.a adds (it pulls only the objects it uses).
LIBTKT_LDLIBS := $(LDLIBS_BPF) $(shell pkg-config --libs jansson libcurl 2>/dev/null) -lpthread

LIBTKT_OBJS := $(call objs,,$(LIBTKT_SRCS))
LIBTKT_OBJS_ASAN := $(call objs,asan/,$(LIBTKT_SRCS))
LIBTKT_OBJS_TSAN := $(call objs,tsan/,$(LIBTKT_SRCS))
LIBTKT_OBJS_FUZZ := $(call objs,fuzz/,$(LIBTKT_SRCS))
$(LIBTKT_OBJS) $(LIBTKT_OBJS_ASAN) $(LIBTKT_OBJS_TSAN) $(LIBTKT_OBJS_FUZZ): private EXTRA_CFLAGS := $(LIBTKT_CFLAGS)
ALL_OBJS += $(LIBTKT_OBJS) $(LIBTKT_OBJS_ASAN) $(LIBTKT_OBJS_TSAN) $(LIBTKT_OBJS_FUZZ)

$(LIBTKT): $(LIBTKT_OBJS)
	$(archive)
$(LIBTKT_ASAN): $(LIBTKT_OBJS_ASAN)
	$(archive)
$(LIBTKT_TSAN): $(LIBTKT_OBJS_TSAN)
	$(archive)
$(LIBTKT_FUZZ): $(LIBTKT_OBJS_FUZZ)
	$(archive)

# ---- unit tests: plain, ASan + UBSan, and TSan for the threaded parts ----

LIBTKT_UNIT := test_udp_door test_wire_codec test_lib_text test_settings test_worker \
	test_change_queue test_addr_limit test_private_dir test_edge_view test_traceparent test_trace \
	test_change_record
LIBTKT_TESTS := $(addprefix $(BUILD)/tests/unit/,$(LIBTKT_UNIT))
LIBTKT_TESTS_ASAN := $(addprefix $(BUILD)/asan/tests/unit/,$(LIBTKT_UNIT))
LIBTKT_TESTS_TSAN := $(addprefix $(BUILD)/tests/unit/,$(addsuffix .tsan,test_udp_door test_worker test_change_queue test_addr_limit test_trace))

$(LIBTKT_TESTS): $(BUILD)/tests/unit/%: tests/unit/%.c $(LIBTKT)
	$(link_c)
$(LIBTKT_TESTS_ASAN): $(BUILD)/asan/tests/unit/%: tests/unit/%.c $(LIBTKT_ASAN)
	$(link_c)
$(LIBTKT_TESTS_TSAN): $(BUILD)/tests/unit/%.tsan: tests/unit/%.c $(LIBTKT_TSAN)
	$(link_c)
$(LIBTKT_TESTS) $(LIBTKT_TESTS_ASAN) $(LIBTKT_TESTS_TSAN): private EXTRA_LDLIBS := -lcmocka $(LIBTKT_LDLIBS)
$(LIBTKT_TESTS_ASAN): private FLAVOUR_CFLAGS := $(SANFLAGS)
$(LIBTKT_TESTS_TSAN): private FLAVOUR_CFLAGS := $(TSANFLAGS)

UNIT_TESTS      += $(LIBTKT_TESTS) $(LIBTKT_TESTS_TSAN)
TSAN_TESTS      += $(LIBTKT_TESTS_TSAN)
ASAN_UNIT_TESTS += $(LIBTKT_TESTS_ASAN)
