/* Named counters ("hold 409 SEAT_UNAVAILABLE" -> n): what the tools count
 * by a name only known at run time, such as error codes and final states. */
#ifndef BENCH_LIB_TALLY_H
#define BENCH_LIB_TALLY_H

#include <stdint.h>
#include <stdio.h>

#define BENCH_TALLY_KEYS 48

struct bench_tally {
	struct {
		char key[64];
		uint64_t n;
	} c[BENCH_TALLY_KEYS];
	uint64_t other; /* counts under names beyond the first 48 */
};

/* Adds n under key (nothing for an empty key). */
void bench_tally_add(struct bench_tally *t, const char *key, uint64_t n);

/* The count under key, or 0. */
uint64_t bench_tally_get(const struct bench_tally *t, const char *key);

/* Adds every count of from into into. */
void bench_tally_merge(struct bench_tally *into, const struct bench_tally *from);

/* Writes "name":{"key":n,...,"(other)":n}. */
void bench_tally_json(FILE *f, const char *name, const struct bench_tally *t);

#endif
