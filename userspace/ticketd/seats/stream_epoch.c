#include "userspace/ticketd/seats/stream_epoch.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userspace/lib/log.h"

#define EPOCH_KEY "tkt:stream:epoch"

static uint64_t read_file_epoch(const char *path)
{
	char buf[32] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

/* Write, fsync, rename, fsync the folder: the epoch survives a crash. */
static int write_file_epoch(const char *dir, const char *path, uint64_t e)
{
	char tmp[4096 + 16], buf[32];
	int fd, len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", e), rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)len) != len || fsync(fd))
		rc = -EIO;
	close(fd);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* INCR the Redis counter; 0 when Redis does not answer a number. */
static uint64_t redis_incr(redisContext *c)
{
	redisReply *r = redisCommand(c, "INCR " EPOCH_KEY);
	uint64_t v = 0;

	if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
		v = (uint64_t)r->integer;
	if (r)
		freeReplyObject(r);
	return v;
}

int stream_epoch_take(const char *redis_host, int redis_port,
		      const char *state_dir, uint64_t floor, uint64_t *epoch)
{
	struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
	redisContext *c = redis_host ? redisConnectWithTimeout(redis_host, redis_port, tv) : NULL;
	char path[4096];
	uint64_t from_redis = 0, from_file, e;
	bool saved = false;

	snprintf(path, sizeof(path), "%s/stream_epoch", state_dir);
	from_file = read_file_epoch(path);
	if (c && !c->err) {
		redisSetTimeout(c, tv);
		from_redis = redis_incr(c);
	}
	e = from_redis;
	if (from_file + 1 > e)
		e = from_file + 1;
	if (floor > e)
		e = floor;
	if (e > STREAM_EPOCH_MAX) {
		log_msg(LOG_ERROR, NULL, "seat stream: epoch %" PRIu64 " past %llu; versions "
			"may repeat (delete %s and the Redis key " EPOCH_KEY " only with every "
			"SSE client gone)", e, (unsigned long long)STREAM_EPOCH_MAX, path);
		e = STREAM_EPOCH_MAX;
	}
	if (from_redis && e == from_redis) {
		saved = true;
	} else if (from_redis) {
		/* Redis was behind (it lost data): lift it so the next INCR
		 * is above this run. */
		redisReply *r = redisCommand(c, "SET " EPOCH_KEY " %" PRIu64, e);

		saved = r && r->type == REDIS_REPLY_STATUS;
		if (r)
			freeReplyObject(r);
	}
	if (c)
		redisFree(c);
	if (!write_file_epoch(state_dir, path, e))
		saved = true;
	*epoch = e;
	return saved ? 0 : -EIO;
}
