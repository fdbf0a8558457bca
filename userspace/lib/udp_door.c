/* The socket door (see udp_door.h).
 *
 * Threads: the starter owns struct udp_door; each worker owns its socket
 * and its batch buffers. They share the edge (thread-safe), stop_fd, an
 * eventfd that stays readable once written, so one write wakes every
 * worker, and two atomic counters: alive (workers still serving) and
 * fail_next (test hook). Each worker records its first fatal error in its
 * own slot.
 *
 * A worker ends only on an error of its own socket (EBADF, ENOTSOCK,
 * EFAULT, ...). A reply that cannot go to its destination (EINVAL for
 * port 0, EPERM from a firewall, EHOSTUNREACH, a full buffer, ...) is
 * skipped and counted as TKT_STAT_UNSENDABLE: one datagram never stops the
 * door. A worker that does end closes its socket, so SO_REUSEPORT spreads
 * flows over the live ones, and the door reports fewer workers alive. */
#include "userspace/lib/udp_door.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/clock.h"

#define RX_BUF 64 /* > 40: a longer datagram shows up as MSG_TRUNC anyway */

struct worker {
	pthread_t thread;
	bool started;
	int fd; /* closed by the worker itself when it dies (then -1) */
	int err;
	struct udp_door *door;
};

struct udp_door {
	struct edge *edge;
	int stop_fd;
	uint16_t port;
	int nworkers;
	atomic_int alive;     /* workers serving; < nworkers: one died */
	atomic_int fail_next; /* test hook: workers to fail at next wakeup */
	struct worker *w;
};

static void peer_of(const struct sockaddr_storage *ss, struct tkt_peer *p)
{
	memset(p, 0, sizeof(*p));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		p->addr[10] = 0xff;
		p->addr[11] = 0xff;
		memcpy(&p->addr[12], &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		memcpy(p->addr, &in6->sin6_addr, 16);
	}
}

/* The source port in network byte order (0 for an unknown family). */
static uint16_t port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)->sin_port;
	if (ss->ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port;
	return 0;
}

struct batch {
	struct mmsghdr in[UDP_DOOR_BATCH];
	struct mmsghdr out[UDP_DOOR_BATCH];
	struct iovec iov_in[UDP_DOOR_BATCH];
	struct iovec iov_out[UDP_DOOR_BATCH];
	struct sockaddr_storage from[UDP_DOOR_BATCH];
	uint8_t rx[UDP_DOOR_BATCH][RX_BUF];
	struct tkt_reply tx[UDP_DOOR_BATCH];
};

/* True for an error of the socket itself, after which it cannot serve;
 * anything else concerns one destination or is transient. */
static bool socket_error(int err)
{
	return err == EBADF || err == ENOTSOCK || err == EFAULT ||
	       err == EOPNOTSUPP || err == EDESTADDRREQ;
}

/* Sends all n replies; sendmmsg may stop early at a reply it cannot send
 * (e.g. to port 0: EINVAL, a firewall: EPERM, an unreachable host, a full
 * buffer). That reply is skipped and counted, like a lost datagram (the
 * client asks again); the rest still go. Returns 0, or -errno for an
 * error of the socket itself. */
static int send_all(int fd, struct mmsghdr *out, int n, struct tkt_door *d)
{
	int done = 0;

	while (done < n) {
		int r = sendmmsg(fd, out + done, (unsigned int)(n - done), 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (socket_error(errno))
				return -errno;
			tkt_door_stat(d, TKT_STAT_UNSENDABLE);
			done++; /* skip the one that failed */
			continue;
		}
		done += r;
	}
	return 0;
}

static int serve_batch(struct worker *wk, struct batch *b)
{
	struct tkt_config cfg;
	struct tkt_door door;
	int i, n, m = 0;

	for (i = 0; i < UDP_DOOR_BATCH; i++) {
		b->iov_in[i].iov_base = b->rx[i];
		b->iov_in[i].iov_len = RX_BUF;
		memset(&b->in[i].msg_hdr, 0, sizeof(b->in[i].msg_hdr));
		b->in[i].msg_hdr.msg_iov = &b->iov_in[i];
		b->in[i].msg_hdr.msg_iovlen = 1;
		b->in[i].msg_hdr.msg_name = &b->from[i];
		b->in[i].msg_hdr.msg_namelen = sizeof(b->from[i]);
	}
	n = recvmmsg(wk->fd, b->in, UDP_DOOR_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return socket_error(errno) ? -errno : 0;

	/* one config snapshot per batch: key rotation takes effect at the
	 * next batch */
	edge_get_config(wk->door->edge, &cfg);
	edge_door(wk->door->edge, TKT_SRC_SOCKET, &cfg, &door);
	for (i = 0; i < n; i++) {
		struct tkt_req req;
		struct tkt_peer peer;
		__u32 len = b->in[i].msg_len;

		if (b->in[i].msg_hdr.msg_flags & MSG_TRUNC)
			len = UINT16_MAX; /* longer than we read: wrong length */
		memset(&req, 0, sizeof(req));
		memcpy(&req, b->rx[i], len < sizeof(req) ? len : sizeof(req));
		peer_of(&b->from[i], &peer);
		if (!tkt_source_ok(&peer, port_of(&b->from[i]))) {
			tkt_door_stat(&door, TKT_STAT_SOURCE_DROPPED);
			continue;
		}
		if (tkt_door_serve(&door, &peer, &req, len, tkt_mono_ns(),
				   &b->tx[m]) != TKT_DOOR_REPLY)
			continue;
		b->iov_out[m].iov_base = &b->tx[m];
		b->iov_out[m].iov_len = sizeof(b->tx[m]);
		memset(&b->out[m].msg_hdr, 0, sizeof(b->out[m].msg_hdr));
		b->out[m].msg_hdr.msg_iov = &b->iov_out[m];
		b->out[m].msg_hdr.msg_iovlen = 1;
		b->out[m].msg_hdr.msg_name = &b->from[i];
		b->out[m].msg_hdr.msg_namelen = b->in[i].msg_hdr.msg_namelen;
		m++;
	}
	return m ? send_all(wk->fd, b->out, m, &door) : 0;
}

/* One pending udp_door_test_fail_worker, if any, for this worker. */
static bool take_fail(struct udp_door *d)
{
	int f = atomic_load(&d->fail_next);

	while (f > 0 && !atomic_compare_exchange_weak(&d->fail_next, &f, f - 1))
		;
	return f > 0;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct batch *b = calloc(1, sizeof(*b));
	struct pollfd pfd[2] = {
		{.fd = wk->fd, .events = POLLIN},
		{.fd = wk->door->stop_fd, .events = POLLIN},
	};

	if (!b)
		wk->err = -ENOMEM;
	while (b) {
		int rc = poll(pfd, 2, -1);

		if (rc < 0) {
			if (errno == EINTR)
				continue;
			wk->err = -errno;
			break;
		}
		if (pfd[1].revents)
			break;
		if (take_fail(wk->door)) {
			wk->err = -EIO; /* udp_door_test_fail_worker */
			break;
		}
		if (pfd[0].revents & (POLLERR | POLLNVAL)) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);

			/* a pending ICMP error for an earlier reply: read and
			 * forget it; POLLNVAL means the socket is gone */
			if (pfd[0].revents & POLLNVAL) {
				wk->err = -EBADF;
				break;
			}
			(void)getsockopt(wk->fd, SOL_SOCKET, SO_ERROR, &soerr,
					 &sl);
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		rc = serve_batch(wk, b);
		if (rc < 0) {
			wk->err = rc;
			break;
		}
	}
	free(b);
	if (wk->err) {
		/* dying: leave the SO_REUSEPORT group so the kernel stops
		 * sending flows here (joined before udp_door_stop closes) */
		close(wk->fd);
		wk->fd = -1;
		atomic_fetch_sub(&wk->door->alive, 1);
	}
	return NULL;
}

static int parse_addr(const char *addr, int port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *in = (void *)ss;
	struct sockaddr_in6 *in6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static int open_socket(const struct sockaddr_storage *ss, socklen_t len)
{
	int one = 1, rcvbuf = 4 << 20;
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)ss, len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	/* best effort: a bigger queue absorbs bursts; the kernel caps it */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return fd;
}

int udp_door_start(struct edge *edge, const struct udp_door_opts *opts,
		   struct udp_door **out)
{
	static const struct udp_door_opts defaults;
	struct sockaddr_storage ss;
	struct udp_door *d;
	socklen_t len;
	int i, err, port;

	if (!edge || !out)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	port = opts->port == 0 ? TKT_DEFAULT_PORT
	       : opts->port < 0 ? 0
				: opts->port;
	if (port > 65535)
		return -EINVAL;
	err = parse_addr(opts->addr ? opts->addr : UDP_DOOR_ADDR_DEFAULT, port,
			 &ss, &len);
	if (err)
		return err;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->edge = edge;
	d->nworkers = opts->workers > 0 ? opts->workers
					: (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (d->nworkers <= 0)
		d->nworkers = 1;
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	d->w = calloc((size_t)d->nworkers, sizeof(*d->w));
	if (d->stop_fd < 0 || !d->w) {
		err = d->stop_fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	for (i = 0; i < d->nworkers; i++)
		d->w[i].fd = -1;

	for (i = 0; i < d->nworkers; i++) {
		d->w[i].fd = open_socket(&ss, len);
		if (d->w[i].fd < 0) {
			err = d->w[i].fd;
			goto fail;
		}
		if (i == 0) {
			/* port -1: the others join the port the first got */
			if (getsockname(d->w[0].fd, (struct sockaddr *)&ss,
					&len) < 0) {
				err = -errno;
				goto fail;
			}
			d->port = ntohs(ss.ss_family == AF_INET
						? ((struct sockaddr_in *)&ss)
							  ->sin_port
						: ((struct sockaddr_in6 *)&ss)
							  ->sin6_port);
		}
	}
	for (i = 0; i < d->nworkers; i++) {
		d->w[i].door = d;
		err = -pthread_create(&d->w[i].thread, NULL, worker_main,
				      &d->w[i]);
		if (err)
			goto fail;
		d->w[i].started = true;
		atomic_fetch_add(&d->alive, 1);
	}
	*out = d;
	return 0;
fail:
	udp_door_stop(d);
	return err;
}

uint16_t udp_door_port(const struct udp_door *door)
{
	return door->port;
}

int udp_door_workers(const struct udp_door *door)
{
	return door->nworkers;
}

int udp_door_alive(const struct udp_door *door)
{
	return atomic_load(&((struct udp_door *)door)->alive);
}

bool udp_door_serving(const struct udp_door *door, char *why, size_t len)
{
	int alive = udp_door_alive(door);

	if (alive >= door->nworkers)
		return true;
	if (why && len)
		snprintf(why, len, "udpDoor: %d of %d socket door workers died",
			 door->nworkers - alive, door->nworkers);
	return false;
}

void udp_door_test_fail_worker(struct udp_door *door)
{
	atomic_fetch_add(&door->fail_next, 1);
}

int udp_door_stop(struct udp_door *d)
{
	uint64_t one = 1;
	int i, err = 0;

	if (!d)
		return 0;
	if (d->stop_fd >= 0 && write(d->stop_fd, &one, sizeof(one)) < 0)
		err = -errno;
	for (i = 0; d->w && i < d->nworkers; i++) {
		if (d->w[i].started) {
			pthread_join(d->w[i].thread, NULL);
			if (!err)
				err = d->w[i].err;
		}
		if (d->w[i].fd >= 0)
			close(d->w[i].fd);
	}
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	free(d->w);
	free(d);
	return err;
}
