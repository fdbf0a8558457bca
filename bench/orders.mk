# bench/orders.mk: the orders benchmark (issue #6).
#   $(BUILD)/orders_load   open-loop purchase load against ticketd (hold,
#                          order, authorize, poll), the same schedule against
#                          paymentd alone, and a session maker
#   make bench-orders      runs bench/orders_bench.sh (about 4 minutes; writes
#                          bench/results/orders.json and orders.md)
# Included by the root Makefile (BUILD, CC, CFLAGS, BINS).

ORDERS_LOAD := $(BUILD)/orders_load

BINS += $(ORDERS_LOAD)

$(ORDERS_LOAD): bench/orders_load.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

.PHONY: bench-orders
bench-orders: $(ORDERS_LOAD) $(BUILD)/ticketd $(BUILD)/paymentd
	BUILD=$(BUILD) bash bench/orders_bench.sh
