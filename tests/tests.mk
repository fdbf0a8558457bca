# Unit tests (cmocka): each tests/unit/test_*.c that is not built by its own
# fragment links against libticketd.a (every daemon object but main). The
# same tests run again built with ASan + UBSan.

CORE_OBJS      = $(filter-out $(BUILD)/obj/userspace/main.o,$(TICKETD_OBJS))
ASAN_CORE_OBJS = $(patsubst $(BUILD)/obj/%,$(BUILD)/asan/obj/%,$(CORE_OBJS))

CORE_UNIT_TESTS := test_config test_http_util test_sessions
UNIT_TESTS      += $(addprefix $(BUILD)/tests/unit/,$(CORE_UNIT_TESTS))
ASAN_UNIT_TESTS += $(addprefix $(BUILD)/asan/tests/unit/,$(CORE_UNIT_TESTS))

$(BUILD)/libticketd.a: $(CORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/asan/libticketd.a: $(ASAN_CORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/asan/obj/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $(TICKETD_CFLAGS) -c $< -o $@

$(BUILD)/asan/obj/gen/migrations_sql.o: $(TICKETD_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $(TICKETD_CFLAGS) -c $< -o $@

$(BUILD)/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $(TICKETD_CFLAGS) -MMD -MP -c $< -o $@

$(addprefix $(BUILD)/tests/unit/,$(CORE_UNIT_TESTS)): $(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libticketd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TICKETD_CFLAGS) $< -o $@ $(BUILD)/libticketd.a $(TICKETD_LIBS) $(LDLIBS_BPF) -lcmocka

$(addprefix $(BUILD)/asan/tests/unit/,$(CORE_UNIT_TESTS)): $(BUILD)/asan/tests/unit/%: tests/unit/%.c $(BUILD)/asan/libticketd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $(TICKETD_CFLAGS) $< -o $@ $(BUILD)/asan/libticketd.a $(TICKETD_LIBS) $(LDLIBS_BPF) -lcmocka

BINS += $(UNIT_TESTS) $(ASAN_UNIT_TESTS)

-include $(ASAN_CORE_OBJS:.o=.d)
