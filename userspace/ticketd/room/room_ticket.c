/* Queue tickets: text form, MAC, and the secret files (room_ticket.h). */
#include "userspace/ticketd/room/room_ticket.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "userspace/lib/hex.h"
#include "userspace/lib/private_dir.h"

/* A tickets's issue time may be this far ahead of the clock (another
 * node's, or a clock step). */
#define FUTURE_SLACK_MS 60000

/* Parses a decimal number without leading zeros up to max, ending at
 * stop; advances *p past stop. */
static int parse_num(const char **p, char stop, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;

	if (*s == '0' && s[1] != stop)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		if (n >= 20 || v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (!n || *s != stop)
		return -1;
	*p = s + (stop ? 1 : 0);
	*out = v;
	return 0;
}

int room_ticket_parse(const char *s, struct room_ticket *out)
{
	uint64_t ev, seq, issued;
	size_t len;

	if (!s || strncmp(s, "v1.", 3))
		return -1;
	len = strnlen(s, ROOM_TICKET_MAX);
	if (len >= ROOM_TICKET_MAX)
		return -1;
	s += 3;
	if (parse_num(&s, '.', UINT32_MAX, &ev) || parse_num(&s, '.', UINT64_MAX, &seq) ||
	    parse_num(&s, '.', INT64_MAX, &issued))
		return -1;
	if (strlen(s) != 2 * ROOM_MAC_LEN)
		return -1;
	for (int i = 0; i < 2 * ROOM_MAC_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return -1; /* lowercase only: one text per ticket */
	if (hex_decode(s, out->mac, ROOM_MAC_LEN))
		return -1;
	out->event_id = (uint32_t)ev;
	out->seq = seq;
	out->issued_ms = (int64_t)issued;
	return 0;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

void room_ticket_mac(const uint8_t key[ROOM_KEY_LEN], uint32_t event_id,
		     uint64_t seq, int64_t issued_ms,
		     const uint8_t sid[ROOM_SID_LEN], uint8_t mac[ROOM_MAC_LEN])
{
	/* "tkt-room-v1", event (4), seq (8), issued_ms (8), session id (8) */
	static const char label[] = "tkt-room-v1";
	uint8_t msg[sizeof(label) - 1 + 4 + 8 + 8 + ROOM_SID_LEN], *p = msg;
	unsigned int n = ROOM_MAC_LEN;

	memcpy(p, label, sizeof(label) - 1);
	p += sizeof(label) - 1;
	put_be(p, event_id, 4);
	put_be(p + 4, seq, 8);
	put_be(p + 12, (uint64_t)issued_ms, 8);
	memcpy(p + 20, sid, ROOM_SID_LEN);
	if (!HMAC(EVP_sha256(), key, ROOM_KEY_LEN, msg, sizeof(msg), mac, &n))
		memset(mac, 0, ROOM_MAC_LEN); /* matches no ticket: refused */
}

void room_ticket_format(const uint8_t key[ROOM_KEY_LEN], uint32_t event_id,
			uint64_t seq, int64_t issued_ms,
			const uint8_t sid[ROOM_SID_LEN], char out[ROOM_TICKET_MAX])
{
	uint8_t mac[ROOM_MAC_LEN];
	char hex[2 * ROOM_MAC_LEN + 1];

	room_ticket_mac(key, event_id, seq, issued_ms, sid, mac);
	hex_encode(mac, sizeof(mac), hex);
	snprintf(out, ROOM_TICKET_MAX, "v1.%" PRIu32 ".%" PRIu64 ".%" PRId64 ".%s",
		 event_id, seq, issued_ms, hex);
}

enum room_ticket_check room_ticket_check(const uint8_t key[ROOM_KEY_LEN],
					 const char *s, uint32_t event_id,
					 const uint8_t sid[ROOM_SID_LEN],
					 int64_t now_ms, struct room_claim *claim)
{
	struct room_ticket t;
	uint8_t mac[ROOM_MAC_LEN];

	if (room_ticket_parse(s, &t))
		return ROOM_TICKET_MALFORMED;
	if (t.event_id != event_id)
		return ROOM_TICKET_OTHER_EVENT;
	room_ticket_mac(key, t.event_id, t.seq, t.issued_ms, sid, mac);
	if (CRYPTO_memcmp(mac, t.mac, ROOM_MAC_LEN))
		return ROOM_TICKET_FORGED;
	if (t.issued_ms > now_ms + FUTURE_SLACK_MS)
		return ROOM_TICKET_FUTURE;
	claim->seq = t.seq;
	claim->issued_ms = t.issued_ms;
	return ROOM_TICKET_OK;
}

static int create_secret(const char *path, char *err, size_t errlen)
{
	uint8_t raw[ROOM_KEY_LEN];
	char text[2 * ROOM_KEY_LEN + 2];
	int fd;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -EIO;
	}
	hex_encode(raw, sizeof(raw), text);
	text[2 * ROOM_KEY_LEN] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno; /* another daemon won */
	if (write(fd, text, sizeof(text) - 1) != (ssize_t)sizeof(text) - 1 || fsync(fd)) {
		int e = errno ? errno : EIO;

		snprintf(err, errlen, "writing %s: %s", path, strerror(e));
		close(fd);
		unlink(path);
		return -e;
	}
	close(fd);
	return 0;
}

int room_secret_load(const char *path, uint8_t key[ROOM_KEY_LEN], char *hex,
		     char *err, size_t errlen)
{
	char text[2 * ROOM_KEY_LEN + 2], why[256];
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if ((rc = create_secret(path, err, errlen))) {
			if (!err[0])
				snprintf(err, errlen, "%s: %s", path, strerror(-rc));
			return rc;
		}
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	/* Created 0600; one that others can read lets them forge tickets or
	 * reach the admin endpoints. */
	rc = private_dir_check_fd(fd, path, why, sizeof(why));
	if (rc) {
		close(fd);
		snprintf(err, errlen, "%s", rc == -EPERM ? why : strerror(-rc));
		return rc;
	}
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n < 2 * ROOM_KEY_LEN || n > 2 * ROOM_KEY_LEN + 1 ||
	    (n == 2 * ROOM_KEY_LEN + 1 && text[2 * ROOM_KEY_LEN] != '\n')) {
		snprintf(err, errlen, "%s: expected 64 hex digits", path);
		return -EINVAL;
	}
	text[2 * ROOM_KEY_LEN] = '\0';
	if (hex_decode(text, key, ROOM_KEY_LEN)) {
		snprintf(err, errlen, "%s: expected 64 hex digits", path);
		return -EINVAL;
	}
	if (hex)
		memcpy(hex, text, 2 * ROOM_KEY_LEN + 1);
	return 0;
}
