/* The socket door: the UDP hold protocol (v1) served from userspace, for
 * when XDP is not available (or not wanted: --hold-path socket). Same rules
 * (bpf/hold_door.h), same seat table (edge.h), same change stream.
 *
 * N worker threads each own one UDP socket bound to the same address with
 * SO_REUSEPORT (the kernel spreads flows across them), and serve batches of
 * up to UDP_DOOR_BATCH datagrams with recvmmsg/sendmmsg. Workers share
 * nothing but the edge. */
#ifndef TICKET_UDP_DOOR_H
#define TICKET_UDP_DOOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "userspace/lib/edge.h"

#define UDP_DOOR_BATCH 64
#define UDP_DOOR_ADDR_DEFAULT "127.0.0.1"

struct udp_door;

struct udp_door_opts {
	const char *addr; /* IPv4 or IPv6 literal; NULL = 127.0.0.1 */
	int port;         /* 0 = TKT_DEFAULT_PORT (7000); -1 = any free port */
	int workers;      /* 0 = one per online CPU */
};

/* Binds the sockets and starts the workers; on error nothing is left
 * running. The edge must outlive the door. */
int udp_door_start(struct edge *edge, const struct udp_door_opts *opts,
		   struct udp_door **out);

/* The bound port (useful with port -1) and the number of workers. */
uint16_t udp_door_port(const struct udp_door *door);
int udp_door_workers(const struct udp_door *door);

/* Workers still serving. A worker ends only on an error of its own socket
 * (never because of one datagram); then this drops below udp_door_workers.
 * Any thread. */
int udp_door_alive(const struct udp_door *door);

/* True while every worker serves; else false with a reason ("udpDoor: N of
 * M socket door workers died") in why[len]. For /readyz. */
bool udp_door_serving(const struct udp_door *door, char *why, size_t len);

/* Test hook: the next worker to wake up (on a datagram) ends as if its
 * socket had failed. For the tests of udp_door_alive and /readyz only. */
void udp_door_test_fail_worker(struct udp_door *door);

/* Stops and joins the workers, closes the sockets, frees. Returns the first
 * error a worker hit (negative errno), or 0. NULL is fine. */
int udp_door_stop(struct udp_door *door);

#endif /* TICKET_UDP_DOOR_H */
