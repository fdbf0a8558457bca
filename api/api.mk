# api/api.mk: libapi.a, the HTTP/SSE layer over libmicrohttpd (server,
# router, JSON errors, streamed and deferred answers, static files), plain,
# ASan + UBSan and libFuzzer's flavour (for fuzz/); and its unit test.

API_SRCS := $(wildcard api/*.c)
API_CFLAGS := $(shell pkg-config --cflags jansson libmicrohttpd 2>/dev/null)
# What a program linking libapi.a adds.
API_LDLIBS := $(shell pkg-config --libs jansson libmicrohttpd 2>/dev/null) -lpthread

API_OBJS := $(call objs,,$(API_SRCS))
API_OBJS_ASAN := $(call objs,asan/,$(API_SRCS))
API_OBJS_FUZZ := $(call objs,fuzz/,$(API_SRCS))
$(API_OBJS) $(API_OBJS_ASAN) $(API_OBJS_FUZZ): private EXTRA_CFLAGS := $(API_CFLAGS)
ALL_OBJS += $(API_OBJS) $(API_OBJS_ASAN) $(API_OBJS_FUZZ)

$(LIBAPI): $(API_OBJS)
	$(archive)
$(LIBAPI_ASAN): $(API_OBJS_ASAN)
	$(archive)
$(LIBAPI_FUZZ): $(API_OBJS_FUZZ)
	$(archive)

API_TEST := $(BUILD)/tests/unit/test_http_util
API_TEST_ASAN := $(BUILD)/asan/tests/unit/test_http_util

$(API_TEST): tests/unit/test_http_util.c $(LIBAPI) $(LIBTKT)
	$(link_c)
$(API_TEST_ASAN): tests/unit/test_http_util.c $(LIBAPI_ASAN) $(LIBTKT_ASAN)
	$(link_c)
$(API_TEST) $(API_TEST_ASAN): private EXTRA_CFLAGS := $(API_CFLAGS)
$(API_TEST) $(API_TEST_ASAN): private EXTRA_LDLIBS := -lcmocka $(API_LDLIBS) $(LIBTKT_LDLIBS)
$(API_TEST_ASAN): private FLAVOUR_CFLAGS := $(SANFLAGS)

UNIT_TESTS      += $(API_TEST)
ASAN_UNIT_TESTS += $(API_TEST_ASAN)
