/* The edge's words and counters for an operator (edge_view.h). */
#include "userspace/lib/edge_view.h"

#include <inttypes.h>

#include "bpf/seat_word.h"
#include "bpf/ticket_maps.h"
#include "userspace/lib/timefmt.h"
#include "userspace/lib/wire_codec.h"

static const char *const stat_names[TKT_STAT_COUNT - TKT_STATUS_COUNT] = {
	[TKT_STAT_DROPPED - TKT_STATUS_COUNT] = "dropped",
	[TKT_STAT_PASSED - TKT_STATUS_COUNT] = "passed",
	[TKT_STAT_MALFORMED_DROPPED - TKT_STATUS_COUNT] = "malformed_dropped",
	[TKT_STAT_RINGBUF_FULL - TKT_STATUS_COUNT] = "ringbuf_full",
	[TKT_STAT_UNSENDABLE - TKT_STATUS_COUNT] = "unsendable",
	[TKT_STAT_SOURCE_DROPPED - TKT_STATUS_COUNT] = "source_dropped",
	[TKT_STAT_RATE_DROPPED - TKT_STATUS_COUNT] = "rate_dropped",
	[TKT_STAT_REPLAY_DROPPED - TKT_STATUS_COUNT] = "replay_dropped",
};

_Static_assert(TKT_STAT_REPLAY_DROPPED + 1 == TKT_STAT_COUNT,
	       "name every door counter in stat_names");

const char *edge_stat_name(unsigned int i)
{
	if (i < TKT_STATUS_COUNT)
		return tkt_status_name(i);
	if (i < TKT_STAT_COUNT)
		return stat_names[i - TKT_STATUS_COUNT];
	return NULL;
}

const char *edge_seat_state_name(unsigned int state)
{
	static const char *const names[] = {"AVAILABLE", "HELD", "ORDERED",
					    "SOLD"};

	return state < 4 ? names[state] : "?";
}

void edge_seat_view_decode(uint64_t word, uint32_t since_ms, uint32_t now_ms,
			   uint64_t now_unix_ms, struct edge_seat_view *v)
{
	*v = (struct edge_seat_view){
		.word = word,
		.state = tkt_sw_state(word),
		.effective = tkt_sw_effective_state(word, now_ms),
		.counter = tkt_sw_counter(word),
		.holder = tkt_sw_holder(word),
		.expiry_ms = tkt_sw_expiry(word),
		.claimed = tkt_sw_claimed(word),
		.lapsed = tkt_sw_lapsed(word, now_ms),
	};
	if (!v->claimed)
		return;
	/* serial arithmetic, as the doors compare: valid within 2^31 ms */
	v->expires_in_ms = (int32_t)(v->expiry_ms - now_ms);
	v->expires_unix_ms = (uint64_t)((int64_t)now_unix_ms + v->expires_in_ms);
	v->since_ms = since_ms;
	v->held_for_ms = (int32_t)(now_ms - since_ms);
	v->since_unix_ms = (uint64_t)((int64_t)now_unix_ms - v->held_for_ms);
}

static json_t *time_or_null(uint64_t unix_ms)
{
	char when[40];

	if (tkt_format_rfc3339_ms(unix_ms, when, sizeof(when)) != 0)
		return json_null();
	return json_string(when);
}

json_t *edge_seat_view_json(const struct edge_seat_view *v)
{
	char hex[24];
	json_t *o;

	snprintf(hex, sizeof(hex), "0x%016" PRIx64, v->word);
	o = json_pack("{s:s, s:s, s:s, s:b, s:i, s:I, s:I}", "word", hex,
		      "state", edge_seat_state_name(v->state), "effectiveState",
		      edge_seat_state_name(v->effective), "lapsed", v->lapsed,
		      "counter", (int)v->counter, "holderSlot",
		      (json_int_t)v->holder, "expiryField",
		      (json_int_t)v->expiry_ms);
	if (!o)
		return NULL;
	if (!v->claimed) {
		json_object_set_new(o, "expiresInMs", json_null());
		json_object_set_new(o, "expiresAt", json_null());
		json_object_set_new(o, "heldSince", json_null());
		json_object_set_new(o, "heldForMs", json_null());
		return o;
	}
	json_object_set_new(o, "expiresInMs", json_integer(v->expires_in_ms));
	json_object_set_new(o, "expiresAt", time_or_null(v->expires_unix_ms));
	json_object_set_new(o, "sinceField", json_integer(v->since_ms));
	json_object_set_new(o, "heldSince", time_or_null(v->since_unix_ms));
	json_object_set_new(o, "heldForMs", json_integer(v->held_for_ms));
	return o;
}

void edge_seat_view_print(FILE *f, const struct edge_seat_view *v)
{
	char when[40];

	fprintf(f, "word=0x%016" PRIx64 "\n", v->word);
	fprintf(f, "state=%s%s\n", edge_seat_state_name(v->state),
		v->lapsed ? " (lapsed: AVAILABLE to every op)" : "");
	fprintf(f, "counter=%u\n", v->counter);
	fprintf(f, "holder_slot=%u\n", v->holder);
	if (!v->claimed) {
		fprintf(f, "expiry=none\n");
		return;
	}
	if (tkt_format_rfc3339_ms(v->expires_unix_ms, when, sizeof(when)))
		snprintf(when, sizeof(when), "invalid");
	fprintf(f, "expiry=%s (%s%" PRId64 " ms, field %u)\n", when,
		v->expires_in_ms >= 0 ? "in " : "", v->expires_in_ms,
		v->expiry_ms);
	if (tkt_format_rfc3339_ms(v->since_unix_ms, when, sizeof(when)))
		snprintf(when, sizeof(when), "invalid");
	fprintf(f, "held_since=%s (%" PRId64 " ms ago, field %u)\n", when,
		v->held_for_ms, v->since_ms);
}
