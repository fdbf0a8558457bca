/* The rooms' admission controller (docs/api.md, "Waiting room"): once a
 * second, from whether the purchase path is congested (its latency p95
 * over the target, a 503, or its doors half full) and how many purchases
 * it served in that second, the automatic rate (rooms with rate_per_s 0)
 * and the brake of fixed rates (rooms with a rate_per_s: they admit
 * rate_per_s x brake, brake in (0, 1]).
 *
 * Automatic rate: doubles each second until the first congestion (slow
 * start), then grows by 10 % (at least 1); never past 4 x max(served, min)
 * + min, so it cannot run away while nobody buys (5 x min + ... at most). Congested: x 0.7, but not below
 * 0.9 x served (what the path did serve, kept a little under so its queue
 * drains): the rate follows the measured capacity instead of collapsing.
 * The brake does the same as a fraction of the fixed rates (1: none).
 *
 * Pure arithmetic, no clock, no locks: room_service.c owns one and steps
 * it from the ticker. */
#ifndef TICKETD_ROOM_AUTO_H
#define TICKETD_ROOM_AUTO_H

#include <stdbool.h>

#define ROOM_AUTO_DECREASE 0.7
#define ROOM_AUTO_INCREASE 0.1
#define ROOM_AUTO_FLOOR 0.9    /* of the served purchases/s, when congested */
#define ROOM_AUTO_CAP 4.0      /* of the served purchases/s, growing */
#define ROOM_BRAKE_RELEASE 1.25 /* brake growth a second while not congested */

struct room_auto {
	double rate;	 /* visitors/s of the automatic rooms */
	bool slow_start; /* no congestion seen yet: double each second */
	double brake;	 /* share of the fixed rates admitted, (0, 1] */
};

void room_auto_init(struct room_auto *a, double rate_min);

/* One second: congested or not (every signal: the automatic rate),
 * slow (latency over the target or a 503: the brake; doors half full
 * alone are normal work at a fixed rate near capacity, the payment round
 * trip keeps many in flight), served purchases/s in it, and the sum of the
 * fixed rates of the rooms that are on (0: none; the brake then
 * releases). Keeps the rate within rate_min..rate_max. */
void room_auto_step(struct room_auto *a, bool congested, bool slow, double served,
		    double fixed_sum, double rate_min, double rate_max);

#endif
