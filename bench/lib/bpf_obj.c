#include "bench/lib/bpf_obj.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct bpf_object *bench_bpf_open_one(const char *who, const char *path, const char *prog,
				      const char *pin_root, struct bpf_program **progp)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_root);
	struct bpf_program *p, *want = NULL;
	struct bpf_object *obj;
	struct bpf_map *map;

	obj = bpf_object__open_file(path, &oo);
	if (!obj) {
		fprintf(stderr, "%s: open %s: %s\n", who, path, strerror(errno));
		return NULL;
	}
	bpf_object__for_each_program(p, obj) {
		bool mine = strcmp(bpf_program__name(p), prog) == 0;

		if (mine)
			want = p;
		bpf_program__set_autoload(p, mine);
	}
	if (!want) {
		fprintf(stderr, "%s: no program %s in %s\n", who, prog, path);
		bpf_object__close(obj);
		return NULL;
	}
	if (!pin_root)
		bpf_object__for_each_map(map, obj)
			bpf_map__set_pin_path(map, NULL);
	*progp = want;
	return obj;
}
