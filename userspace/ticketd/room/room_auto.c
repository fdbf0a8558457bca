/* The rooms' admission controller (room_auto.h). */
#include "userspace/ticketd/room/room_auto.h"

#include <math.h>

void room_auto_init(struct room_auto *a, double rate_min)
{
	a->rate = rate_min;
	a->slow_start = true;
	a->brake = 1.0;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void room_auto_step(struct room_auto *a, bool congested, bool slow, double served,
		    double fixed_sum, double rate_min, double rate_max)
{
	double rate = a->rate, floor_rate, b;

	if (!isfinite(served) || served < 0)
		served = 0;
	floor_rate = ROOM_AUTO_FLOOR * served;
	if (congested) {
		a->slow_start = false;
		rate *= ROOM_AUTO_DECREASE;
		if (rate < floor_rate)
			rate = floor_rate < a->rate ? floor_rate : a->rate;
	} else {
		double cap = ROOM_AUTO_CAP * (served > rate_min ? served : rate_min) + rate_min;

		if (a->slow_start)
			rate *= 2.0;
		else
			rate += rate * ROOM_AUTO_INCREASE > 1.0 ? rate * ROOM_AUTO_INCREASE : 1.0;
		if (rate > cap)
			rate = cap > a->rate ? cap : a->rate; /* no growth, no cut */
	}
	a->rate = clamp(rate, rate_min, rate_max);

	b = a->brake;
	if (fixed_sum <= 0 || !slow) {
		b = fixed_sum <= 0 ? 1.0 : b * ROOM_BRAKE_RELEASE;
	} else {
		double floor_b = floor_rate / fixed_sum;

		b *= ROOM_AUTO_DECREASE;
		if (b < floor_b)
			b = floor_b < a->brake ? floor_b : a->brake;
	}
	/* never below what the slowest automatic rate would allow */
	a->brake = clamp(b, fixed_sum > 0 ? clamp(rate_min / fixed_sum, 0.0, 1.0) : 1.0, 1.0);
}
