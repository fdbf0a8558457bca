# userspace/paymentd/paymentd.mk: paymentd, the simulated card gateway (a
# separate program: it links libtkt.a, never ticketd). Its decision logic
# (payment_sim.c) is unit-tested plain and under ASan + UBSan.

PAYMENTD_CFLAGS := $(shell pkg-config --cflags jansson libmicrohttpd 2>/dev/null)
PAYMENTD_LIBS   := $(shell pkg-config --libs jansson libmicrohttpd 2>/dev/null) -lpthread -lm

PAYMENTD_SRCS := userspace/paymentd/paymentd.c userspace/paymentd/payment_sim.c
PAYMENTD_OBJS := $(call objs,,$(PAYMENTD_SRCS))
PAYMENTD_SIM_ASAN := $(call objs,asan/,userspace/paymentd/payment_sim.c)
$(PAYMENTD_OBJS) $(PAYMENTD_SIM_ASAN): private EXTRA_CFLAGS := $(PAYMENTD_CFLAGS)
ALL_OBJS += $(PAYMENTD_OBJS) $(PAYMENTD_SIM_ASAN)

PAYMENTD := $(BUILD)/paymentd
PAYMENTD_UNIT := $(BUILD)/tests/unit/test_payment_sim
PAYMENTD_UNIT_ASAN := $(BUILD)/asan/tests/unit/test_payment_sim

$(PAYMENTD): $(PAYMENTD_OBJS) $(LIBTKT)
	$(link_c)
# sd_notify (paymentd.c; infra/systemd/paymentd.service)
$(PAYMENTD): private EXTRA_LDLIBS := $(PAYMENTD_LIBS) $(LIBTKT_LDLIBS) \
	$(shell pkg-config --libs libsystemd 2>/dev/null)

$(PAYMENTD_UNIT): tests/unit/test_payment_sim.c $(call objs,,userspace/paymentd/payment_sim.c)
	$(link_c)
$(PAYMENTD_UNIT_ASAN): tests/unit/test_payment_sim.c $(PAYMENTD_SIM_ASAN)
	$(link_c)
$(PAYMENTD_UNIT) $(PAYMENTD_UNIT_ASAN): private EXTRA_LDLIBS := -lcmocka -lpthread -lm
$(PAYMENTD_UNIT_ASAN): private FLAVOUR_CFLAGS := $(SANFLAGS)

BINS            += $(PAYMENTD)
UNIT_TESTS      += $(PAYMENTD_UNIT)
ASAN_UNIT_TESTS += $(PAYMENTD_UNIT_ASAN)

.PHONY: paymentd
paymentd: $(PAYMENTD) $(PAYMENTD_UNIT) $(PAYMENTD_UNIT_ASAN)
