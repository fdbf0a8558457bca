"""Least privilege of the running stack (docs/operations.md#privileges):
the capabilities ticketd keeps after start-up, refusal of a pin or state
directory someone else controls, the database user's grants, and no
password in any process's arguments. Needs root (it chowns directories and
makes a network namespace for the XDP case)."""
import os
import re
import shutil
import subprocess
import threading
import time

import pytest
import requests

from conftest import (PIN_DIR, PORTS, RUN_DIR, Ticketd, auth, mariadb_sql, new_session,
                      udp)

# Capability numbers (linux/capability.h) of what ticketd keeps with XDP:
# the door attaches after the drop, as a BPF link (CAP_BPF, CAP_NET_ADMIN),
# and enters the XDP namespace first when it has one (CAP_SYS_ADMIN).
CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 12, 21, 38, 39
XDP_KEEPS = {CAP_NET_ADMIN, CAP_BPF}
XDP_NETNS_KEEPS = XDP_KEEPS | {CAP_SYS_ADMIN}
APP_GRANTS = {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "INDEX",
              "REFERENCES"}
NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def caps_of(pid):
    """{field: set of capability numbers} for every thread of pid, and
    NoNewPrivs of the main thread."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                    bits = int(v.strip(), 16)
                    out.setdefault(k, set()).add(frozenset(
                        i for i in range(64) if bits >> i & 1))
                elif k == "NoNewPrivs":
                    out.setdefault(k, set()).add(v.strip())
    return out


def assert_keeps(pid, keep):
    caps = caps_of(pid)
    for k in ("CapPrm", "CapEff", "CapBnd"):
        assert caps[k] == {frozenset(keep)}, (k, caps[k])
    assert caps["CapInh"] == {frozenset()} and caps["CapAmb"] == {frozenset()}
    assert caps["NoNewPrivs"] == {"1"}


def hold_both_ways(base, event_id, seats, udp_host="127.0.0.1"):
    s = new_session(base)
    r = requests.post(base + "/api/reservations", headers=auth(s["token"]), timeout=5,
                      json={"eventId": event_id, "seatIds": [seats[0]]})
    assert r.status_code == 201, r.text
    assert udp("HOLD", event_id, seats[1], s["token"], host=udp_host)["status"] == "OK"
    held = requests.get(base + "/api/reservations", headers=auth(s["token"]), timeout=5)
    assert sorted(h["seatId"] for h in held.json()) == sorted(seats[:2])


@pytest.fixture
def own_ticketd(ticketd):
    """Stops the shared ticketd for a test that runs its own, and restarts it."""
    ticketd.stop()
    started = []

    def run(*extra, name="ticketd-priv", wait=True):
        d = Ticketd(extra_args=extra, name=name)
        started.append(d)
        if wait:
            d.start()
        return d
    try:
        yield run
    finally:
        for d in started:
            d.stop()
        ticketd.start()


def test_socket_door_keeps_no_capability_and_holds_work(ticketd, api, arena):
    assert_keeps(ticketd.proc.pid, set())
    hold_both_ways(api.base, arena.event_id, arena.take(2))


def test_bpf_table_keeps_no_capability_and_a_password_flag_is_hidden(own_ticketd, arena):
    d = own_ticketd("--hold-path", "auto", "--db-password", "ticket")
    assert any("seat table: bpf backend" in x["msg"] for x in d.log_lines())
    assert_keeps(d.proc.pid, set())
    hold_both_ways(d.base, arena.event_id, arena.take(2))
    with open(f"/proc/{d.proc.pid}/cmdline", "rb") as f:
        args = f.read().split(b"\0")
    assert args[args.index(b"--db-password") + 1] == b"xxxxxx"
    assert any(x["level"] == "warn" and "TICKETD_DB_PASSWORD" in x["msg"]
               for x in d.log_lines())


@pytest.fixture
def netns():
    """A namespace of this test's own (names and subnet from the UDP port,
    so parallel runs on other ports do not collide), torn down after."""
    n = PORTS["udp"] % 250
    env = dict(os.environ, TKT_NETNS=f"pgx{n}", TKT_HOST_IF=f"pgx{n}h",
               TKT_NS_IF=f"pgx{n}n", TKT_HOST_ADDR=f"10.213.{n}.1/24",
               TKT_NS_ADDR=f"10.213.{n}.2/24", TKT_HOST_ADDR6=f"fd13:{n:x}::1/64",
               TKT_NS_ADDR6=f"fd13:{n:x}::2/64")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    netns_sh = os.path.join(root, "infra", "netns.sh")
    if subprocess.run(["bash", netns_sh, "up"], env=env, capture_output=True,
                      timeout=60).returncode:
        pytest.skip("cannot create a network namespace here")
    try:
        yield env
    finally:
        subprocess.run(["bash", netns_sh, "down"], env=env, capture_output=True, timeout=60)


def test_xdp_door_keeps_only_what_detaching_needs(own_ticketd, netns, arena):
    ns, ns_if, host_if = netns["TKT_NETNS"], netns["TKT_NS_IF"], netns["TKT_HOST_IF"]
    d = own_ticketd("--hold-path", "xdp", "--xdp-netns", ns, "--xdp-iface", ns_if,
                    "--xdp-peer-iface", host_if)
    assert_keeps(d.proc.pid, XDP_NETNS_KEEPS)
    hold_both_ways(d.base, arena.event_id, arena.take(2),
                   udp_host=netns["TKT_NS_ADDR"].split("/")[0])
    link = subprocess.run(["ip", "-n", ns, "link", "show", ns_if], capture_output=True,
                          text=True, timeout=10).stdout
    assert "prog/xdp" in link
    assert d.stop() == 0
    link = subprocess.run(["ip", "-n", ns, "link", "show", ns_if], capture_output=True,
                          text=True, timeout=10).stdout
    assert "prog/xdp" not in link, "XDP still attached after stop: " + link



def test_xdp_in_its_own_namespace_needs_no_sys_admin_and_a_crash_detaches(own_ticketd, netns):
    # the host end of the test veth, in ticketd's own namespace: no setns
    host_if = netns["TKT_HOST_IF"]
    d = own_ticketd("--hold-path", "xdp", "--xdp-iface", host_if)
    assert_keeps(d.proc.pid, XDP_KEEPS)
    link = subprocess.run(["ip", "link", "show", host_if], capture_output=True, text=True,
                          timeout=10).stdout
    assert "prog/xdp" in link, link
    # the program hangs on ticketd's link: killed, nothing is left answering
    d.proc.kill()
    d.proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        link = subprocess.run(["ip", "link", "show", host_if], capture_output=True,
                              text=True, timeout=10).stdout
        if "prog/xdp" not in link:
            break
        time.sleep(0.1)
    assert "prog/xdp" not in link, "XDP still attached after ticketd was killed: " + link


def refused(run, *extra, name):
    d = run(*extra, name=name, wait=False)
    with pytest.raises(RuntimeError):
        d.start(timeout=20)
    return d.log_tail(50)


@pytest.mark.parametrize("owner,mode,says", [
    (NOBODY, 0o700, f"is owned by uid {NOBODY}, not by this process"),
    (0, 0o770, "has mode 0770 (writable by group or others)"),
])
def test_pin_dir_someone_else_controls_is_refused(own_ticketd, owner, mode, says):
    pin = PIN_DIR + "-foreign"
    shutil.rmtree(pin, ignore_errors=True)
    os.mkdir(pin)
    try:
        os.chown(pin, owner, owner)
        os.chmod(pin, mode)
        tail = refused(own_ticketd, "--hold-path", "auto", "--pin-dir", pin,
                       name="ticketd-pin-refused")
        assert f"pin_dir: {pin} {says}" in tail, tail
        assert os.listdir(pin) == []  # nothing pinned in it
    finally:
        shutil.rmtree(pin, ignore_errors=True)


def test_new_pin_dir_is_private(own_ticketd):
    pin = PIN_DIR + "-fresh"
    shutil.rmtree(pin, ignore_errors=True)
    try:
        own_ticketd("--hold-path", "auto", "--pin-dir", pin).stop()
        st = os.stat(pin)
        assert st.st_uid == 0 and st.st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(pin, ignore_errors=True)


def test_state_dir_owned_by_another_user_is_refused(own_ticketd):
    state = os.path.join(RUN_DIR, "ticketd-foreign")
    shutil.rmtree(state, ignore_errors=True)
    os.mkdir(state, 0o700)
    try:
        os.chown(state, NOBODY, NOBODY)
        tail = refused(own_ticketd, "--state-dir", state, name="ticketd-state-refused")
        assert f"state_dir: {state} is owned by uid {NOBODY}" in tail, tail
        assert not os.path.exists(os.path.join(state, "token.key"))
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_readable_token_key_is_refused(own_ticketd):
    state = os.path.join(RUN_DIR, "ticketd-key")
    shutil.rmtree(state, ignore_errors=True)
    try:
        own_ticketd("--state-dir", state, name="ticketd-key").stop()
        key = os.path.join(state, "token.key")
        assert os.stat(key).st_mode & 0o777 == 0o600
        os.chmod(key, 0o644)
        tail = refused(own_ticketd, "--state-dir", state, name="ticketd-key-refused")
        assert "token key: " + key + " has mode 0644" in tail, tail
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_database_user_has_only_schema_grants(ticketd):
    grants = mariadb_sql("SHOW GRANTS FOR CURRENT_USER").splitlines()
    assert grants
    for g in grants:
        m = re.match(r"GRANT (.+) ON (\S+) TO ", g)
        assert m, g
        privs, on = m.group(1), m.group(2)
        if on == "*.*":
            assert privs == "USAGE", g  # no global privilege at all
        else:
            assert on == "`ticketing`.*", g
            assert set(p.strip() for p in privs.split(",")) <= APP_GRANTS, g
        assert "WITH GRANT OPTION" not in g


def test_mariadbd_does_not_run_as_root():
    with open(os.path.join(RUN_DIR, "pids", "mariadb.pid")) as f:
        pid = int(f.read().strip())
    with open(f"/proc/{pid}/status") as f:
        uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
    assert all(int(u) != 0 for u in uids), uids


def stack_pids(ticketd, paymentd):
    pids = {ticketd.proc.pid, paymentd.proc.pid}
    pid_dir = os.path.join(RUN_DIR, "pids")
    for name in os.listdir(pid_dir):
        if name.endswith(".pid"):
            with open(os.path.join(pid_dir, name)) as f:
                text = f.read().strip()
            if text.isdigit():
                pids.add(int(text))
    return pids


def test_no_password_in_process_arguments(ticketd, paymentd):
    # A database client of the tests runs meanwhile: its arguments count too.
    t = threading.Thread(target=mariadb_sql, args=("SELECT SLEEP(1)",))
    t.start()
    try:
        time.sleep(0.5)
        ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True,
                            timeout=10).stdout.splitlines()
    finally:
        t.join()
    ours = stack_pids(ticketd, paymentd)
    rows = [line.strip().split(None, 1) for line in ps if line.strip()]
    mine = [args for pid, *rest in rows for args in rest
            if int(pid) in ours or ("mariadb " in args and f"-P {PORTS['mariadb']}" in args)]
    assert any("SLEEP" in a for a in mine), "the client was not seen"
    assert len(mine) >= 4
    for args in mine:
        assert not re.search(r"(^|\s)(-p\S|--password|--db[-_]password|requirepass)", args), args
