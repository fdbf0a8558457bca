/* The edge's words and counters as an operator reads them: a seat word
 * decoded with the helpers of bpf/seat_word.h (state, holder, expiry as
 * time left and as wall time, hold start), and the names of the
 * door_counters indices. Pure functions, shared by `ticketctl seat` /
 * `ticketctl stats` and ticketd's /metrics; the tests call them directly. */
#ifndef TKT_LIB_EDGE_VIEW_H
#define TKT_LIB_EDGE_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Name of door_counters index i (enum tkt_stat; statuses by their wire
 * name: "OK", "TAKEN", ..., then "dropped", "passed", ...), NULL past
 * TKT_STAT_COUNT. The labels of ticketd_udp_outcomes_total. */
const char *edge_stat_name(unsigned int i);

/* "AVAILABLE", "HELD", "ORDERED", "SOLD" (enum tkt_seat_state). */
const char *edge_seat_state_name(unsigned int state);

/* One seat word, decoded at a moment: now_ms is CLOCK_MONOTONIC ms mod 2^32
 * (the words' clock), now_unix_ms the wall clock at that moment, since_ms
 * the seat's seat_since entry (hold start, same clock). */
struct edge_seat_view {
	uint64_t word;
	uint32_t state;     /* as stored */
	uint32_t effective; /* what every op acts on: lapsed -> AVAILABLE */
	uint32_t counter;
	uint32_t holder;    /* 0 = nobody */
	uint32_t expiry_ms; /* raw field (monotonic ms mod 2^32) */
	bool claimed;       /* HELD or ORDERED, lapsed or not */
	bool lapsed;        /* claimed and expiry reached */
	/* claimed only: ms from now to the expiry (negative once lapsed) and
	 * the wall time of the expiry */
	int64_t expires_in_ms;
	uint64_t expires_unix_ms;
	/* claimed only: when the hold began (seat_since) and how long ago */
	uint32_t since_ms;
	int64_t held_for_ms;
	uint64_t since_unix_ms;
};

void edge_seat_view_decode(uint64_t word, uint32_t since_ms, uint32_t now_ms,
			   uint64_t now_unix_ms, struct edge_seat_view *v);

/* The view as one JSON object (raw word as a "0x..." string: seat words
 * exceed 2^53), or NULL without memory. */
json_t *edge_seat_view_json(const struct edge_seat_view *v);

/* The view as "key=value" text lines. */
void edge_seat_view_print(FILE *f, const struct edge_seat_view *v);

#endif
