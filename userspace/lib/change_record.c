/* Splitting the XDP program's ring records into changes
 * (change_record.h). No state, no locks. */
#include "userspace/lib/change_record.h"

#include <errno.h>
#include <string.h>

#include "bpf/ticket_maps.h"

int change_record_split(const void *data, size_t size,
			int (*cb)(void *ctx, const struct tkt_change *rec),
			void *ctx)
{
	int n = tkt_change_record_count(size), i, rc;

	if (n < 0)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		struct tkt_change rec;

		memcpy(&rec, (const unsigned char *)data + (size_t)i * sizeof(rec),
		       sizeof(rec));
		rc = cb(ctx, &rec);
		if (rc)
			return rc;
	}
	return 0;
}
