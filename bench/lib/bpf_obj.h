/* Opening one program of a BPF object for the bench tools (xdp_calib,
 * hold_cost): only the named program is loaded with the object, and without
 * a pin root every map is private, so a tool never touches a live edge's
 * pinned maps. */
#ifndef BENCH_LIB_BPF_OBJ_H
#define BENCH_LIB_BPF_OBJ_H

struct bpf_object;
struct bpf_program;

/* Opens (does not load) the object at path with only program prog set to
 * load; maps are pinned under pin_root when it is set, private otherwise.
 * Returns the object and sets *progp, or prints "who: why" to stderr and
 * returns NULL. */
struct bpf_object *bench_bpf_open_one(const char *who, const char *path, const char *prog,
				      const char *pin_root, struct bpf_program **progp);

#endif
