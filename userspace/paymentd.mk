# paymentd, the simulated card gateway: a separate program (it does not link
# libticketd). Its decision logic (payment_sim.c) is unit-tested plain and
# under ASan + UBSan. Objects live under $(BUILD)/paymentd-obj/ so the generic
# ticketd pattern rules never apply to them.

PAYMENTD_CFLAGS := $(shell pkg-config --cflags jansson libmicrohttpd 2>/dev/null)
PAYMENTD_LIBS   := $(shell pkg-config --libs jansson libmicrohttpd 2>/dev/null) -lpthread

PAYMENTD_HDRS := userspace/payment_sim.h

PAYMENTD_UNIT      := $(BUILD)/tests/unit/test_payment_sim
PAYMENTD_ASAN_UNIT := $(BUILD)/asan/tests/unit/test_payment_sim

BINS            += $(BUILD)/paymentd
UNIT_TESTS      += $(PAYMENTD_UNIT)
ASAN_UNIT_TESTS += $(PAYMENTD_ASAN_UNIT)
# tests/tests.mk copies UNIT_TESTS into BINS when it is read; listing the
# tests here too keeps them built whichever fragment comes first.
BINS            += $(PAYMENTD_UNIT) $(PAYMENTD_ASAN_UNIT)

$(BUILD)/paymentd-obj/payment_sim.o: userspace/payment_sim.c $(PAYMENTD_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/paymentd-obj/paymentd.o: userspace/paymentd.c $(PAYMENTD_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PAYMENTD_CFLAGS) -c $< -o $@

$(BUILD)/paymentd: $(BUILD)/paymentd-obj/paymentd.o $(BUILD)/paymentd-obj/payment_sim.o
	$(CC) $(CFLAGS) -o $@ $^ $(PAYMENTD_LIBS)

$(BUILD)/asan/paymentd-obj/payment_sim.o: userspace/payment_sim.c $(PAYMENTD_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -c $< -o $@

$(PAYMENTD_UNIT): tests/unit/test_payment_sim.c $(BUILD)/paymentd-obj/payment_sim.o $(PAYMENTD_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/paymentd-obj/payment_sim.o -o $@ -lcmocka -lpthread -lm

$(PAYMENTD_ASAN_UNIT): tests/unit/test_payment_sim.c $(BUILD)/asan/paymentd-obj/payment_sim.o $(PAYMENTD_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $< $(BUILD)/asan/paymentd-obj/payment_sim.o -o $@ -lcmocka -lpthread -lm

.PHONY: paymentd
paymentd: $(BUILD)/paymentd $(PAYMENTD_UNIT) $(PAYMENTD_ASAN_UNIT)
