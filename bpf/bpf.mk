# bpf fragment
